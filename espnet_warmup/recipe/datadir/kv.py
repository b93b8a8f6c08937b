"""Kaldi ``key value`` files: the one reader, the one writer, C order, speakers, language tags.

A Kaldi table file holds one ``<key> <value>`` per line (the value is the rest of the line and
may be empty or hold spaces), sorted by key in ``LC_ALL=C`` byte order, keys unique.

Reading has two modes:
- strict (the default; the recipe's own files): a missing file, a line that is not UTF-8 and a
  duplicate key raise :class:`DataDirError` naming the file and line;
- lenient (a user's Kaldi dir being imported): a missing file reads as empty, undecodable bytes
  become U+FFFD, and a repeated key keeps its last value, as building a dict line by line does.
Blank lines are skipped in both. :func:`scan_kv` is the layer below: every line with its number,
and the problems the validator reports instead of raising.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from espnet_warmup.recipe.atomic import atomic_write_text

#: Non-linguistic symbols such as language tags (``<en>``, ``<it>``): one ``<...>`` word.
NLSYM_RE = re.compile(r"^<[^<>\s]+>$")


class DataDirError(ValueError):
    """A data dir or one of its files is malformed; ``problems`` holds one message per problem,
    each naming the file (and line or utterance)."""

    def __init__(self, problems: str | Iterable[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def sort_key(key: str) -> bytes:
    """``LC_ALL=C sort`` order (byte order of UTF-8), which Kaldi's tools check."""
    return key.encode("utf-8")


def lang_tag(lang: str) -> str:
    """The language token that starts a transcript: ``en`` -> ``<en>`` (OWSM/FAMA style)."""
    return f"<{lang}>"


def tag_lang(word: str) -> str | None:
    """The language of a tag word (``<it>`` -> ``it``), None if ``word`` is no ``<...>`` tag."""
    return word[1:-1] if NLSYM_RE.match(word) else None


def is_empty_transcript(value: str) -> bool:
    """True if a transcript has no words, or only non-linguistic symbols (e.g. just ``<en>``)."""
    return all(NLSYM_RE.match(tok) for tok in value.split())


def _lines(data: bytes) -> Iterator[tuple[int, str, bool]]:
    """``(line number, text, valid UTF-8)`` per line of a file's bytes (no final empty piece);
    undecodable bytes become U+FFFD in ``text``. The one line splitter of both readers."""
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    for number, raw in enumerate(pieces, start=1):
        try:
            yield number, raw.decode("utf-8"), True
        except UnicodeDecodeError:
            yield number, raw.decode("utf-8", "replace"), False


def _split(text: str) -> tuple[str, str] | None:
    """``(key, value)`` of a line (value stripped, "" when absent), None for a blank line."""
    fields = text.split(maxsplit=1)
    if not fields:
        return None
    return fields[0], (fields[1].strip() if len(fields) > 1 else "")


@dataclass
class KvFile:
    """A ``key value`` file as scanned: values and 1-based line numbers by key (file order; the
    first line of a repeated key wins), and the problems found, each naming the file and line."""

    path: Path
    values: "OrderedDict[str, str]" = field(default_factory=OrderedDict)
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return list(self.values)


def scan_kv(path: str | os.PathLike, max_problems: int = 10) -> KvFile:
    """Read every line of ``path``, never raising for its content (the validator's view).

    Problems (at most ``max_problems`` listed): unreadable file, a line that is not UTF-8
    (skipped), a carriage return, leading white space, an empty line, a duplicate key (the
    repeat skipped), a key out of C order.
    """
    table = KvFile(Path(path))

    def problem(msg: str) -> None:
        if len(table.problems) < max_problems:
            table.problems.append(msg)

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        problem(f"{path}: cannot read: {e.strerror}")
        return table
    previous = None
    for number, line, utf8 in _lines(data):
        if not utf8:
            problem(f"{path} line {number}: not valid UTF-8")
            continue
        if "\r" in line:
            problem(f"{path} line {number}: carriage return (\\r) in line (DOS line endings?)")
        elif line[:1].isspace():
            problem(f"{path} line {number}: leading white space")
        kv = _split(line)
        if kv is None:
            problem(f"{path} line {number}: empty line")
            continue
        key, value = kv
        if key in table.values:
            problem(f"{path} line {number}: duplicate key {key!r} (first on line {table.lines[key]})")
            continue
        if previous is not None and sort_key(key) < sort_key(previous):
            problem(f"{path} line {number}: not sorted: {key!r} comes after {previous!r} "
                    "(sort with LC_ALL=C sort)")
        previous = key
        table.values[key] = value
        table.lines[key] = number
    return table


def read_kv(path: str | os.PathLike, strict: bool = True, what: str = "",
            allow_empty_value: bool = True) -> "OrderedDict[str, str]":
    """Read a ``key value`` file into an ordered dict (file order), in the mode of the module
    docstring. ``what`` names the file's role in messages (``ref``, ``utt2spk``...);
    ``allow_empty_value`` False makes a key without a value an error (strict mode)."""
    where = f"{what} file " if what else ""
    out: "OrderedDict[str, str]" = OrderedDict()
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if not strict:
            return out
        raise DataDirError(f"{where}not found: {path}" if what else f"{path}: file not found") from None
    for number, line, utf8 in _lines(data):
        if strict and not utf8:
            raise DataDirError(f"{where}{path}:{number}: not valid UTF-8")
        kv = _split(line)
        if kv is None:
            continue
        key, value = kv
        if strict and key in out:
            raise DataDirError(f"{where}{path}:{number}: duplicate key {key!r}")
        if strict and not value and not allow_empty_value:
            raise DataDirError(f"{where}{path}:{number}: key {key!r} has no value")
        out[key] = value
    return out


def format_kv(items: Mapping[str, str] | Iterable[tuple[str, str]], sort: bool = True) -> str:
    """The text of a ``key value`` file: one line per pair (a bare key when the value is empty),
    sorted by key in C order unless ``sort`` is False."""
    pairs = list(items.items() if isinstance(items, Mapping) else items)
    if sort:
        pairs.sort(key=lambda kv: sort_key(kv[0]))
    return "".join(f"{k} {v}\n" if v != "" else f"{k}\n" for k, v in pairs)


def write_kv(path: str | os.PathLike, items, sort: bool = True) -> None:
    """Write ``key value`` lines atomically (temp file + rename), sorted by key in C order."""
    atomic_write_text(path, format_kv(items, sort))


def spk2utt_from_utt2spk(utt2spk: Mapping[str, str]) -> "OrderedDict[str, str]":
    """Invert utt2spk: speaker -> space-separated utterances, both in C order."""
    by_spk: dict[str, list[str]] = {}
    for utt in sorted(utt2spk, key=sort_key):
        by_spk.setdefault(utt2spk[utt], []).append(utt)
    return OrderedDict((s, " ".join(by_spk[s])) for s in sorted(by_spk, key=sort_key))
