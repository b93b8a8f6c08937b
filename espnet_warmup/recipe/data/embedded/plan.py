"""The corpus plan: every utterance's id, speaker, text and synthesis settings, decided before any audio.

Everything is a pure function of (corpus, seed, split, index): each utterance draws from its own
``random.Random`` seeded with a string (stable across Python runs and processes), so a plan does not
depend on ``--nj``, on the order workers finish, or on the sizes of the other splits. Text and audio
settings use separate generators so changing a text rule does not reshuffle voices, and vice versa.

Speakers are assigned round-robin (language alternates en/it, then voice, then variant), so even a
tiny corpus covers both languages and every voice of a split. Dev and test texts are re-drawn until
they differ from every training text (and test from every dev text), so held-out sets measure
recognition of unseen utterances; short commands therefore occur only in training once the training
set has used them all, which shifts held-out sets slightly towards longer digit strings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from typing import Callable

from espnet_warmup.recipe.data.embedded import text_digits, text_sentences
from espnet_warmup.recipe.data.embedded.voices import LANGUAGES, speaker_id

#: corpus name -> text generator (rng, lang) -> words
GENERATORS: dict[str, Callable[[random.Random, str], list[str]]] = {
    "digits": text_digits.generate,
    "sentences": text_sentences.generate,
}
SPLITS = ("train", "dev", "test")
#: The optional adaptation sets (``--num_adapt``, ``--num_adapt_dev``): training and dev data spoken by
#: the *test* speakers, for fine-tuning a model to the voices it is tested on.
ADAPT_SPLITS = ("adapt", "adapt_dev")
#: Bump when text rules or synthesis change, so cached audio and finished data dirs are not reused.
PLAN_VERSION = 2

# Synthesis ranges (espeak-ng defaults: 175 words/min, pitch 50 of 0-99).
RATE_WPM = (140, 200)
PITCH = (30, 70)
SNR_DB = (20.0, 35.0)        # light additive noise
PEAK = (0.3, 0.9)            # output level, as peak amplitude (full scale = 1)
LEAD_SILENCE_S = (0.0, 0.15)  # extra silence before the speech, so onsets are not all aligned
MAX_REDRAWS = 1000


@dataclasses.dataclass(frozen=True)
class PlannedUtterance:
    """One planned utterance (before synthesis). ``words`` exclude the language token (``lang`` holds it)."""

    utt_id: str
    speaker: str
    split: str
    lang: str
    voice: str
    variant: str
    words: tuple[str, ...]
    rate_wpm: int
    pitch: int
    snr_db: float
    peak: float
    lead_silence_s: float
    noise: str          # "white" or "pink"
    noise_seed: int

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def synthesis_key(self) -> str:
        """Short hash of everything that determines the audio; part of the wav name, so a cached wav
        is reused only when it was made with exactly these settings."""
        fields = dataclasses.asdict(self)
        fields.pop("split")
        # The payload keeps the field's first name, so the hashes (and the wav names) stay those of
        # corpora made before the rename to utt_id.
        fields["uttid"] = fields.pop("utt_id")
        payload = json.dumps({"v": PLAN_VERSION, **fields}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:10]


def _speaker(index: int, split: str, voices: dict[str, list[str]], variants: dict[str, list[str]]):
    lang = LANGUAGES[index % len(LANGUAGES)]
    j = index // len(LANGUAGES)
    lang_voices = voices[lang]
    voice = lang_voices[j % len(lang_voices)]
    variant = variants[split][(j // len(lang_voices)) % len(variants[split])]
    return lang, voice, variant


def _draw_words(corpus: str, seed: int, split: str, index: int, lang: str, forbidden: set[str]) -> list[str]:
    rng = random.Random(f"{corpus}/{seed}/{split}/{index}/text")
    for _ in range(MAX_REDRAWS):
        words = GENERATORS[corpus](rng, lang)
        if f"{lang} {' '.join(words)}" not in forbidden:
            return words
    earlier = "dev and test" if split in ADAPT_SPLITS else "training"
    raise ValueError(f"could not draw a text for the {split} set unseen in {earlier} after {MAX_REDRAWS} tries; "
                     f"the {corpus!r} text generator has too few distinct texts for this corpus size")


def plan_split(corpus: str, seed: int, split: str, size: int, voices: dict[str, list[str]],
               variants: dict[str, list[str]], forbidden: set[str] = frozenset()) -> list[PlannedUtterance]:
    """Plan ``size`` utterances of ``split``, sorted by utterance id (C order)."""
    if corpus not in GENERATORS:
        raise ValueError(f"unknown corpus {corpus!r}; allowed values: {', '.join(GENERATORS)}")
    width = max(5, len(str(size)))
    utterances = []
    for index in range(size):
        lang, voice, variant = _speaker(index, split, voices, variants)
        words = _draw_words(corpus, seed, split, index, lang, forbidden)
        rng = random.Random(f"{corpus}/{seed}/{split}/{index}/audio")
        spk = speaker_id(voice, variant)
        utterances.append(PlannedUtterance(
            utt_id=f"{spk}-{split}{index:0{width}d}", speaker=spk, split=split, lang=lang, voice=voice,
            variant=variant, words=tuple(words), rate_wpm=rng.randint(*RATE_WPM), pitch=rng.randint(*PITCH),
            snr_db=round(rng.uniform(*SNR_DB), 2), peak=round(rng.uniform(*PEAK), 3),
            lead_silence_s=round(rng.uniform(*LEAD_SILENCE_S), 3), noise=rng.choice(["white", "pink"]),
            noise_seed=rng.getrandbits(63)))
    return sorted(utterances, key=lambda u: u.utt_id)


def plan_corpus(corpus: str, seed: int, sizes: dict[str, int], voices: dict[str, list[str]],
                variants: dict[str, list[str]]) -> dict[str, list[PlannedUtterance]]:
    """Plan train, dev and test; held-out texts avoid training texts (test also avoids dev texts)."""
    plans: dict[str, list[PlannedUtterance]] = {}
    seen: set[str] = set()
    for split in SPLITS:
        # Train may repeat its own texts (different speakers); held-out sets must not repeat earlier sets.
        forbidden = frozenset(seen) if split != "train" else frozenset()
        plans[split] = plan_split(corpus, seed, split, sizes[split], voices, variants, forbidden)
        seen |= {f"{u.lang} {u.text}" for u in plans[split]}
    return plans


def plan_adaptation(corpus: str, seed: int, sizes: dict[str, int], voices: dict[str, list[str]],
                    variants: dict[str, list[str]], plans: dict[str, list[PlannedUtterance]]
                    ) -> dict[str, list[PlannedUtterance]]:
    """Plan the adaptation sets (``sizes`` keyed by ADAPT_SPLITS; 0 or absent: that set is empty): the
    test speakers (``variants["test"]``, every voice) saying texts unseen in dev and test, and, for
    ``adapt_dev``, unseen in ``adapt`` too, so adapting to a speaker never trains on its test texts.
    ``plans`` is the corpus's ``plan_corpus``; the adaptation sets do not change it."""
    speakers = {split: variants["test"] for split in ADAPT_SPLITS}
    seen = {f"{u.lang} {u.text}" for split in ("dev", "test") for u in plans[split]}
    out: dict[str, list[PlannedUtterance]] = {}
    for split in ADAPT_SPLITS:
        out[split] = plan_split(corpus, seed, split, sizes.get(split, 0), voices, speakers, frozenset(seen))
        seen |= {f"{u.lang} {u.text}" for u in out[split]}
    return out
