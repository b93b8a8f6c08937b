"""One trainer per experiment dir: the lock that stage 11 of asr.sh takes on ``<exp>/.lock``.

Usage (asr.sh, in the subshell that runs one training)::

    exec 9>> exp/asr_x/.lock
    python3 -m espnet_warmup.recipe.launchers.exp_lock --fd 9 --holder $BASHPID exp/asr_x

The lock is an ``flock`` on the open file behind ``--fd``, which the calling shell opened and keeps
open: this program takes it and exits, and the shell (and every process that inherits the fd:
the monitor, the launch command) holds it until the training ends. The kernel releases it when
the last of them exits, however it exits: a ``kill -9`` never leaves a stale lock.

Refused (exit 1, one line on stdout)::

    exp/asr_x is being trained by PID 1234 (host, started 2026-12-02T01:02:03); stop it or wait

when another process holds the lock, or when a process of this machine still trains into the
same dir without it (a trainer whose monitor and shell were killed with SIGKILL: its command line
names ``--output_dir`` of the same dir, seen from its own working directory). On success the lock
file holds ``pid=<holder> host=<host> started=<time>`` for the next refusal to name.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import socket
import sys
import time

from espnet_warmup.recipe.analysis.procs import ancestors, pid_alive, process_start_time


def _iso(when: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when)) if when else "at an unknown time"


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _output_dirs(argv: list[str]) -> list[str]:
    out = []
    for i, word in enumerate(argv):
        if word == "--output_dir" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif word.startswith("--output_dir="):
            out.append(word.split("=", 1)[1])
    return out


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def trainers_of(exp: str, skip: set[int]) -> list[int]:
    """Live processes of this machine (not in ``skip``) whose command line has ``--output_dir``
    naming ``exp`` (resolved from each process's working directory), oldest first."""
    target = os.path.realpath(exp)
    found = []
    for pid in _pids():
        if pid in skip:
            continue
        dirs = _output_dirs(_cmdline(pid))
        if not dirs:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if any(os.path.realpath(os.path.join(cwd, d)) == target for d in dirs) and pid_alive(pid):
            found.append(pid)
    return sorted(found, key=lambda p: process_start_time(p) or 0.0)


def holders_of(path: str, skip: set[int]) -> list[int]:
    """Live processes of this machine with ``path`` open (any fd), oldest first."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    found = []
    for pid in _pids():
        if pid in skip:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                fst = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if (fst.st_dev, fst.st_ino) == (st.st_dev, st.st_ino):
                if pid_alive(pid):
                    found.append(pid)
                break
    return sorted(found, key=lambda p: process_start_time(p) or 0.0)


def read_info(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            words = f.read().split()
    except OSError:
        return {}
    return dict(w.split("=", 1) for w in words if "=" in w)


def refusal(exp: str, pid: int, host: str, started: str) -> str:
    return f"{exp} is being trained by PID {pid} ({host}, started {started}); stop it or wait"


def who_holds(exp: str, lock: str, skip: set[int]) -> str:
    """The refusal for a held lock: the holder named in the lock file if it still runs here (or
    runs on another host: trusted), else the oldest live process that has the lock file open."""
    info, host = read_info(lock), socket.gethostname()
    pid = int(info["pid"]) if info.get("pid", "").isdigit() else None
    if pid is not None and info.get("host", host) != host:
        return refusal(exp, pid, info["host"], info.get("started", "at an unknown time"))
    holders = holders_of(lock, skip)
    if pid is not None and pid in holders:
        return refusal(exp, pid, host, info.get("started") or _iso(process_start_time(pid)))
    if holders:
        return refusal(exp, holders[0], host, _iso(process_start_time(holders[0])))
    return f"{exp} is locked ({lock}) by a process that could not be identified; stop it or wait"


def acquire(fd: int, exp: str, holder: int) -> str | None:
    """Take the lock on ``fd`` for ``holder``; None on success, else the refusal."""
    lock = os.path.join(exp, ".lock")
    skip = {os.getpid(), *ancestors(os.getpid())}
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return who_holds(exp, lock, skip)
    orphans = trainers_of(exp, skip)
    if orphans:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return refusal(exp, orphans[0], socket.gethostname(), _iso(process_start_time(orphans[0])))
    os.ftruncate(fd, 0)
    os.write(fd, f"pid={holder} host={socket.gethostname()} started={_iso(process_start_time(holder))}\n"
             .encode())
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m espnet_warmup.recipe.launchers.exp_lock",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="open file descriptor of <exp>/.lock")
    parser.add_argument("--holder", type=int, required=True, help="the PID that holds the lock (the shell)")
    parser.add_argument("exp", help="the experiment dir")
    args = parser.parse_args(argv)
    message = acquire(args.fd, args.exp, args.holder)
    if message is not None:
        print(message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
