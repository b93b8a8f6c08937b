"""Reading Kaldi data files and turning transcripts into scoring tokens.

What: :func:`read_kaldi_map` reads ``text``/``utt2spk``/``utt2lang``-style files
(``<utt-id> <value...>``); :func:`prepare` applies token removal and a cleaner;
:func:`word_tokens` / :func:`char_tokens` give the tokens sclite would align.

Why these rules:
- Kaldi ``text`` lines are ``<utt-id>`` followed by the transcript, which may be empty
  (ESPnet writes a bare ``<utt-id>`` when a decoder emits nothing), so a line with only
  an id is a valid empty transcript.
- Language tokens (``<en>``, ``<it>``: FAMA/OWSM-style bilingual targets) are removed
  from both sides *before* cleaning, as whole words, so they never count as errors.
- CER tokens follow ESPnet's ``--token_type char``: every character is a token and the
  space between words becomes the visible token ``<space>`` (so the ``Wrd`` column of
  a CER table counts characters including word boundaries, as in ESPnet recipes).
  Runs of whitespace are first collapsed to one space, so removing a language token
  never leaves a double boundary.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from espnet_warmup.recipe.datadir import DataDirError, read_kv

#: Cleaners accepted by ``--cleaner`` (``none`` keeps the text as is).
CLEANERS = ("none", "lower_punct")

#: The word-boundary token of ESPnet's char tokenizer.
SPACE_TOKEN = "<space>"


class ScoringInputError(ValueError):
    """Bad scoring input (file content or options); the message names the file/key."""


def read_kaldi_map(path: str | Path, what: str, allow_empty_value: bool = True) -> dict[str, str]:
    """Read ``<id> <value>`` lines into a dict (value = rest of the line, stripped): the data-dir
    module's strict reader (:func:`espnet_warmup.recipe.datadir.read_kv`), its errors as ours.

    ``what`` names the file's role in error messages (``ref``, ``hyp``, ``utt2spk``...).
    Raises ScoringInputError for a missing file, a duplicate id, or (when
    ``allow_empty_value`` is False) an id without a value. Blank lines are skipped.
    """
    try:
        return dict(read_kv(path, what=what, allow_empty_value=allow_empty_value))
    except DataDirError as e:
        raise ScoringInputError(str(e)) from None


def remove_tokens(text: str, tokens: frozenset[str] | set[str]) -> str:
    """Drop whole-word occurrences of ``tokens`` and collapse whitespace."""
    return " ".join(w for w in text.split() if w not in tokens)


def first_token_in(text: str, tokens: frozenset[str] | set[str]) -> str | None:
    """The first word of ``text`` that is one of ``tokens`` (e.g. the language tag), or None."""
    for w in text.split():
        if w in tokens:
            return w
    return None


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def clean_lower_punct(text: str) -> str:
    """Lower-case and replace punctuation (Unicode category P*) with a space.

    An apostrophe between two letters (``l'uomo``, ``don't``) is kept, as the
    straight ``'``, because it is part of the word in English and Italian.
    """
    text = text.lower()
    chars: list[str] = []
    for k, ch in enumerate(text):
        if ch in "'\u2019" and 0 < k < len(text) - 1 and text[k - 1].isalpha() and text[k + 1].isalpha():
            chars.append("'")
        elif _is_punct(ch):
            chars.append(" ")
        else:
            chars.append(ch)
    return " ".join("".join(chars).split())


def clean(text: str, cleaner: str) -> str:
    """Apply the named cleaner (one of :data:`CLEANERS`); always collapses whitespace."""
    if cleaner == "none":
        return " ".join(text.split())
    if cleaner == "lower_punct":
        return clean_lower_punct(text)
    raise ScoringInputError(f"--cleaner must be one of {', '.join(CLEANERS)}, got {cleaner!r}")


def prepare(text: str, remove: frozenset[str] | set[str], cleaner: str) -> str:
    """Token removal, then cleaning: the transcript exactly as it will be scored."""
    return clean(remove_tokens(text, remove), cleaner)


def word_tokens(text: str) -> list[str]:
    """Whitespace-separated words."""
    return text.split()


def char_tokens(text: str) -> list[str]:
    """Characters, with each word boundary as :data:`SPACE_TOKEN` (ESPnet's char tokens)."""
    return [SPACE_TOKEN if ch == " " else ch for ch in " ".join(text.split())]
