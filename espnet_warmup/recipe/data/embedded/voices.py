"""Voices, voice variants and speaker ids of the synthetic corpus.

A *speaker* is an espeak-ng voice (a language/accent, e.g. ``en-us``) combined with a voice *variant*
(``+m1``, ``+f3``, ``+klatt`` ...: different pitch range, formants, breathiness or synthesizer). Train,
dev and test use disjoint variant sets, so dev and test speakers are unseen in training, as with the
held-out speakers of real corpora. Speaker id = ``<voice without dashes>-<variant>``, e.g. ``enus-m1``;
utterance ids start with it, and because ``-`` sorts before every letter and digit, sorting utterance
ids and sorting speaker ids agree (Kaldi's requirement on utt2spk/spk2utt).
"""

from __future__ import annotations

import functools
import re
import subprocess

#: espeak-ng voices per language (3 English accents; espeak-ng has one non-MBROLA Italian voice).
DEFAULT_VOICES = {"en": ["en-us", "en-gb", "en-gb-scotland"], "it": ["it"]}
#: Variant sets per split. Held-out ones lie inside the range of the training ones (pitch, formants).
DEFAULT_VARIANTS = {
    "train": ["m1", "m2", "m4", "f1", "f3"],
    "dev": ["m6", "f2"],
    "test": ["m3", "f4"],
}
LANGUAGES = ("en", "it")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def speaker_id(voice: str, variant: str) -> str:
    """Kaldi speaker id of ``voice+variant``: ``en-gb-scotland``, ``m3`` -> ``engbscotland-m3``."""
    return f"{voice.replace('-', '')}-{variant}"


def _run_espeak(args: list[str]) -> str:
    return subprocess.run(["espeak-ng", *args], capture_output=True, text=True, check=True).stdout


@functools.lru_cache(maxsize=None)
def installed_voices() -> frozenset[str]:
    """Language names espeak-ng accepts with ``-v`` (the "Language" column of ``espeak-ng --voices``)."""
    names = set()
    for line in _run_espeak(["--voices"]).splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 2:
            names.add(fields[1])
    return frozenset(names)


@functools.lru_cache(maxsize=None)
def installed_variants() -> frozenset[str]:
    """Variant names espeak-ng accepts after ``+`` (file names under ``voices/!v``)."""
    names = set()
    for line in _run_espeak(["--voices=variant"]).splitlines()[1:]:
        for field in line.split():
            if field.startswith("!v/"):
                names.add(field[3:])
    return frozenset(names)


def check_voices(voices: dict[str, list[str]], variants: dict[str, list[str]]) -> None:
    """Raise ValueError if a voice/variant is unknown to espeak-ng, or a held-out variant is trained on.

    espeak-ng itself does not fail on an unknown variant (it silently uses the plain voice), so we check
    names here; otherwise a typo would quietly put training speakers into the test set.
    """
    known_voices, known_variants = installed_voices(), installed_variants()
    for lang, names in voices.items():
        if not names:
            raise ValueError(f"no espeak-ng voice given for language {lang!r}")
        for name in names:
            if name not in known_voices:
                raise ValueError(f"unknown espeak-ng voice {name!r} for language {lang!r}; "
                                 f"see `espeak-ng --voices={lang}`")
    for split, names in variants.items():
        if not names:
            raise ValueError(f"no voice variant given for {split}")
        for name in names:
            if name not in known_variants or not _NAME_RE.match(name):
                raise ValueError(f"unknown espeak-ng voice variant {name!r} for {split}; "
                                 "see `espeak-ng --voices=variant`")
    for held_out in ("dev", "test"):
        shared = sorted(set(variants.get(held_out, [])) & set(variants.get("train", [])))
        if shared:
            raise ValueError(f"{held_out} voice variants must be unseen in training, but "
                             f"{', '.join(shared)} is in both --train_variants and --{held_out}_variants")
