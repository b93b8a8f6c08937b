"""Transcript normalisation, shared by data preparation (training texts and references).

Why: WERs are only comparable with upstream OWSM's (scored with Whisper's text normaliser:
lower-case, punctuation removed) if references and hypotheses live in the same text space.
We put *training* texts in that space already, so the model learns to emit normalised text,
and references (data/<test>/text) are normalised the same way; applying
:func:`normalize_text` to a hypothesis is therefore a no-op up to model errors (it is
idempotent), and a scorer may apply it to both sides safely.

Rules (all corpora, both languages):
  1. Unicode NFKC (folds full-width forms, ligatures, non-breaking spaces);
  2. lower-case (``str.lower``; letters with diacritics are kept: ``perché``, ``città``);
  3. apostrophes (``'``, ``’``, ``‘``, ``ʼ``) become ``'`` and are kept *between letters*
     (``don't``, ``l'uomo``, ``dell'anno``), dropped elsewhere (quotes);
  4. every other punctuation or symbol character (Unicode categories P* and S*, e.g.
     ``. , ; : ! ? " - ( ) [ ] % & $``) becomes a space;
  5. runs of white space collapse to one space; leading/trailing space is removed.
Digits are kept as digits (no number spelling, unlike Whisper's English normaliser).
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_SPACES = re.compile(r"\s+")
# An apostrophe survives only with a letter on both sides.
_LONE_APOSTROPHE = re.compile(r"(?<![^\W\d_])'|'(?![^\W\d_])")


def _drop_punctuation(text: str) -> str:
    return "".join(
        " " if (unicodedata.category(ch)[0] in "PS" and ch != "'") else ch for ch in text
    )


def normalize_text(text: str) -> str:
    """Return ``text`` normalised by the rules in this module's docstring (idempotent)."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    text = _drop_punctuation(text)
    text = _LONE_APOSTROPHE.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
