"""Split and filter scp/key files, with the interfaces of Kaldi's split_scp.pl and filter_scp.pl.

``split``: cut an scp into N contiguous, order-preserving parts whose sizes differ by at
most one line (job i of a JOB=1:N array reads part i). Refuses to make an empty part.
``filter``: keep (or with ``--exclude`` drop) the lines whose first field is listed in an id list.

Command line::

    python -m espnet_warmup.recipe.stages.scp split in.scp out.1.scp out.2.scp ...
    python -m espnet_warmup.recipe.stages.scp filter [--exclude] idlist in.scp > out.scp
"""

from __future__ import annotations

import argparse
import sys

from espnet_warmup.recipe.atomic import atomic_write_text
from espnet_warmup.recipe.datadir.kv import read_utf8_lines


def split_lines(lines: list[str], n: int) -> list[list[str]]:
    """Contiguous parts: the first ``len % n`` parts get one extra line."""
    if n < 1:
        raise ValueError(f"number of parts must be >= 1, got {n}")
    if len(lines) < n:
        raise ValueError(f"cannot split {len(lines)} line(s) into {n} non-empty parts")
    base, extra = divmod(len(lines), n)
    parts, start = [], 0
    for i in range(n):
        size = base + (1 if i < extra else 0)
        parts.append(lines[start:start + size])
        start += size
    return parts


def split_scp(src: str, outs: list[str]) -> None:
    """Split file ``src`` into the files ``outs`` (written atomically)."""
    lines = [ln for ln in read_utf8_lines(src) if ln.strip()]
    try:
        parts = split_lines(lines, len(outs))
    except ValueError as err:
        raise ValueError(f"{src}: {err}") from None
    for out, part in zip(outs, parts):
        atomic_write_text(out, "".join(part))


def filter_lines(ids: set[str], lines, exclude: bool = False):
    """Yield the lines whose first field is (or, with exclude, is not) in ``ids``."""
    for ln in lines:
        if not ln.strip():
            continue
        if (ln.split(maxsplit=1)[0] in ids) != exclude:
            yield ln


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.stages.scp", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("src")
    s.add_argument("outs", nargs="+")
    f = sub.add_parser("filter")
    f.add_argument("--exclude", action="store_true")
    f.add_argument("idlist")
    f.add_argument("src", nargs="?", default="-")
    args = p.parse_args(argv)
    try:
        if args.cmd == "split":
            split_scp(args.src, args.outs)
        else:
            ids = {ln.split()[0] for ln in read_utf8_lines(args.idlist) if ln.strip()}
            src = sys.stdin.readlines() if args.src == "-" else read_utf8_lines(args.src)
            sys.stdout.writelines(filter_lines(ids, src, args.exclude))
    except (ValueError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
