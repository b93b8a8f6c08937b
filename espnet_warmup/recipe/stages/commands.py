"""``<exp>/commands.sh``: the exact job commands of an experiment, for the "Exact commands" of its RESULTS.md.

The file is a list of entries of two lines each: ``# <name>`` (e.g. ``# stage 12: decode test (JOB=1:2)``)
and the command, shell-quoted so that it can be pasted. Recording a name again (a rerun) removes
its old entry and appends the new one, so the file lists each step once, in the order last run.

Command line (the engine's ``record_command``)::

    python -m espnet_warmup.recipe.stages.commands exp/asr_x/commands.sh "stage 13: score test" -- python3 -m ...
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from espnet_warmup.options import KaldiArgumentParser
from espnet_warmup.recipe.atomic import atomic_write_text


def replace_entry(text: str, name: str, command: str) -> str:
    """``text`` without the entry ``# name`` (its header line and the line after), plus the new entry last."""
    header = f"# {name}"
    kept, skip = [], False
    for line in text.splitlines(keepends=True):
        if skip:
            skip = False
        elif line.rstrip("\n") == header:
            skip = True
        else:
            kept.append(line)
    return "".join(kept) + f"{header}\n{command}\n"


def record(path, name: str, argv: list[str]) -> None:
    """Record ``argv`` (shell-quoted) as the entry ``name`` of the commands file ``path`` (atomically)."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    atomic_write_text(path, replace_entry(old, name, shlex.join(argv)))


def main(argv=None) -> int:
    p = KaldiArgumentParser(prog="python -m espnet_warmup.recipe.stages.commands", description=__doc__.splitlines()[0])
    p.add_argument("file", help="the commands file, e.g. exp/asr_x/commands.sh")
    p.add_argument("name", help="the entry's name, e.g. 'stage 11: train'")
    p.add_argument("command", nargs="+", help="the command's words (after --)")
    args = p.parse_args(argv)
    try:
        record(args.file, args.name, args.command)
    except OSError as err:
        print(f"ERROR: {args.file}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
