"""One fault-battery case: a bad input or a fault, the command it is fed to, and what must happen.

A case module (``bench/faults/<area>.py``) defines ``CASES: list[Case]``. Each case gets a fresh
empty directory ``tmp`` and, when ``needs_recipe`` is true, a private copy of a recipe dir that
has finished stages 1-5 on the tiny embedded corpus (``recipe``; see ../fault_battery.py), and
returns the command to run from its ``setup``. The runner runs it, records the exit code and the
first error line, and checks both against the case.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

#: Areas, in the order of the table in docs/faults.md.
AREAS = ("options", "configs", "data dirs", "audio", "checkpoints", "logs", "signals", "disk")


@dataclasses.dataclass(frozen=True)
class Command:
    argv: list[str]            # run without a shell (use ["bash", "-c", "..."] for one)
    cwd: Path
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    timeout: float = 600.0
    #: Optional: called with the Popen object after the start (e.g. to send a signal when a
    #: condition holds); returns nothing. The runner then waits for the process.
    during: Callable | None = None


@dataclasses.dataclass(frozen=True)
class Case:
    name: str                  # short, unique: what is wrong
    area: str                  # one of AREAS
    setup: Callable[[Path, Path | None], Command]   # (tmp, recipe) -> the command
    expect_rc: int             # the exit code that must come back
    expect: str                # regex that the first error line must match
    needs_recipe: bool = False
    #: Optional check after the run: (tmp, recipe) -> None, raising AssertionError with a
    #: reason when something finished was lost or relabelled.
    after: Callable[[Path, Path | None], None] | None = None

    def __post_init__(self):
        if self.area not in AREAS:
            raise ValueError(f"case {self.name!r}: area {self.area!r} is not one of {AREAS}")
        re.compile(self.expect)


ERROR_LINE = re.compile(r"error|refus|invalid|not found|no space|corrupt|duplicate|killed|signal|"
                        r"cannot|can't|must|unknown|missing|failed", re.IGNORECASE)


def first_error_line(output: str) -> str:
    """The first line of ``output`` that reads as an error (else its last non-empty line)."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    for ln in lines:
        if ERROR_LINE.search(ln):
            return ln
    return lines[-1] if lines else ""
