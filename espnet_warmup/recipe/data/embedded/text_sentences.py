"""Text generator of the ``sentences`` corpus: seeded English and Italian sentences, ~250 words each.

A richer task for longer runs than the default ``digits`` corpus (see docs/corpus.md): utterances are
~8-12 words (~3 s), e.g. "the old farmer carried a heavy basket to the market every morning" /
"il vecchio contadino porta una borsa pesante al mercato ogni mattina". The sentences follow one
subject-verb-object template with optional adjectives, a place and a time; Italian nouns carry their
gender so articles, adjectives and articulated prepositions agree. Lower-case ASCII, no punctuation.
"""

from __future__ import annotations

import random

# ---------------------------------------------------------------- English
_EN_SUBJECTS = (
    "farmer teacher doctor student child driver baker painter singer sailor soldier nurse pilot writer "
    "neighbor stranger girl boy woman man king queen dog cat horse bird fox wolf bear rabbit mouse lion "
    "tiger monkey friend brother sister mother father uncle cousin clerk guard"
).split()
_EN_OBJECTS = (
    "basket letter book bottle box apple bread cake chair table lamp cup plate knife key coin ring hat "
    "coat shoe bag ball stone flower tree candle picture map clock radio phone ticket newspaper blanket "
    "pillow bucket rope ladder hammer bicycle wagon boat kite drum guitar violin umbrella mirror window "
    "door bell jar bowl spoon fork pencil paper card gift"
).split()
_EN_ADJECTIVES = (
    "old young small big heavy light red green blue yellow white black brown warm cold new clean dirty "
    "quiet noisy happy sad strange tall short wooden golden broken empty full bright dark tiny huge "
    "lovely ugly gentle angry tired hungry clever rich poor lucky"
).split()
_EN_VERBS = (
    "carried found lost painted cleaned opened closed dropped moved pushed pulled bought sold washed "
    "watched touched held kept took brought left hid broke fixed filled emptied lifted placed threw "
    "caught wanted needed liked loved hated showed gave sent"
).split()
_EN_PLACES = (
    "market station garden kitchen river bridge church school library hospital harbor forest village "
    "city park beach house barn office castle tower island mountain valley field road street"
).split()
_EN_PREPOSITIONS = "to from near behind inside outside into across".split()
_EN_TIMES = [
    ["every", "morning"], ["every", "evening"], ["every", "day"], ["last", "night"], ["last", "week"],
    ["yesterday"], ["today"], ["at", "noon"], ["at", "midnight"], ["on", "sunday"], ["on", "monday"],
    ["on", "friday"], ["in", "winter"], ["in", "summer"], ["in", "spring"], ["before", "dinner"],
    ["after", "lunch"], ["once", "again"],
]
_EN_ADVERBS = "quickly slowly carefully quietly suddenly happily sadly gladly finally".split()
_EN_DETERMINERS = "the a this that my his her our their".split()

# ---------------------------------------------------------------- Italian
# Nouns as (word, gender). Only nouns that take "il"/"la" (no elision, no "lo"), so agreement is regular.
_IT_SUBJECTS = [
    ("contadino", "m"), ("maestro", "m"), ("dottore", "m"), ("bambino", "m"), ("pittore", "m"),
    ("cantante", "m"), ("marinaio", "m"), ("soldato", "m"), ("pilota", "m"), ("vicino", "m"),
    ("ragazzo", "m"), ("re", "m"), ("cane", "m"), ("gatto", "m"), ("cavallo", "m"), ("lupo", "m"),
    ("coniglio", "m"), ("topo", "m"), ("leone", "m"), ("fratello", "m"), ("padre", "m"), ("cugino", "m"),
    ("fornaio", "m"), ("postino", "m"), ("ragazza", "f"), ("donna", "f"), ("regina", "f"), ("maestra", "f"),
    ("sorella", "f"), ("madre", "f"), ("nonna", "f"), ("zia", "f"), ("volpe", "f"), ("tigre", "f"),
    ("scimmia", "f"), ("cugina", "f"), ("guardia", "f"), ("dottoressa", "f"), ("pittrice", "f"), ("bambina", "f"),
]
_IT_OBJECTS = [
    ("cesto", "m"), ("libro", "m"), ("coltello", "m"), ("piatto", "m"), ("tavolo", "m"), ("cappello", "m"),
    ("cappotto", "m"), ("pallone", "m"), ("sasso", "m"), ("fiore", "m"), ("quadro", "m"), ("biglietto", "m"),
    ("giornale", "m"), ("cuscino", "m"), ("secchio", "m"), ("martello", "m"), ("tamburo", "m"),
    ("violino", "m"), ("cucchiaio", "m"), ("regalo", "m"), ("pane", "m"), ("bicchiere", "m"),
    ("telefono", "m"), ("vaso", "m"), ("lettera", "f"), ("bottiglia", "f"), ("scatola", "f"), ("mela", "f"),
    ("torta", "f"), ("sedia", "f"), ("lampada", "f"), ("tazza", "f"), ("chiave", "f"), ("moneta", "f"),
    ("borsa", "f"), ("pietra", "f"), ("candela", "f"), ("mappa", "f"), ("coperta", "f"), ("corda", "f"),
    ("scala", "f"), ("bicicletta", "f"), ("barca", "f"), ("chitarra", "f"), ("finestra", "f"), ("porta", "f"),
    ("campana", "f"), ("forchetta", "f"), ("matita", "f"), ("carta", "f"), ("radio", "f"), ("palla", "f"),
]
# Adjectives in masculine singular; those ending in -o change to -a for feminine nouns, -e ones do not.
_IT_ADJECTIVES = (
    "vecchio piccolo pesante leggero rosso nero bianco giallo nuovo pulito sporco tranquillo strano alto "
    "basso rotto vuoto pieno scuro bello brutto stanco ricco povero buono caldo freddo grande verde "
    "veloce felice triste forte dolce gentile luminoso prezioso"
).split()
_IT_VERBS = (
    "porta trova perde dipinge pulisce apre chiude lascia sposta spinge tira compra vende lava guarda "
    "tocca tiene prende nasconde rompe ripara riempie svuota solleva appoggia lancia vuole cerca ama "
    "mostra regala manda aspetta"
).split()
_IT_PLACES = [
    ("mercato", "m"), ("giardino", "m"), ("fiume", "m"), ("ponte", "m"), ("villaggio", "m"), ("parco", "m"),
    ("castello", "m"), ("campo", "m"), ("porto", "m"), ("bosco", "m"), ("paese", "m"), ("negozio", "m"),
    ("stazione", "f"), ("cucina", "f"), ("chiesa", "f"), ("scuola", "f"), ("biblioteca", "f"),
    ("piazza", "f"), ("spiaggia", "f"), ("casa", "f"), ("torre", "f"), ("montagna", "f"), ("valle", "f"),
    ("strada", "f"), ("citta", "f"), ("foresta", "f"),
]
# Articulated prepositions by gender: a+il = al, in+la = nella, ...
_IT_PREPOSITIONS = {"a": ("al", "alla"), "in": ("nel", "nella"), "da": ("dal", "dalla"),
                    "verso": ("verso il", "verso la"), "vicino": ("vicino al", "vicino alla")}
_IT_TIMES = [
    ["ogni", "mattina"], ["ogni", "sera"], ["ogni", "giorno"], ["oggi"], ["domani"], ["stasera"],
    ["a", "mezzogiorno"], ["a", "mezzanotte"], ["di", "domenica"], ["di", "lunedi"], ["di", "venerdi"],
    ["in", "inverno"], ["in", "estate"], ["in", "primavera"], ["prima", "di", "cena"],
    ["dopo", "pranzo"], ["ancora", "una", "volta"], ["spesso"], ["sempre"],
]
_IT_ADVERBS = "piano lentamente velocemente attentamente subito finalmente volentieri".split()


def _en_noun_phrase(rng: random.Random, nouns: list[str], adjective_p: float) -> list[str]:
    det = rng.choice(_EN_DETERMINERS)
    words = [det]
    if rng.random() < adjective_p:
        words.append(rng.choice(_EN_ADJECTIVES))
    words.append(rng.choice(nouns))
    if words[0] == "a" and words[1][0] in "aeiou":
        words[0] = "the"  # keep "a" only before consonants ("an" is not in the vocabulary)
    return words


def _english(rng: random.Random) -> list[str]:
    words = _en_noun_phrase(rng, _EN_SUBJECTS, 0.5)
    if rng.random() < 0.25:
        words.append(rng.choice(_EN_ADVERBS))
    words.append(rng.choice(_EN_VERBS))
    words += _en_noun_phrase(rng, _EN_OBJECTS, 0.6)
    if rng.random() < 0.7:
        words += [rng.choice(_EN_PREPOSITIONS), "the", rng.choice(_EN_PLACES)]
    if rng.random() < 0.6:
        words += rng.choice(_EN_TIMES)
    return words


def _it_adjective(rng: random.Random, gender: str) -> str:
    adjective = rng.choice(_IT_ADJECTIVES)
    return adjective[:-1] + "a" if gender == "f" and adjective.endswith("o") else adjective


def _it_noun_phrase(rng: random.Random, nouns: list[tuple[str, str]], adjective_p: float,
                    definite: bool) -> list[str]:
    noun, gender = rng.choice(nouns)
    if definite:
        article = "il" if gender == "m" else "la"
    else:
        article = "un" if gender == "m" else "una"
    words = [article, noun]
    if rng.random() < adjective_p:
        words.append(_it_adjective(rng, gender))  # Italian adjectives mostly follow the noun
    return words


def _italian(rng: random.Random) -> list[str]:
    words = _it_noun_phrase(rng, _IT_SUBJECTS, 0.5, definite=True)
    words.append(rng.choice(_IT_VERBS))
    words += _it_noun_phrase(rng, _IT_OBJECTS, 0.6, definite=rng.random() < 0.5)
    if rng.random() < 0.25:
        words.append(rng.choice(_IT_ADVERBS))
    if rng.random() < 0.7:
        place, gender = rng.choice(_IT_PLACES)
        masculine, feminine = _IT_PREPOSITIONS[rng.choice(sorted(_IT_PREPOSITIONS))]
        words += (masculine if gender == "m" else feminine).split() + [place]
    if rng.random() < 0.6:
        words += rng.choice(_IT_TIMES)
    return words


def vocabulary(lang: str) -> set[str]:
    """All word types the generator can emit for ``lang`` ("en" or "it")."""
    if lang == "en":
        words = set(_EN_SUBJECTS + _EN_OBJECTS + _EN_ADJECTIVES + _EN_VERBS + _EN_PLACES + _EN_PREPOSITIONS
                    + _EN_ADVERBS + _EN_DETERMINERS)
        return words | {w for t in _EN_TIMES for w in t}
    if lang == "it":
        words = {n for n, _ in _IT_SUBJECTS + _IT_OBJECTS + _IT_PLACES} | set(_IT_VERBS + _IT_ADVERBS)
        words |= {"il", "la", "un", "una"} | {w for t in _IT_TIMES for w in t}
        words |= {w for pair in _IT_PREPOSITIONS.values() for p in pair for w in p.split()}
        words |= set(_IT_ADJECTIVES) | {a[:-1] + "a" for a in _IT_ADJECTIVES if a.endswith("o")}
        return words
    raise ValueError(f"unknown language {lang!r}; allowed values: en, it")


def generate(rng: random.Random, lang: str) -> list[str]:
    """One sentence's words in ``lang`` ("en" or "it"), drawn from the utterance's own ``rng``."""
    if lang == "en":
        return _english(rng)
    if lang == "it":
        return _italian(rng)
    raise ValueError(f"unknown language {lang!r}; allowed values: en, it")
