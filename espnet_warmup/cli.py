"""``espnet-warmup``: the command-line front end. Each subcommand lives in its own module.

A subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``; this
file only maps names to modules (imported lazily, so ``--help`` stays fast).
``check-config`` and ``hook`` are part of the plugin core; the other subcommands are the recipe toolkit's
(:mod:`espnet_warmup.recipe`) and, where its packages are not installed, say so and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from espnet_warmup.options import KaldiArgumentParser

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check-config": ("espnet_warmup.check_config", "report config mistakes that silently hurt a run"),
    "hook": ("espnet_warmup.hook", "install|uninstall|status of the startup hook that registers in every Python process"),
    "plot-lr": ("espnet_warmup.recipe.analysis.plot_lr", "plot the LR curves of ESPnet training configs"),
    "curves": ("espnet_warmup.recipe.analysis.curves", "training curves (loss, acc, LR, grad norm) of exp dirs"),
    "monitor": ("espnet_warmup.recipe.analysis.monitor", "follow a train.log and warn when training diverges"),
    "score": ("espnet_warmup.recipe.scoring.cli", "score hypotheses against references (WER/CER, result.txt)"),
    "report": ("espnet_warmup.recipe.report", "write RESULTS.md across experiments (recipe stage 14)"),
    "select-s2t": ("espnet_warmup.recipe.stages.select_s2t",
                   "keep the s2t (OWSM) epoch checkpoint with the lowest decoded dev WER"),
    "probe": ("espnet_warmup.recipe.probe", "highest stable peak LR per warmup policy (short seeded trainings)"),
}

RECIPE_PACKAGE = "espnet_warmup.recipe"
RECIPE_EXTRA_HINT = "needs the recipe extra: pip install 'espnet-warmup[recipe]'"


class MissingRecipeExtra(RuntimeError):
    """A recipe subcommand whose modules or packages are not installed."""


def _is_recipe_dependency(err: ModuleNotFoundError) -> bool:
    # A missing third-party package, or the recipe package itself; not a missing module of ours
    # elsewhere (that is a bug to show as it is).
    name = err.name or ""
    return name == RECIPE_PACKAGE or name.startswith(RECIPE_PACKAGE + ".") or not name.startswith("espnet_warmup")


def _load(command: str, call, *args):
    """``call(*args)``; a recipe subcommand's missing dependency becomes :class:`MissingRecipeExtra`."""
    module = SUBCOMMANDS[command][0]
    try:
        return call(*args)
    except ModuleNotFoundError as err:
        if module.startswith(RECIPE_PACKAGE + ".") and _is_recipe_dependency(err):
            raise MissingRecipeExtra(f"espnet-warmup {command}: {RECIPE_EXTRA_HINT} ({err})") from None
        raise


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser for ``argv`` (the arguments after the program name): only the module of the
    subcommand named by ``argv[0]`` is imported (none for ``--help``)."""
    from espnet_warmup import __version__

    parser = argparse.ArgumentParser(prog="espnet-warmup", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # Each subcommand parses with Kaldi's semantics (--foo-bar == --foo_bar, true|false, exit 1 on errors).
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=KaldiArgumentParser)
    wanted = argv[0] if argv else None
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if wanted == name:
            mod = _load(name, importlib.import_module, module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help(sys.stderr)
            return 2
        # Some recipe modules import their heavy packages only when they run (e.g. matplotlib).
        return int(_load(args.command, args._run, args) or 0)
    except MissingRecipeExtra as err:
        print(err, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
