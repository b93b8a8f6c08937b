"""Whole data dirs: write one from utterance records, copy, combine, subset, fix; ``.done`` markers.

A data dir written by :func:`write_data_dir` holds, sorted in C order: ``wav.scp``
(``<utt> <audio>``), ``text`` (``<utt> <lang tag> <words>``), ``utt2spk``, ``spk2utt``,
``utt2lang``, ``utt2dur`` (when every utterance has a duration) and, when given, ``excluded.txt``
(``<utt>\\t<reason>\\t<file:line>``, one line per dropped utterance, in the order given). The dir is
built beside its place and swapped in (:func:`espnet_warmup.recipe.atomic.atomic_dir`), with the
``.done`` marker inside holding what it was made from, so a dir that exists with its marker is
complete and a rerun can tell whether it was made from the same inputs (:func:`is_done`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

from espnet_warmup.recipe.atomic import atomic_dir
from espnet_warmup.recipe.datadir.kv import (
    DataDirError, format_kv, is_empty_transcript, lang_tag, read_kv, sort_key, spk2utt_from_utt2spk, write_kv,
)

#: Per-utterance files a stage may carry along (besides wav.scp, text, utt2spk).
UTT_FILES = ("wav.scp", "text", "utt2spk", "utt2lang", "utt2dur", "utt2num_samples", "utt2category")
#: The marker written last into a finished dir; it holds the dir's signature (what it was made from).
DONE = ".done"


class Record(Protocol):
    """What :func:`write_data_dir` reads of an utterance (the data-prep records have these)."""

    utt_id: str
    speaker: str
    audio: str
    text: str            # the words, without the language tag
    lang: str
    duration: float | None


class ExcludedLine(Protocol):
    def line(self) -> str: ...


def data_dir_files(utts: Sequence[Record], duration_digits: int = 3) -> dict[str, str]:
    """The text of each file of a data dir holding ``utts`` (name -> content)."""
    by_id = OrderedDict((u.utt_id, u) for u in sorted(utts, key=lambda u: sort_key(u.utt_id)))
    utt2spk = {k: u.speaker for k, u in by_id.items()}
    files = {
        "wav.scp": format_kv((k, u.audio) for k, u in by_id.items()),
        "text": format_kv((k, f"{lang_tag(u.lang)} {u.text}") for k, u in by_id.items()),
        "utt2spk": format_kv(utt2spk.items()),
        "utt2lang": format_kv((k, u.lang) for k, u in by_id.items()),
        "spk2utt": format_kv(spk2utt_from_utt2spk(utt2spk)),
    }
    if all(u.duration is not None for u in by_id.values()):
        files["utt2dur"] = format_kv((k, f"{u.duration:.{duration_digits}f}") for k, u in by_id.items())
    return files


def write_data_dir(path: str | os.PathLike, utts: Iterable[Record], excluded: Iterable[ExcludedLine] | None = None,
                   signature: str = "", duration_digits: int = 3, keep: Sequence[str] = (),
                   check: Callable[[Path], list[str]] | None = None) -> Path:
    """Write ``utts`` as the data dir ``path`` (replacing it as a whole), with ``excluded.txt``
    when ``excluded`` is given, and ``.done`` holding ``signature`` (see the module docstring).

    ``keep``: entries of the existing ``path`` moved into the new dir (e.g. cut segments that
    wav.scp points at); everything else of the old dir goes. ``check``: a validator run on the
    new dir before it is swapped in; its problems (named as in the final dir) raise
    :class:`DataDirError` and leave the old dir as it was.
    """
    path = Path(path)
    files = data_dir_files(list(utts), duration_digits)
    if excluded is not None:
        files["excluded.txt"] = "".join(e.line() + "\n" for e in excluded)
    with atomic_dir(path, keep=keep) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        problems = check(tmp) if check is not None else []
        if problems:
            raise DataDirError([p.replace(str(tmp), str(path)) for p in problems])
        (tmp / DONE).write_text(signature + "\n", encoding="utf-8")
    return path


def read_signature(path: str | os.PathLike) -> str | None:
    """The signature in ``<path>/.done``, None if the dir has no marker (not finished, or not ours)."""
    try:
        return (Path(path) / DONE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None


def is_done(path: str | os.PathLike, signature: str) -> bool:
    """True if ``path`` is a finished data dir made from the same inputs (``signature``)."""
    return read_signature(path) == signature.strip()


def _read_files(src: Path) -> dict[str, "OrderedDict[str, str]"]:
    """The per-utterance files of ``src`` (all read before anything is written: a bad one leaves no half copy)."""
    return {name: read_kv(src / name) for name in UTT_FILES if (src / name).is_file()}


def copy_dir(src, dst, utt_prefix: str = "", spk_prefix: str = "") -> None:
    """Copy a data dir, optionally prefixing utterance and speaker ids (as Kaldi's copy_data_dir.sh)."""
    src, dst = Path(src), Path(dst)
    files = _read_files(src)
    dst.mkdir(parents=True, exist_ok=True)
    for name, kv in files.items():
        if name == "utt2spk":
            kv = OrderedDict((k, spk_prefix + v) for k, v in kv.items())
        write_kv(dst / name, ((utt_prefix + k, v) for k, v in kv.items()))
    write_kv(dst / "spk2utt", spk2utt_from_utt2spk(read_kv(dst / "utt2spk")))


def combine_dirs(dst, srcs) -> None:
    """Union of data dirs into ``dst``; only files present in every source are combined."""
    dst = Path(dst)
    srcs = [Path(s) for s in srcs]
    names = [n for n in UTT_FILES if all((s / n).is_file() for s in srcs)]
    combined = {}
    for name in names:
        merged: "OrderedDict[str, str]" = OrderedDict()
        for s in srcs:
            for k, v in read_kv(s / name).items():
                if k in merged:
                    raise DataDirError(f"combine: utterance {k!r} occurs in more than one of {[str(x) for x in srcs]}")
                merged[k] = v
        combined[name] = merged
    dst.mkdir(parents=True, exist_ok=True)
    for name, merged in combined.items():
        write_kv(dst / name, merged)
    write_kv(dst / "spk2utt", spk2utt_from_utt2spk(read_kv(dst / "utt2spk")))


def subset_dir(src, dst, keys) -> None:
    """Copy the utterances ``keys`` (an iterable of ids) of ``src`` into ``dst``."""
    keep = set(keys)
    src, dst = Path(src), Path(dst)
    files = _read_files(src)
    dst.mkdir(parents=True, exist_ok=True)
    for name, kv in files.items():
        write_kv(dst / name, ((k, v) for k, v in kv.items() if k in keep))
    write_kv(dst / "spk2utt", spk2utt_from_utt2spk(read_kv(dst / "utt2spk")))


def fix_dir(d) -> int:
    """Keep utterances present in every per-utterance file (and with a non-empty transcript).

    Re-sorts every file and rebuilds spk2utt. Returns the number of utterances dropped.
    """
    d = Path(d)
    files = {n: read_kv(d / n) for n in UTT_FILES if (d / n).is_file()}
    common = set.intersection(*(set(kv) for kv in files.values()))
    if "text" in files:
        common = {u for u in common if not is_empty_transcript(files["text"][u])}
    dropped = len(set.union(*(set(kv) for kv in files.values())) - common)
    for name, kv in files.items():
        write_kv(d / name, ((k, v) for k, v in kv.items() if k in common))
    write_kv(d / "spk2utt", spk2utt_from_utt2spk(read_kv(d / "utt2spk")))
    return dropped
