"""``python -m espnet_warmup.recipe.datadir <command> ...``: the data-dir commands of asr.sh and utils/.

- ``validate <dir>... [--no-text] [--check-audio] [--fs HZ]``  check dirs; errors name file and line
- ``copy <src> <dst> [--utt-prefix P] [--spk-prefix P]``
- ``combine <dst> <src>...``           union of data dirs (keys must not collide)
- ``fix <dir>``                        keep only utterances present in every file, re-sort, rebuild spk2utt
- ``subset <src> <dst> --keys FILE``   keep the utterances listed in FILE (first column)
"""

from __future__ import annotations

import sys

from espnet_warmup.options import KaldiArgumentParser
from espnet_warmup.recipe.datadir import (
    DataDirError, combine_dirs, copy_dir, fix_dir, read_kv, subset_dir, validate,
)


def build_parser() -> KaldiArgumentParser:
    p = KaldiArgumentParser(prog="python -m espnet_warmup.recipe.datadir", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=KaldiArgumentParser)
    v = sub.add_parser("validate")
    v.add_argument("dirs", nargs="+")
    v.add_argument("--no-text", action="store_true", help="text is not required (e.g. unlabelled test data)")
    v.add_argument("--check-audio", action="store_true",
                   help="also open every audio file of wav.scp (exists, readable, has samples)")
    v.add_argument("--fs", type=int, default=None, help="with --check-audio: the required sample rate (Hz)")
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
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.cmd == "validate":
            problems = [x for d in args.dirs
                        for x in validate(d, need_text=not args.no_text, check_audio=args.check_audio, fs=args.fs)]
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
            subset_dir(args.src, args.dst, read_kv(args.keys))
    except DataDirError as err:  # one line per problem, each naming its file and line
        for problem in err.problems:
            print(f"ERROR: {problem}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
