"""Stage 12: merge the outputs of a split decode into the decode dir.

``espnet2.bin.asr_inference`` job i writes ``logdir/output.i/1best_recog/{text,token,token_int,score}``.
The merge concatenates each file over jobs, sorts by utterance id and writes
``<dir>/<file>``; it checks that every key of the decoded set got a hypothesis (a job that
silently skipped utterances would otherwise inflate the score).

Command line::

    python -m espnet_warmup.recipe.stages.decode_merge --keys dump/raw/test/wav.scp --nj 2 exp/asr_x/decode_y/test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from espnet_warmup.recipe.datadir import DataDirError, read_kv, write_kv

FILES = ("text", "token", "token_int", "score")


def merge(decode_dir, nj: int, keys_file) -> int:
    """Merge ``logdir/output.{1..nj}/1best_recog/*`` into ``decode_dir``; return #hypotheses."""
    d = Path(decode_dir)
    expected = set(read_kv(keys_file))
    for name in FILES:
        merged: dict[str, str] = {}
        parts = [d / "logdir" / f"output.{j}" / "1best_recog" / name for j in range(1, nj + 1)]
        present = [p for p in parts if p.is_file()]
        if name != "text" and not present:
            continue  # optional outputs
        for p in parts:
            if not p.is_file():
                raise DataDirError(f"{p}: missing (did decoding job {p.parents[1].name.split('.')[-1]} fail?)")
            merged.update(read_kv(p))
        if name == "text":
            missing = expected - set(merged)
            if missing:
                raise DataDirError(
                    f"{d}: {len(missing)} of {len(expected)} utterances have no hypothesis, e.g. {sorted(missing)[:3]}")
        write_kv(d / name, merged)
    return len(expected)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.stages.decode_merge", description=__doc__.splitlines()[0])
    p.add_argument("--keys", required=True, help="scp whose keys were decoded (e.g. the set's wav.scp)")
    p.add_argument("--nj", type=int, required=True)
    p.add_argument("decode_dir")
    args = p.parse_args(argv)
    try:
        n = merge(args.decode_dir, args.nj, args.keys)
    except (DataDirError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(f"decode_merge: {n} hypotheses -> {args.decode_dir}/text", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
