"""A stand-in for an ESPnet training job, for the monitor's run-mode tests (a real process, no ESPnet).

    python fake_trainer.py LOG [--grad_norms 5,5,...] [--epoch_len N] [--delay S] [--linger S]
                               [--exit_code K] [--grandchild]

Writes ESPnet's train.log lines (``E/Mepoch started``, ``Eepoch:train:a-bbatch: k=v, ...``,
``Eepoch results: [train] ... [valid] ...``) to LOG, one per ``--delay`` seconds, one interval
per grad norm (a ``nan`` norm also writes ESPnet's skip warning first). Then it writes ESPnet's
"training was finished" line, or, with ``--linger S``, starts one more epoch (so the last
checkpoint save has ended) and stays alive S seconds; it exits ``--exit_code`` (-K: dies of
signal K). ``--grandchild`` starts a ``sleep`` child first (to check that a whole process tree
is stopped) and prints its PID. On SIGTERM/SIGINT it prints ``got <SIGNAME>`` and exits 128 + N,
as a killed process's status would read (``--python_signals``: it keeps the dispositions Python
starts with instead).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import time

PREFIX = "[host] 2026-01-01 00:00:00,000 (trainer:811) INFO: "


def _on_signal(signum, frame):
    print(f"got {signal.Signals(signum).name}", flush=True)
    os._exit(128 + signum)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--grad_norms", default=",".join(["5.0"] * 8))
    ap.add_argument("--epoch_len", type=int, default=4)
    ap.add_argument("--delay", type=float, default=0.02)
    ap.add_argument("--linger", type=float, default=0.0)
    ap.add_argument("--exit_code", type=int, default=0)
    ap.add_argument("--grandchild", action="store_true")
    ap.add_argument("--python_signals", action="store_true",
                    help="keep the signal dispositions Python starts with (as ESPnet's trainer does)")
    args = ap.parse_args()
    if not args.python_signals:
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, _on_signal)
    if args.grandchild:
        gc = subprocess.Popen(["sleep", "120"])
        print(f"grandchild {gc.pid}", flush=True)
    print("fake training starts", flush=True)
    print("a line on stderr", file=sys.stderr, flush=True)
    norms = [float(g) for g in args.grad_norms.split(",")]
    n_epochs = math.ceil(len(norms) / args.epoch_len)
    with open(args.log, "w") as log:
        def write(line: str) -> None:
            log.write(line + "\n")
            log.flush()
            time.sleep(args.delay)

        for k, g in enumerate(norms):
            epoch, batch = k // args.epoch_len + 1, k % args.epoch_len + 1
            if batch == 1:
                write(f"{PREFIX}{epoch}/{n_epochs}epoch started")
            if not math.isfinite(g):
                write(PREFIX.replace("INFO", "WARNING") + "The grad norm is nan. Skipping updating the model.")
            write(f"{PREFIX}{epoch}epoch:train:{batch}-{batch}batch: iter_time=0.010, loss=10.000, loss_att=8.000, "
                  f"grad_norm={g:.3f}, clip=0.000, optim0_lr0=1.000e-04")
            if batch == args.epoch_len or k == len(norms) - 1:
                write(f"{PREFIX}{epoch}epoch results: [train] loss=10.000, total_count={k + 1}, "
                      "[valid] loss=9.000, loss_att=6.000, acc=0.500")
        if args.linger == 0:
            write(f"{PREFIX}The training was finished at {n_epochs} epochs")
        else:  # still training: the next epoch starts (so the last checkpoint save has ended)
            write(f"{PREFIX}{n_epochs + 1}/{n_epochs + 1}epoch started")
    time.sleep(args.linger)
    if args.exit_code < 0:  # die of signal -K
        if -args.exit_code in (signal.SIGTERM, signal.SIGINT):
            signal.signal(-args.exit_code, signal.SIG_DFL)
        os.kill(os.getpid(), -args.exit_code)
    return args.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
