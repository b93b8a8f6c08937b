"""Kaldi-style option parsing for every command line of this project (stdlib only).

Semantics of Kaldi's utils/parse_options.sh, which recipe users expect: ``--foo-bar`` and ``--foo_bar``
are the same option (for every option of a :class:`KaldiArgumentParser`, however it was added);
booleans are ``true``/``false`` (:func:`str_to_bool`); abbreviations are not accepted; an unknown
option is an error. Errors exit with status 1 (as parse_options.sh does), not argparse's 2.
``--opt=value`` is accepted too.
"""

from __future__ import annotations

import argparse
import sys


def str_to_bool(value: str) -> bool:
    """Kaldi's boolean values: ``true`` or ``false`` (the one bool parser of every CLI here)."""
    if value == "true":
        return True
    if value == "false":
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


class KaldiArgumentParser(argparse.ArgumentParser):
    """argparse with Kaldi's option semantics (see the module docstring)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def add_option(self, name: str, default, help: str, type=None, choices=None, metavar=None):
        """Add ``--name`` taking one value; the default shows in --help (bools take true|false)."""
        if type is None:
            type = str_to_bool if isinstance(default, bool) else (int if isinstance(default, int) else str)
        if metavar is None:
            metavar = "true|false" if isinstance(default, bool) else ("INT" if type is int else "STR")
        default_text = str(default).lower() if isinstance(default, bool) else str(default)
        self.add_argument(f"--{name}", dest=name, default=default, type=type, choices=choices,
                          metavar=metavar, help=f"{help} (default: {default_text})")

    def parse_known_args(self, args=None, namespace=None):
        # --foo-bar -> --foo_bar when that is one of our options (up to a bare "--").
        args = list(sys.argv[1:] if args is None else args)
        known = self._option_string_actions
        out: list[str] = []
        for i, arg in enumerate(args):
            if arg == "--":
                out += args[i:]
                break
            if arg.startswith("--") and "-" in arg[2:]:
                name, eq, value = arg.partition("=")
                alias = "--" + name[2:].replace("-", "_")
                if name not in known and alias in known:
                    arg = alias + eq + value
            out.append(arg)
        return super().parse_known_args(out, namespace)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(1)
