"""Kaldi data directories: the ``key value`` text files and the checks stages rely on.

A data dir holds ``wav.scp`` (utt -> path or ``command |``), ``text`` (utt -> transcript),
``utt2spk``, ``spk2utt`` and optional per-utterance files (``utt2lang``, ``utt2dur``,
``utt2num_samples``). All files are sorted by key (``LC_ALL=C`` byte order) and share the
same utterance set. Files are written to a temporary name and renamed, so a reader never
sees half a file.

Command line (``python -m espnet_warmup.recipe.datadir <command> ...``):

- ``validate <dir> [--no-text]``        check a data dir; errors name the file and the utterances
- ``copy <src> <dst> [--utt-prefix P] [--spk-prefix P]``
- ``combine <dst> <src>...``           union of data dirs (keys must not collide)
- ``fix <dir>``                        keep only utterances present in every file, re-sort, rebuild spk2utt
- ``subset <src> <dst> --keys FILE``   keep the utterances listed in FILE (first column)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import OrderedDict
from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_write_text

#: Per-utterance files a stage may carry along (besides wav.scp, text, utt2spk).
UTT_FILES = ("wav.scp", "text", "utt2spk", "utt2lang", "utt2dur", "utt2num_samples", "utt2category")
#: Non-linguistic symbols such as language tags: ``<en>``, ``<it>``.
NLSYM_RE = re.compile(r"^<[^<>\s]+>$")


class DataDirError(ValueError):
    """A data dir is malformed; the message names the file and the offending lines."""


def read_kv(path: str | os.PathLike) -> "OrderedDict[str, str]":
    """Read a Kaldi ``key value`` file into an ordered dict (value may be empty or contain spaces).

    Raises DataDirError on duplicate keys, naming the file and the key.
    """
    out: "OrderedDict[str, str]" = OrderedDict()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            key = parts[0]
            value = parts[1].strip() if len(parts) > 1 else ""
            if key in out:
                raise DataDirError(f"{path}:{lineno}: duplicate key {key!r}")
            out[key] = value
    return out


def sort_key(key: str) -> bytes:
    """``LC_ALL=C sort`` order, which Kaldi tools expect."""
    return key.encode("utf-8")


def write_kv(path: str | os.PathLike, items, sort: bool = True) -> None:
    """Write ``key value`` lines atomically (temp file + rename), sorted by key in C order."""
    pairs = list(items.items() if isinstance(items, dict) else items)
    if sort:
        pairs.sort(key=lambda kv: sort_key(kv[0]))
    atomic_write_text(path, "".join(f"{k} {v}\n" if v != "" else f"{k}\n" for k, v in pairs))


def spk2utt_from_utt2spk(utt2spk: dict) -> "OrderedDict[str, str]":
    """Invert utt2spk: speaker -> space-separated utterances, both in C order."""
    by_spk: dict[str, list[str]] = {}
    for utt in sorted(utt2spk, key=sort_key):
        by_spk.setdefault(utt2spk[utt], []).append(utt)
    return OrderedDict((s, " ".join(by_spk[s])) for s in sorted(by_spk, key=sort_key))


def is_empty_transcript(value: str) -> bool:
    """True if a transcript has no words, or only non-linguistic symbols (e.g. just ``<en>``)."""
    return all(NLSYM_RE.match(tok) for tok in value.split())


def validate(d: str | os.PathLike, need_text: bool = True) -> list[str]:
    """Return the problems of data dir ``d`` (empty list when valid).

    Checks: required files exist (wav.scp, utt2spk, spk2utt, and text unless need_text is
    False); no duplicate keys; every per-utterance file has exactly the utterances of
    wav.scp; files are sorted; no empty transcripts; spk2utt matches utt2spk.
    """
    d = Path(d)
    problems: list[str] = []
    required = ["wav.scp", "utt2spk", "spk2utt"] + (["text"] if need_text else [])
    if not d.is_dir():
        return [f"{d}: data directory does not exist"]
    for name in required:
        if not (d / name).is_file():
            problems.append(f"{d / name}: missing")
    if problems:
        return problems
    try:
        files = {name: read_kv(d / name) for name in UTT_FILES if (d / name).is_file()}
        spk2utt = read_kv(d / "spk2utt")
    except DataDirError as err:
        return [str(err)]
    utts = set(files["wav.scp"])
    if not utts:
        problems.append(f"{d / 'wav.scp'}: empty")
    for name, kv in files.items():
        keys = list(kv)
        if keys != sorted(keys, key=sort_key):
            problems.append(f"{d / name}: not sorted (LC_ALL=C sort order expected)")
        extra, missing = set(keys) - utts, utts - set(keys)
        if extra or missing:
            detail = []
            if missing:
                detail.append(f"{len(missing)} utterance(s) of wav.scp missing, e.g. {sorted(missing)[:3]}")
            if extra:
                detail.append(f"{len(extra)} utterance(s) not in wav.scp, e.g. {sorted(extra)[:3]}")
            problems.append(f"{d / name}: " + "; ".join(detail))
    if "text" in files:
        empty = [u for u, t in files["text"].items() if is_empty_transcript(t)]
        if empty:
            problems.append(
                f"{d / 'text'}: {len(empty)} utterance(s) with an empty transcript: "
                + " ".join(empty[:10]) + (" ..." if len(empty) > 10 else ""))
    for name in ("wav.scp", "utt2spk"):
        bad = [u for u, v in files[name].items() if not v]
        if bad:
            problems.append(f"{d / name}: {len(bad)} line(s) without a value: " + " ".join(bad[:10]))
    if spk2utt != spk2utt_from_utt2spk(files["utt2spk"]):
        problems.append(f"{d / 'spk2utt'}: does not match utt2spk (regenerate it from utt2spk)")
    return problems


def copy_dir(src, dst, utt_prefix: str = "", spk_prefix: str = "") -> None:
    """Copy a data dir, optionally prefixing utterance and speaker ids (as Kaldi's copy_data_dir.sh)."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in UTT_FILES:
        if (src / name).is_file():
            kv = read_kv(src / name)
            if name == "utt2spk":
                kv = OrderedDict((k, spk_prefix + v) for k, v in kv.items())
            write_kv(dst / name, ((utt_prefix + k, v) for k, v in kv.items()))
    write_kv(dst / "spk2utt", spk2utt_from_utt2spk(read_kv(dst / "utt2spk")))


def combine_dirs(dst, srcs) -> None:
    """Union of data dirs into ``dst``; only files present in every source are combined."""
    dst = Path(dst)
    srcs = [Path(s) for s in srcs]
    names = [n for n in UTT_FILES if all((s / n).is_file() for s in srcs)]
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        merged: "OrderedDict[str, str]" = OrderedDict()
        for s in srcs:
            for k, v in read_kv(s / name).items():
                if k in merged:
                    raise DataDirError(f"combine: utterance {k!r} occurs in more than one of {[str(x) for x in srcs]}")
                merged[k] = v
        write_kv(dst / name, merged)
    write_kv(dst / "spk2utt", spk2utt_from_utt2spk(read_kv(dst / "utt2spk")))


def subset_dir(src, dst, keys) -> None:
    """Copy the utterances ``keys`` (an iterable of ids) of ``src`` into ``dst``."""
    keep = set(keys)
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in UTT_FILES:
        if (src / name).is_file():
            write_kv(dst / name, ((k, v) for k, v in read_kv(src / name).items() if k in keep))
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.datadir", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("validate")
    v.add_argument("dirs", nargs="+")
    v.add_argument("--no-text", action="store_true", help="text is not required (e.g. unlabelled test data)")
    c = sub.add_parser("copy")
    c.add_argument("src")
    c.add_argument("dst")
    c.add_argument("--utt-prefix", default="")
    c.add_argument("--spk-prefix", default="")
    m = sub.add_parser("combine")
    m.add_argument("dst")
    m.add_argument("srcs", nargs="+")
    f = sub.add_parser("fix")
    f.add_argument("dir")
    s = sub.add_parser("subset")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("--keys", required=True, help="file whose first column lists the utterances to keep")
    args = p.parse_args(argv)
    try:
        if args.cmd == "validate":
            problems = [x for d in args.dirs for x in validate(d, need_text=not args.no_text)]
            for x in problems:
                print(f"ERROR: {x}", file=sys.stderr)
            return 1 if problems else 0
        if args.cmd == "copy":
            copy_dir(args.src, args.dst, args.utt_prefix, args.spk_prefix)
        elif args.cmd == "combine":
            combine_dirs(args.dst, args.srcs)
        elif args.cmd == "fix":
            n = fix_dir(args.dir)
            if n:
                print(f"fix: dropped {n} utterance(s) from {args.dir}", file=sys.stderr)
        elif args.cmd == "subset":
            with open(args.keys, encoding="utf-8") as fh:
                keys = [ln.split()[0] for ln in fh if ln.strip()]
            subset_dir(args.src, args.dst, keys)
    except (DataDirError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
