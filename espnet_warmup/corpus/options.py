"""Kaldi-style option parsing for recipe scripts written in Python (what ``local/data.sh`` passes on).

Semantics of Kaldi's utils/parse_options.sh, which recipe users expect: ``--foo-bar`` and ``--foo_bar``
are the same option; each option takes a value (``--overwrite true``, not a bare flag); booleans are
``true``/``false``; abbreviations are not accepted; an unknown option is an error. Errors exit with
status 1 (as parse_options.sh does), not argparse's 2. ``--opt=value`` is accepted too.
"""

from __future__ import annotations

import argparse
import sys


class KaldiArgumentParser(argparse.ArgumentParser):
    """argparse with Kaldi's option semantics (see the module docstring)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def add_option(self, name: str, default, help: str, type=None, choices=None, metavar=None):
        """Add ``--name`` (also spelled with dashes) taking one value; the default shows in --help."""
        if type is None:
            type = str_to_bool if isinstance(default, bool) else (int if isinstance(default, int) else str)
        if metavar is None:
            metavar = "true|false" if isinstance(default, bool) else ("INT" if type is int else "STR")
        default_text = str(default).lower() if isinstance(default, bool) else str(default)
        self.add_argument(f"--{name}", dest=name, default=default, type=type, metavar=metavar,
                          help=f"{help} (default: {default_text})")
        if "_" in name:  # the dashed spelling, hidden from --help to keep it short
            self.add_argument(f"--{name.replace('_', '-')}", dest=name, default=argparse.SUPPRESS,
                              type=type, help=argparse.SUPPRESS)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(1)


def str_to_bool(value: str) -> bool:
    """Kaldi's boolean values: ``true`` or ``false``."""
    if value == "true":
        return True
    if value == "false":
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
