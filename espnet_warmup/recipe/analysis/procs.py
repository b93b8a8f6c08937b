"""Process utilities of the divergence monitor, read from Linux's ``/proc`` (stdlib only).

The monitor follows a training job it may not have started (``--follow-pid``), so it cannot
rely on ``waitpid``; it asks ``/proc/<pid>/stat`` instead (proc(5)). Stopping a run means
stopping its whole tree: ESPnet's launcher starts ``run.pl``/``slurm.pl``, which start the
trainer, which may start DDP workers.
"""

from __future__ import annotations

import os
import signal
import time


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


# ----------------------------------------------------------------------------- stopping a tree
#: What a user, a terminal or a scheduler stops a run with: ``kill``/preemption (TERM), Ctrl-C
#: (INT), a closed terminal (HUP). The monitor, the job launchers and asr.sh all pass these on.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def catchable_stop_signals() -> tuple[int, ...]:
    """:data:`STOP_SIGNALS` less SIGHUP when it is ignored (``nohup``): a run started with
    nohup must survive its terminal, as bash's rule for signals ignored at entry keeps it.
    SIGINT is caught even when ignored: bash starts background jobs with SIGINT ignored, and
    a Ctrl-C passed on by asr.sh must still stop them."""
    return tuple(s for s in STOP_SIGNALS
                 if not (s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN))


def start_ticks(pid: int) -> str | None:
    """``starttime`` of ``pid`` (clock ticks since boot): with the PID, it names one process even
    after the PID is reused."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def ancestors(pid: int) -> list[int]:
    """The parent chain of ``pid`` (parent first, up to PID 1)."""
    out = []
    while pid > 1:
        fields = _stat_fields(pid)
        try:
            pid = int(fields[1]) if fields else 0
        except (IndexError, ValueError):
            break
        if pid > 0:
            out.append(pid)
    return out


def ignores_signal(pid: int, sig: int) -> bool:
    """True when ``pid`` ignores ``sig`` (``SigIgn`` of /proc/<pid>/status). bash starts the
    background jobs of a script with SIGINT ignored, and the ignore is inherited across exec."""
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return False
    return bool(mask >> (sig - 1) & 1)


#: Python modules known by their Kaldi names.
_PROGRAM_NAMES = {"espnet_warmup.recipe.launchers.run_pl": "run.pl",
                  "espnet_warmup.recipe.launchers.slurm_pl": "slurm.pl",
                  "espnet_warmup.recipe.analysis.monitor": "monitor"}


def program_name(pid: int) -> str:
    """:func:`name_of` the command line of ``pid``; ``?`` if unknown."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return "?"
    return name_of(argv)


def name_of(argv: list[str]) -> str:
    """A short name for a command line: a Python command's ``-m`` module (the one our launcher
    runs for ``python -m espnet_warmup -m X``; Kaldi's name for the job launchers), a script's
    name for an interpreter running a script (``bash ./asr.sh ...`` and its subshells ->
    ``asr.sh``), else the program's base name; ``?`` for an empty one."""
    if not argv:
        return "?"
    prog = os.path.basename(argv[0])
    if prog.startswith("python") and len(argv) > 2 and argv[1] == "-m":
        module = argv[2]
        if module == "espnet_warmup" and len(argv) > 4 and argv[3] == "-m":
            module = argv[4]
        return _PROGRAM_NAMES.get(module, module)
    if (prog.startswith("python") or prog in ("bash", "sh")) and len(argv) > 1 and not argv[1].startswith("-"):
        return os.path.basename(argv[1])
    return prog


def stop_tree(pid: int, sig: int, grace: float, exclude: tuple[int, ...] = (),
              poll: float = 0.05) -> tuple[list[tuple[int, str]], list[int]]:
    """Stop every descendant of ``pid`` (not ``pid`` itself): send ``sig`` to each (SIGTERM to one
    that ignores ``sig``, SIGKILL to one that ignores both), wait up to ``grace`` seconds for all
    of them to end, then SIGKILL the rest and wait for those too (a few seconds at most).

    The tree is listed once, before any signal is sent, so a child left to init by its dying
    parent is still waited for. Returns ``([(pid, program name), ...], [PIDs that needed
    SIGKILL])``; PIDs in ``exclude`` (e.g. the caller's own) are left alone.
    """
    tree = [p for p in descendants(pid) if p not in exclude]
    procs = {p: (start_ticks(p), program_name(p)) for p in tree}

    def alive(p: int) -> bool:
        return pid_alive(p) and start_ticks(p) == procs[p][0]

    for p in tree:
        s = sig
        if ignores_signal(p, s):
            s = signal.SIGKILL if ignores_signal(p, signal.SIGTERM) else signal.SIGTERM
        try:
            os.kill(p, s)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(poll)
    killed = [p for p in tree if alive(p)]
    signal_pids(killed, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(poll)
    return [(p, procs[p][1]) for p in tree], killed


def signal_pids(pids, sig: int) -> None:
    """Send ``sig`` to each of ``pids``; one that has already exited is skipped."""
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
