"""``espnet-warmup score`` / ``python -m espnet_warmup.recipe.scoring.cli``: the recipe's stage-13 scorer.

Usage (what the recipe engine runs for each test set)::

    python -m espnet_warmup.recipe.scoring.cli --ref data/test/text --hyp <decode_dir>/test/text \\
        --utt2spk data/test/utt2spk [--utt2lang data/test/utt2lang] \\
        [--remove_tokens "<en> <it>"] [--cleaner none|lower_punct] [--case_sensitive] \\
        --outdir <decode_dir>/test

writes ``<outdir>/score_{wer,cer}/{ref.trn,hyp.trn,result.txt}`` and ``<outdir>/scores.json``
(see :mod:`espnet_warmup.recipe.scoring.scorer`) and prints a one-line summary. Options accept
Kaldi's spelling too (``--remove-tokens`` == ``--remove_tokens``). Exit 1 with
``error: ...`` naming the file on bad input.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from espnet_warmup.recipe.scoring.text import CLEANERS, ScoringInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ref", required=True, help="reference Kaldi text (utt-id transcript)")
    parser.add_argument("--hyp", required=True, help="decoded Kaldi text, e.g. <decode_dir>/test/text")
    parser.add_argument("--utt2spk", required=True, help="Kaldi utt2spk of the test set (speaker rows of result.txt)")
    parser.add_argument("--utt2lang", default=None, help="utt-id -> language; default: from the removed tokens")
    parser.add_argument(
        "--remove_tokens",
        "--remove-tokens",
        default="",
        help='space-separated tokens removed from ref and hyp before scoring, e.g. "<en> <it>"',
    )
    parser.add_argument("--cleaner", default="none", choices=CLEANERS, help="text normalisation of ref and hyp")
    parser.add_argument(
        "--case_sensitive",
        "--case-sensitive",
        action="store_true",
        help="compare case-sensitively (default: case-insensitive, as sclite without -s)",
    )
    parser.add_argument("--outdir", required=True, help="where score_wer/, score_cer/ and scores.json go")


def invocation() -> str:
    """The command line as the user typed it (``python -m <module> ...`` or ``espnet-warmup ...``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    head = ["python", "-m", spec.name] if spec is not None else [os.path.basename(sys.argv[0])]
    return shlex.join(head + sys.argv[1:])


def run(args: argparse.Namespace) -> int:
    from espnet_warmup.recipe.scoring.scorer import score_dir, summary_line

    try:
        scores = score_dir(
            args.ref,
            args.hyp,
            args.utt2spk,
            args.outdir,
            utt2lang_path=args.utt2lang,
            remove_tokens=args.remove_tokens.split(),
            cleaner=args.cleaner,
            case_sensitive=args.case_sensitive,
            # Recorded in scores.json so the numbers carry the command that made them.
            command=invocation(),
        )
    except ScoringInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(summary_line(scores, args.outdir))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m espnet_warmup.recipe.scoring.cli", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
