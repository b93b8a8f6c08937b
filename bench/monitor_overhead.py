"""Measure what the live divergence monitor costs: its CPU time while following a log.

    python bench/monitor_overhead.py exp/<any>/train.log [--seconds 60] [--rate 20] [--poll 1] [--mode run|follow]

Replays the interval lines of a real ESPnet train.log into a fresh log at ``--rate`` lines
per second (far more than a real run writes: ESPnet's default log_interval gives a line
every tens of seconds) for ``--seconds``, with the monitor running (``--mode run``, what stage 11
does: ``monitor ... -- sleep N``) or following (``--mode follow``: ``--follow-pid``) a stand-in
for the training (``sleep``); prints the monitor's user+system CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", help="a real ESPnet train.log to replay")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=20.0, help="lines per second")
    ap.add_argument("--poll", type=float, default=1.0, help="the monitor's --poll")
    ap.add_argument("--mode", choices=("run", "follow"), default="run",
                    help="run: the monitor starts the stand-in; follow: it follows its PID")
    args = ap.parse_args()
    lines = [line for line in Path(args.log).read_text().splitlines(keepends=True) if "batch:" in line]
    if not lines:
        print(f"{args.log}: no interval lines to replay", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "train.log"
        log.write_text("")
        monitor = [sys.executable, "-m", "espnet_warmup.recipe.analysis.monitor", "--log", str(log),
                   "--poll", str(args.poll)]
        if args.mode == "run":
            job = None
            mon = subprocess.Popen([*monitor, "--", "sleep", str(args.seconds)], stderr=subprocess.DEVNULL)
        else:
            job = subprocess.Popen(["sleep", str(args.seconds)])
            mon = subprocess.Popen([*monitor, "--follow-pid", str(job.pid)], stderr=subprocess.DEVNULL)
        t0, n = time.monotonic(), 0
        with open(log, "a") as f:
            # (run mode: the monitor ends with its command; it is not polled here, wait4 reaps it)
            while (job.poll() is None) if job is not None else (time.monotonic() < t0 + args.seconds):
                f.write(lines[n % len(lines)])
                f.flush()
                n += 1
                time.sleep(1.0 / args.rate)
        # (sleep's own CPU, counted in run mode as the monitor's waited-for child, is ~0)
        _, status, usage = os.wait4(mon.pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
        wall = time.monotonic() - t0
    print(f"monitor: {cpu:.2f} CPU-s over {wall:.0f} s wall ({n} lines replayed, poll {args.poll} s) "
          f"= {100 * cpu / wall:.2f}% of one core ({args.mode} mode), including its ~1 s Python start-up")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
