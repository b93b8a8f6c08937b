#!/usr/bin/env python3
"""Benchmark: cost of one scheduler step, ours vs ESPnet's own warmup schedulers, side by side.

Each scheduler wraps an Adam optimizer over a few parameter groups (as in a real model); we time
``scheduler.step()`` alone (the optimizer step is identical for all and excluded). Rounds are
interleaved (A, B, C, D, A, B, ...) so drift in machine load hits every scheduler alike, and
the median per-step time over rounds is reported with its ratio to ESPnet's
``piecewiselinearwarmuplr`` (OWSM's scheduler, the peer).

    python bench/scheduler_step.py [--steps 20000] [--rounds 7] [--groups 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import warnings
import json
import platform
import statistics
import time

import torch
from espnet2.schedulers.piecewise_linear_warmup_lr import PiecewiseLinearWarmupLR
from espnet2.schedulers.warmup_lr import WarmupLR

from espnet_warmup.schedulers import ExponentialWarmupLR, PolynomialWarmupLR

W = 50_000
# We step schedulers alone on purpose (the optimizer step is the same for all and excluded).
warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step\(\)` before")
FACTORIES = {
    "piecewiselinearwarmuplr (ESPnet, peer)": lambda o: PiecewiseLinearWarmupLR(
        o, warmup_steps_list=[0, 25_000, W], warmup_lr_list=[0.0, 2e-5, 2e-4]),
    "warmuplr (ESPnet)": lambda o: WarmupLR(o, warmup_steps=W),
    "exponentialwarmuplr (ours)": lambda o: ExponentialWarmupLR(o, warmup_steps=W, alpha=1.5),
    "polynomialwarmuplr (ours)": lambda o: PolynomialWarmupLR(o, warmup_steps=W, power=1.5),
}


def make_optimizer(groups: int) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(4))], "lr": 2e-4} for _ in range(groups)]
    return torch.optim.Adam(params, lr=2e-4)


def time_steps(factory, steps: int, groups: int, start: int) -> float:
    """Seconds per step for ``steps`` consecutive steps starting at update ``start``."""
    sched = factory(make_optimizer(groups))
    sched.last_epoch = start
    t0 = time.perf_counter()
    for _ in range(steps):
        sched.step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20_000, help="steps per round (half warmup, half tail)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--groups", type=int, default=2, help="optimizer parameter groups")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    times: dict[str, list[float]] = {name: [] for name in FACTORIES}
    for _ in range(args.rounds):
        for name, factory in FACTORIES.items():
            # half the steps inside the warmup, half in the inverse-sqrt tail
            warm = time_steps(factory, args.steps // 2, args.groups, start=W // 2)
            tail = time_steps(factory, args.steps // 2, args.groups, start=2 * W)
            times[name].append((warm + tail) / 2)

    peer = statistics.median(times["piecewiselinearwarmuplr (ESPnet, peer)"])
    rows = []
    print(f"scheduler.step() cost, median of {args.rounds} interleaved rounds x {args.steps} steps, "
          f"{args.groups} param groups; torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'scheduler':42s} {'us/step':>9s} {'ratio vs peer':>14s}")
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({"scheduler": name, "us_per_step": med * 1e6, "ratio_vs_piecewise": med / peer,
                     "spread_us": [min(ts) * 1e6, max(ts) * 1e6]})
        print(f"{name:42s} {med * 1e6:9.2f} {med / peer:14.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"steps": args.steps, "rounds": args.rounds, "groups": args.groups, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
