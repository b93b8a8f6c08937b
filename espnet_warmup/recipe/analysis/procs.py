"""Process utilities of the divergence monitor, read from Linux's ``/proc`` (stdlib only).

The monitor follows a training job it may not have started (``--follow-pid``), so it cannot
rely on ``waitpid``; it asks ``/proc/<pid>/stat`` instead (proc(5)). Stopping a run means
stopping its whole tree: ESPnet's launcher starts ``run.pl``/``slurm.pl``, which start the
trainer, which may start DDP workers.
"""

from __future__ import annotations

import os
import signal


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or None when ``pid`` is gone.

    The command name (field 2) is in parentheses and may itself hold spaces and ``)``, so the
    line is cut at its *last* ``)``; the result starts at field 3 (state), so proc(5)'s field n
    is at index n - 3: state 0, ppid 1, starttime (field 22) 19.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _proc_state(pid: int) -> str | None:
    """One-letter state of ``pid`` (R, S, D, Z ...), None when it is gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped, counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def process_start_time(pid: int) -> float | None:
    """Start of ``pid`` as a Unix timestamp: boot time (``btime`` of /proc/stat) plus its
    ``starttime`` in clock ticks; None if unknown."""
    fields = _stat_fields(pid)
    try:
        ticks = int(fields[19]) if fields else None
        if ticks is None:
            return None
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None


def descendants(pid: int) -> list[int]:
    """All descendant PIDs of ``pid`` (from /proc), children before grandchildren."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            try:
                ppid = int(fields[1]) if fields else None
            except (IndexError, ValueError):
                ppid = None
            if ppid is not None:
                children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(0), []):
            out.append(c)
            todo.append(c)
    return out


def signal_tree(pid: int, sig: int = signal.SIGTERM) -> list[int]:
    """Send ``sig`` to ``pid`` and then to each of its descendants; return the descendants.

    The tree is listed before any signal is sent, so a child that its dying parent leaves to
    init is still reached. Processes that are already gone are skipped.
    """
    tree = descendants(pid)
    for p in [pid, *tree]:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
    return tree
