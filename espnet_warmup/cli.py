"""``espnet-warmup``: the command-line front end. Each subcommand lives in its own module.

A subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``; this
file only maps names to modules (imported lazily, so ``--help`` stays fast).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from espnet_warmup.options import KaldiArgumentParser

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check-config": ("espnet_warmup.check_config", "report config mistakes that silently hurt a run"),
    "plot-lr": ("espnet_warmup.recipe.analysis.plot_lr", "plot the LR curves of ESPnet training configs"),
    "curves": ("espnet_warmup.recipe.analysis.curves", "training curves (loss, acc, LR, grad norm) of exp dirs"),
    "monitor": ("espnet_warmup.recipe.analysis.monitor", "follow a train.log and warn when training diverges"),
    "score": ("espnet_warmup.recipe.scoring.cli", "score hypotheses against references (WER/CER, result.txt)"),
    "report": ("espnet_warmup.recipe.report", "write RESULTS.md across experiments (recipe stage 14)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="espnet-warmup", description=__doc__.splitlines()[0])
    from espnet_warmup import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # Each subcommand parses with Kaldi's semantics (--foo-bar == --foo_bar, true|false, exit 1 on errors).
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=KaldiArgumentParser)
    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        # Import only the module of the subcommand being run (or all for --help listings).
        if wanted == name:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args()
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
