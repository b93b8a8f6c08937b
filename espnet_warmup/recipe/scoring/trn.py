"""sclite's ``trn`` transcript format, as ESPnet's stage 13 writes it.

One line per utterance::

    <space-separated tokens>\\t(<spk>-<utt-id>)

ESPnet builds it with ``paste`` (hence the tab) from the tokenized text and
``utt2spk`` (``(spk-utt)``), and runs ``sclite -r ref.trn trn -h hyp.trn trn -i rm``.
An empty transcript is a line starting with the tab. Files written here can be
handed to a real sclite unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_write_text

_TRN_LINE = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")


def trn_id(spk: str, utt: str) -> str:
    """The sclite utterance id ``spk-utt`` (Kaldi ids usually start with the speaker already)."""
    return f"{spk}-{utt}"


def format_trn_line(tokens: Iterable[str], spk: str, utt: str) -> str:
    """``tokens<TAB>(spk-utt)`` without the newline."""
    return " ".join(tokens) + "\t(" + trn_id(spk, utt) + ")"


def write_trn(path: str | Path, rows: Iterable[tuple[str, str, list[str]]]) -> None:
    """Write ``(spk, utt, tokens)`` rows as a trn file, atomically."""
    text = "".join(format_trn_line(tokens, spk, utt) + "\n" for spk, utt, tokens in rows)
    atomic_write_text(path, text)


def read_trn(path: str | Path) -> list[tuple[str, list[str]]]:
    """Read a trn file back as ``(id, tokens)`` pairs, ``id`` being the text in parentheses."""
    out = []
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            m = _TRN_LINE.match(line.rstrip("\n"))
            if not m:
                raise ValueError(f"{path}:{lineno}: not a trn line (expected 'tokens (id)'): {line!r}")
            out.append((m.group(2), m.group(1).split()))
    return out
