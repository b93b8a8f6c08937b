"""The command the monitor runs (run mode): started in a session of its own, signals passed on to
its process tree, its exit status read as a shell reads it.

Why a session of its own: a Ctrl-C at the terminal then reaches the monitor only, which passes it
on to the whole tree (``run.pl``/``launch.py`` wrappers, DDP workers) and waits for the command
to end, so the monitor always reports how the run ended.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from espnet_warmup.recipe.analysis.procs import STOP_SIGNALS, catchable_stop_signals, signal_tree

# Shell conventions for a command that could not be run.
EXIT_NOT_FOUND, EXIT_NOT_EXECUTABLE = 127, 126
#: What a user, a terminal or a scheduler stops a run with (TERM, INT, HUP); all are passed on.
FORWARDED_SIGNALS = STOP_SIGNALS


def exit_status(returncode: int) -> int:
    """A child's status as a shell reports it: its exit code, or 128 + N if signal N killed it
    (``subprocess`` gives -N)."""
    return 128 - returncode if returncode < 0 else returncode


def describe_status(returncode: int) -> str:
    """``exited with status K`` or ``was killed by SIGNAME``, from a ``subprocess`` return code."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


class SignalRelay:
    """While installed (a ``with`` block), SIGTERM, SIGINT and SIGHUP to the monitor are caught and
    passed on to the child's process tree; :attr:`received` is the first one.

    Install it *before* starting the child: a caught signal's disposition is reset to the
    default in the child at exec, whereas an ignored one (bash ignores SIGINT in background
    jobs) would be inherited, and the child would then ignore the SIGINT passed on to it.
    """

    def __init__(self):
        self.received: int | None = None
        self.child: subprocess.Popen | None = None
        self.note: str | None = None  # what was done, for the monitor to log (no I/O in a handler)
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "SignalRelay":
        self._previous = {s: signal.signal(s, self._handle) for s in catchable_stop_signals()}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def attach(self, child: subprocess.Popen) -> None:
        """The child to pass signals on to; one already received is passed on now."""
        self.child = child
        if self.received is not None:
            self._pass_on(self.received)

    def _handle(self, signum: int, frame) -> None:
        if self.received is None:
            self.received = signum
        if self.child is not None:
            self._pass_on(signum)

    def _pass_on(self, signum: int) -> None:
        # returncode is set once the child is reaped; after that its PID may belong to another process
        tree = signal_tree(self.child.pid, signum) if self.child.returncode is None else []
        self.note = (f"got {signal.Signals(signum).name}: passed it on to PID {self.child.pid}"
                     + (f" and its descendants {tree}" if tree else "") + "; waiting for it to end")


def start_command(command: list[str], child_log: Path | None) -> subprocess.Popen:
    """Start ``command`` in a session of its own, stdout+stderr to ``child_log`` (truncated
    first, as ``> file`` would) or the monitor's own, stdin from /dev/null."""
    if child_log is None:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    child_log.parent.mkdir(parents=True, exist_ok=True)
    with open(child_log, "w") as f:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
