"""Text generator of the default ``digits`` corpus: connected digit strings and short commands.

Why this task: measured on the 2-core CPU target, a 3M-parameter Conformer reaches 5-8% WER on held-out
voices after ~600 updates on this vocabulary (93 word types, ~1.6 s utterances), while a rich sentence
corpus stays above 40% WER in the same time (see docs/corpus.md). The warmup comparison needs models
that actually converge inside the time budget, so this small-vocabulary task is the default.

Vocabulary per language: the ten digits plus 37 command words (12 verbs, 12 objects, 13 particles).
The two languages share exactly one word type ("zero"), so the corpus has 10 + 37 + 10 + 37 - 1 = 93
word types. Transcripts are lower-case ASCII with no punctuation, the form the synthesizer speaks.
"""

from __future__ import annotations

import random

DIGITS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "it": ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"],
}

# English command words (37): verbs, objects, particles.
_EN_VERBS = ["turn", "set", "call", "play", "open", "close", "stop", "start", "show", "find", "move", "repeat"]
_EN_OBJECTS = ["light", "music", "door", "window", "radio", "alarm", "timer", "volume", "channel", "map",
               "message", "camera"]
_EN_DIRECTIONS = ["up", "down", "left", "right", "forward", "back"]
_EN_OTHER = ["on", "off", "the", "to", "please", "yes", "no"]

# Italian command words (37). Objects carry their article (all take "il" or "la", no elision needed).
_IT_VERBS = ["accendi", "spegni", "imposta", "chiama", "suona", "apri", "chiudi", "ferma", "avvia", "mostra",
             "trova", "sposta"]
_IT_OBJECTS = [("la", "luce"), ("la", "musica"), ("la", "porta"), ("la", "finestra"), ("il", "televisore"),
               ("la", "sveglia"), ("il", "telefono"), ("il", "canale"), ("la", "mappa"), ("il", "messaggio"),
               ("la", "telecamera"), ("la", "lavatrice")]
_IT_DIRECTIONS = ["sopra", "sotto", "sinistra", "destra", "avanti", "indietro"]
_IT_OTHER = ["a", "per", "favore", "si", "ancora"]  # with "la" and "il": 13 particles

COMMAND_WORDS = {
    "en": _EN_VERBS + _EN_OBJECTS + _EN_DIRECTIONS + _EN_OTHER,
    "it": _IT_VERBS + [noun for _, noun in _IT_OBJECTS] + _IT_DIRECTIONS + _IT_OTHER + ["la", "il"],
}

# Share of utterances that are plain digit strings (the rest are commands, many with digits in them).
DIGIT_STRING_SHARE = 0.5


def vocabulary(lang: str) -> set[str]:
    """All word types the generator can emit for ``lang`` ("en" or "it")."""
    return set(DIGITS[lang]) | set(COMMAND_WORDS[lang])


def _digit_string(rng: random.Random, lang: str, low: int, high: int) -> list[str]:
    return [rng.choice(DIGITS[lang]) for _ in range(rng.randint(low, high))]


def _english_command(rng: random.Random) -> list[str]:
    kind = rng.randrange(6)
    if kind == 0:  # turn on the light
        words = ["turn", rng.choice(["on", "off"]), "the", rng.choice(_EN_OBJECTS)]
    elif kind == 1:  # set the volume to four two
        words = ["set", "the", rng.choice(_EN_OBJECTS), "to"] + _digit_string(rng, "en", 1, 2)
    elif kind == 2:  # call three one four five
        words = ["call"] + _digit_string(rng, "en", 3, 4)
    elif kind == 3:  # move left three
        words = [rng.choice(["move", "repeat"]), rng.choice(_EN_DIRECTIONS)] + _digit_string(rng, "en", 0, 1)
    elif kind == 4:  # open the window
        verb = rng.choice(["play", "open", "close", "stop", "start", "show", "find"])
        words = [verb, "the", rng.choice(_EN_OBJECTS)]
    else:  # yes / no answers
        words = [rng.choice(["yes", "no"])] + _digit_string(rng, "en", 1, 2)
    if rng.random() < 0.25:
        words = words + ["please"]
    return words


def _italian_command(rng: random.Random) -> list[str]:
    kind = rng.randrange(6)
    article, noun = rng.choice(_IT_OBJECTS)
    if kind == 0:  # accendi la luce
        words = [rng.choice(["accendi", "spegni"]), article, noun]
    elif kind == 1:  # imposta il canale a quattro due
        words = ["imposta", article, noun, "a"] + _digit_string(rng, "it", 1, 2)
    elif kind == 2:  # chiama tre uno quattro cinque
        words = ["chiama"] + _digit_string(rng, "it", 3, 4)
    elif kind == 3:  # sposta sinistra tre / avanti ancora
        words = [rng.choice(["sposta", "ancora"]), rng.choice(_IT_DIRECTIONS)] + _digit_string(rng, "it", 0, 1)
    elif kind == 4:  # apri la finestra
        verb = rng.choice(["suona", "apri", "chiudi", "ferma", "avvia", "mostra", "trova"])
        words = [verb, article, noun]
    else:  # si due
        words = ["si"] + _digit_string(rng, "it", 1, 2)
    if rng.random() < 0.25:
        words = words + ["per", "favore"]
    return words


def generate(rng: random.Random, lang: str) -> list[str]:
    """One utterance's words in ``lang``: a digit string (2-6 digits) or a command.

    ``rng`` is the utterance's own generator, so the text of an utterance does not depend on the others.
    """
    if lang not in DIGITS:
        raise ValueError(f"unknown language {lang!r}; allowed values: {', '.join(sorted(DIGITS))}")
    if rng.random() < DIGIT_STRING_SHARE:
        return _digit_string(rng, lang, 2, 6)
    return _english_command(rng) if lang == "en" else _italian_command(rng)
