"""Shared pytest set-up: make tests/ importable for helper modules (tiny_asr, ...)."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
# Tests spawn ESPnet jobs; keep each on one thread so two can share the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _children_get_default_signal_dispositions() -> None:
    """A suite started in the background by a script (``pytest &``: SIGINT and SIGQUIT ignored) or
    under nohup (SIGHUP ignored) would hand those ignored signals to every process it starts, and
    bash cannot trap a signal ignored at its entry: the signal tests would then see what no user at
    a terminal sees. A handler, unlike SIG_IGN, is reset to the default at exec, so a no-op handler
    keeps this process as it was and gives the children the default dispositions."""
    import signal

    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, lambda signum, frame: None)


_children_get_default_signal_dispositions()
