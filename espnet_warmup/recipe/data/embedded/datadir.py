"""Write Kaldi data directories (wav.scp, text, utt2spk, spk2utt, utt2lang, utt2dur).

Kaldi's conventions, which ESPnet's asr.sh and Kaldi's utils/ rely on:
- one ``key value...`` per line, sorted by key in C locale byte order (``LC_ALL=C sort``), keys unique;
- ``wav.scp`` maps the utterance id to an absolute wav path (no segments file here);
- ``spk2utt`` lists each speaker's utterances, consistent with ``utt2spk``;
- ``text`` starts, after the id, with the language token (``<en>``/``<it>``, OWSM/FAMA style).
Each file is written to a temporary name and renamed, so a file never exists half-written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from espnet_warmup.recipe.atomic import atomic_write_text


def c_sort_key(key: str) -> bytes:
    """Sort key equal to ``LC_ALL=C sort`` on UTF-8 text (byte order)."""
    return key.encode("utf-8")


def write_lines_atomic(path: str, lines: Iterable[str]) -> None:
    """Write ``lines`` (newline added to each) to ``path`` through a temporary file and a rename."""
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def write_table(path: str, table: dict[str, str]) -> None:
    """Write a ``key value`` table sorted by key (C order)."""
    write_lines_atomic(path, (f"{key} {table[key]}" for key in sorted(table, key=c_sort_key)))


def language_token(lang: str) -> str:
    """The per-utterance language token written before the words: ``en`` -> ``<en>``."""
    return f"<{lang}>"


def write_data_dir(data_dir: str, rows: list[dict]) -> None:
    """Write a Kaldi data dir from rows with keys uttid, speaker, lang, text, wav (absolute), duration (s)."""
    os.makedirs(data_dir, exist_ok=True)
    write_table(os.path.join(data_dir, "wav.scp"), {r["uttid"]: r["wav"] for r in rows})
    write_table(os.path.join(data_dir, "text"),
                {r["uttid"]: f"{language_token(r['lang'])} {r['text']}" for r in rows})
    write_table(os.path.join(data_dir, "utt2spk"), {r["uttid"]: r["speaker"] for r in rows})
    write_table(os.path.join(data_dir, "utt2lang"), {r["uttid"]: r["lang"] for r in rows})
    write_table(os.path.join(data_dir, "utt2dur"), {r["uttid"]: f"{r['duration']:.4f}" for r in rows})
    spk2utt: dict[str, list[str]] = {}
    for r in sorted(rows, key=lambda r: c_sort_key(r["uttid"])):
        spk2utt.setdefault(r["speaker"], []).append(r["uttid"])
    write_table(os.path.join(data_dir, "spk2utt"), {spk: " ".join(utts) for spk, utts in spk2utt.items()})
