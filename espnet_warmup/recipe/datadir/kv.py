"""Kaldi ``key value`` files: the one reader, the one writer, C order, speakers, language tags.

A Kaldi table file holds one ``<key> <value>`` per line (the value is the rest of the line and
may be empty or hold spaces), sorted by key in ``LC_ALL=C`` byte order, keys unique.

Every reader of Kaldi tables in the package goes through :func:`read_table` (or
:func:`read_kv`, its values), which refuses, with :class:`DataDirError` naming the file and
line: a missing file (unless ``missing_ok``: optional files of a user's dir read as empty), a
line that is not UTF-8 (with the offending bytes, their offset, and the ``iconv`` command that
converts the file) and a duplicate key (with the line of its first occurrence: taking either
value would silently pair one utterance's transcript with another's audio). Blank lines are
skipped. :func:`scan_kv` is the validator's view of the same lines: it never raises but lists
the problems, each naming the file and line.
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


def _lines(data: bytes) -> Iterator[tuple[int, str, str]]:
    """``(line number, text, problem)`` per line of a file's bytes (no final empty piece);
    ``problem`` is "" for a UTF-8 line, else what :func:`_utf8_problem` says (the text then
    has U+FFFD for the undecodable bytes). The one line splitter of every reader."""
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    offset = 0
    for number, raw in enumerate(pieces, start=1):
        try:
            yield number, raw.decode("utf-8"), ""
        except UnicodeDecodeError as e:
            yield number, raw.decode("utf-8", "replace"), _utf8_problem(raw, e, offset)
        offset += len(raw) + 1


def _utf8_problem(raw: bytes, err: UnicodeDecodeError, line_offset: int) -> str:
    """What is wrong with an undecodable line: the bytes, their column and file offset."""
    bad = raw[err.start:err.end]
    shown = " ".join(f"0x{b:02x}" for b in bad[:8])
    return (f"not valid UTF-8 (byte{'s' if len(bad) > 1 else ''} {shown} at column {err.start + 1}, "
            f"file offset {line_offset + err.start})")


def convert_hint(path: str | os.PathLike) -> str:
    """What to do about a file that is not UTF-8: convert it (Kaldi/ESPnet tables are UTF-8)."""
    return (f"convert the file to UTF-8: iconv -f <its encoding, e.g. ISO-8859-1> -t UTF-8 {path} > {path}.utf8, "
            f"then move it in place (file -i {path} guesses the encoding)")


def read_utf8_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a text file (with their newlines), refusing one that is not UTF-8 with
    :class:`DataDirError` naming the file, the line, the bytes and the fix (for tools that
    keep lines verbatim, e.g. splitting an scp)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DataDirError(f"{path}: cannot read: {e.strerror}") from None
    for number, _, bad_bytes in _lines(data):
        if bad_bytes:
            raise DataDirError(f"{path}:{number}: {bad_bytes}; {convert_hint(path)}")
    pieces = data.decode("utf-8").split("\n")  # "\n" only (str.splitlines also splits at U+2028, \x1c...)
    return [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


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

    Problems (at most ``max_problems`` listed): unreadable file, a line that is not UTF-8 (its
    bytes, their offset and the fix named; its key still counts), a carriage return, leading
    white space, an empty line, a duplicate key (the repeat skipped), a key out of C order.
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
    for number, line, bad_bytes in _lines(data):
        if bad_bytes:  # reported; its key still counts (no "missing line" problems that follow from it)
            hint = "" if any("not valid UTF-8" in p for p in table.problems) else f"; {convert_hint(path)}"
            problem(f"{path} line {number}: {bad_bytes}{hint}")
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


def read_table(path: str | os.PathLike, what: str = "", allow_empty_value: bool = True,
               missing_ok: bool = False) -> KvFile:
    """Read a ``key value`` file: values and line numbers by key, in file order.

    Raises :class:`DataDirError` (one line: the first problem of the file, and how many more of
    that kind it has) for a line that is not UTF-8, a duplicate key (naming the line of the
    first occurrence and of the repeat), a key without a value when ``allow_empty_value`` is
    False, and a missing file unless ``missing_ok`` (then it reads as empty). ``what`` names
    the file's role in messages (``ref``, ``utt2spk``...).
    """
    where = f"{what} file " if what else ""
    table = KvFile(Path(path))
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return table
        raise DataDirError(f"{where}not found: {path}" if what else f"{path}: file not found") from None
    except OSError as e:
        raise DataDirError(f"{where}{path}: cannot read: {e.strerror}") from None
    problems: dict[str, list[str]] = {}  # kind -> messages (the first is shown, the rest counted)
    for number, line, bad_bytes in _lines(data):
        if bad_bytes:
            problems.setdefault("lines not UTF-8", []).append(f"{where}{path}:{number}: {bad_bytes}; "
                                                             + convert_hint(path))
            continue
        kv = _split(line)
        if kv is None:
            continue
        key, value = kv
        if key in table.values:
            problems.setdefault("duplicate keys", []).append(
                f"{where}{path}:{number}: duplicate key {key!r} (first at {path}:{table.lines[key]})")
            continue
        if not value and not allow_empty_value:
            problems.setdefault("keys without a value", []).append(f"{where}{path}:{number}: key {key!r} has no value")
        table.values[key] = value
        table.lines[key] = number
    if problems:
        found = next(iter(problems.values()))
        more = sum(len(v) for v in problems.values()) - 1
        raise DataDirError(found[0] + (f" (and {more} more problem(s) in this file)" if more else ""))
    return table


def read_kv(path: str | os.PathLike, what: str = "", allow_empty_value: bool = True,
            missing_ok: bool = False) -> "OrderedDict[str, str]":
    """The values of :func:`read_table` (key -> value, file order); same arguments, same errors."""
    return read_table(path, what, allow_empty_value, missing_ok).values


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
