"""Stop every job of a recipe script that got a signal: ``asr.sh``'s signal trap calls this.

Usage::

    python3 -m espnet_warmup.recipe.launchers.stop --pid <script PID> --signal TERM|INT|HUP [--grace S]

Every descendant of ``--pid`` (the stage's background subshells, the monitor, espnet2.bin.launch,
run.pl or slurm.pl, the trainers, DDP workers...) gets the signal; one that ignores it (bash starts
background jobs with SIGINT ignored) gets SIGTERM. Each layer passes it on in its own way too:
the monitor to its child's tree, run.pl to its tasks' trees, slurm.pl by ``scancel`` of its job
ids. Then this waits up to ``--grace`` seconds (longer than run.pl's and slurm.pl's own waits)
for all of them to end, SIGKILLs what is left and prints one line (stdout) saying what was
stopped, e.g. ``stopped 5 processes: monitor (PID 101), espnet2.bin.launch (102), run.pl (103),
bash (104), espnet2.bin.asr_train (105)``. Exit status 0.
"""

from __future__ import annotations

import argparse
import os
import signal

from espnet_warmup.recipe.analysis.procs import STOP_SIGNALS, ancestors, stop_tree

#: Seconds the jobs get to end after the signal: more than run.pl's grace (5 s) and slurm.pl's
#: wait for squeue after scancel (30 s), so that each layer can clean up (log trailers) first.
GRACE_S = 45.0


def summary(stopped: list[tuple[int, str]], killed: list[int]) -> str:
    """``stopped 3 processes: monitor (PID 7), run.pl (8), espnet2.bin.asr_train (10)`` (+ the SIGKILLed)."""
    if not stopped:
        return "no job was running"
    parts = [f"{name} ({'PID ' if i == 0 else ''}{pid})" for i, (pid, name) in enumerate(stopped)]
    line = f"stopped {len(stopped)} process{'es' if len(stopped) != 1 else ''}: " + ", ".join(parts)
    if killed:
        line += f"; {len(killed)} did not end in time and were killed (SIGKILL): {' '.join(map(str, killed))}"
    return line


def main(argv: list[str] | None = None) -> int:
    names = {s.name[3:]: s for s in STOP_SIGNALS}
    parser = argparse.ArgumentParser(prog="python3 -m espnet_warmup.recipe.launchers.stop",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True, help="the script whose descendants are stopped")
    parser.add_argument("--signal", required=True, choices=sorted(names), help="the signal it got")
    parser.add_argument("--grace", type=float, default=GRACE_S,
                        help=f"seconds before what is left is killed (default {GRACE_S:.0f})")
    args = parser.parse_args(argv)
    # A second Ctrl-C must not cut the clean-up short. This process and the subshell that may
    # run it (a command substitution) are descendants of --pid too: they are left alone.
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    stopped, killed = stop_tree(args.pid, names[args.signal], args.grace, exclude=(os.getpid(), *ancestors(os.getpid())))
    print(summary(stopped, killed), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
