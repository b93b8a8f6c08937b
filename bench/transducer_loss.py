#!/usr/bin/env python3
"""Benchmark: the sample-wise transducer loss vs torchaudio's batched rnnt_loss, memory and time.

Both variants compute, from the same ESPnet ``JointNetwork`` weights and the same encoder /
prediction-network outputs (leaf tensors ``[B, T, D]``, ``[B, U+1, D]``), the RNN-T loss *with the
joint network included*, forward and backward (``loss.backward()``, all gradients):

* ``batched``: ``torchaudio.functional.rnnt_loss(joint(enc.unsqueeze(2), dec.unsqueeze(1)), ...)``
  on the full padded ``B x T x (U+1) x V`` logits -- what ESPnet does with warp-transducer, whose
  memory profile is the same (logits + an equally large gradient, plus the joint's saved hidden);
* ``sample_wise``: :func:`espnet_warmup.transducer.transducer_loss` (default grouping).

Every sequence has the full length (T_b = T, U_b = U): no padding, the batched loss's best case.

What is measured, how. Each (variant, size) cell runs in a fresh child process (so one variant's
allocations, allocator caches and freed-but-kept pages cannot leak into the other's figure). The
child imports everything, runs the variant once on a tiny batch (lazy initialisation), builds the
inputs, then reads its peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``), runs the
measured step(s), and reads it again: **peak memory = the rise of the child's peak RSS over that
baseline**, i.e. everything the step itself made resident (tensors, autograd's saved tensors,
allocator overhead, kernel workspaces), measured by the OS rather than by a tensor allocator that
sees only part of it. The baseline (interpreter + torch + inputs, ~0.5 GB) is reported apart.
Time: wall-clock of one forward + backward step, the best of ``--steps`` consecutive steps in the
child (``--steps 1``: the only one; a first step pays the page faults of its fresh allocations, as
every step of a training loop does for tensors this large, which glibc returns to the OS on free).
Cells are interleaved batched / sample-wise so drift in machine load hits both alike. On CUDA
(``--device cuda``): ``torch.cuda.max_memory_allocated()`` over ``memory_allocated()`` before the
step (after ``reset_peak_memory_stats``), and synchronised wall-clock.

A batched cell whose estimated peak (``4 B T (U+1) (3V + 2J)`` bytes: logits, their gradient, the
backward's scaled copy of it, the joint's pre-activation and hidden) exceeds ``--max-batched-gb`` is
skipped with the estimate in the table (no child is started).

    python bench/transducer_loss.py --out OUT                    # headline + all tables, this CPU
    python bench/transducer_loss.py --out OUT --sections headline
    python bench/transducer_loss.py --out OUT --sections B,T,U,V --base 8,100,20,500
    python bench/transducer_loss.py --device cuda --out OUT --sections headline \\
        --headline 1024,1000,150,1000 --joint 512 --max-batched-gb 100   # the paper's scale, GPU

Results go to ``OUT/transducer_loss.json`` (merged with what an earlier run of other sections left
there) and ``OUT/transducer_loss.md`` (regenerated from the JSON). The ``--device cuda`` path is
written for a GPU machine; it has not been run on this project's CPU-only machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("batched", "sample_wise")
SWEEPS = {"B": [8, 16, 32, 64, 128], "T": [50, 100, 200, 400], "U": [10, 20, 40, 80], "V": [250, 500, 1000, 2000]}
AXES = "BTUV"


def parse_size(text: str) -> dict:
    values = [int(v) for v in text.split(",")]
    if len(values) != 4 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"a size is B,T,U,V (4 positive integers), got {text!r}")
    return dict(zip(AXES, values))


def batched_estimate_bytes(size: dict, joint: int) -> int:
    return 4 * size["B"] * size["T"] * (size["U"] + 1) * (3 * size["V"] + 2 * joint)


# ------------------------------------------------------------------------------------------ child


def child(variant: str, size: dict, joint: int, dim: int, device: str, steps: int, threads: int) -> dict:
    import resource

    import torch
    import torchaudio.functional as taf
    from espnet2.asr_transducer.joint_network import JointNetwork

    from espnet_warmup.transducer import transducer_loss

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)

    def make(B, T, U, V, seed=0):
        torch.manual_seed(seed)
        net = JointNetwork(V, dim, dim, joint_space_size=joint).to(dev)
        enc = torch.randn(B, T, dim, device=dev, requires_grad=True)
        dec = torch.randn(B, U + 1, dim, device=dev, requires_grad=True)
        targets = torch.randint(1, V, (B, U), device=dev)
        t_lens = torch.full((B,), T, dtype=torch.int32, device=dev)
        u_lens = torch.full((B,), U, dtype=torch.int32, device=dev)
        return net, enc, dec, targets, t_lens, u_lens

    def step(net, enc, dec, targets, t_lens, u_lens):
        if variant == "batched":
            logits = net(enc.unsqueeze(2), dec.unsqueeze(1))
            loss = taf.rnnt_loss(logits, targets.int(), t_lens, u_lens, blank=0, reduction="mean")
            del logits
        else:
            loss = transducer_loss(net, enc, dec, targets, t_lens, u_lens, blank=0, reduction="mean")
        loss.backward()
        return float(loss)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    step(*make(2, 4, 2, size["V"]))  # lazy initialisation, tiny
    inputs = make(size["B"], size["T"], size["U"], size["V"])
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times, loss = [], None
    for _ in range(steps):
        for t in inputs:
            if isinstance(t, torch.Tensor):
                t.grad = None
        inputs[0].zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        loss = step(*inputs)
        sync()
        times.append(time.perf_counter() - t0)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {"variant": variant, **size, "joint": joint, "peak_bytes": peak, "baseline_bytes": base,
            "time_s": min(times), "times_s": times, "loss": loss}


def run_child(variant, size, args) -> dict:
    cmd = [sys.executable, __file__, "--_child", variant, ",".join(str(size[a]) for a in AXES),
           "--joint", str(args.joint), "--dim", str(args.dim), "--device", args.device,
           "--steps", str(args.steps), "--threads", str(args.threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.cell_timeout)
    if proc.returncode != 0:
        return {"variant": variant, **size, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------- parent


def measure(size: dict, args, log) -> dict:
    """Both variants at one size (batched skipped when its estimate exceeds the budget)."""
    cell = {"size": size, "batched_estimate_bytes": batched_estimate_bytes(size, args.joint)}
    for variant in VARIANTS:
        if variant == "batched" and cell["batched_estimate_bytes"] > args.max_batched_gb * 2**30:
            cell[variant] = {"skipped": f"estimated {cell['batched_estimate_bytes'] / 2**30:.1f} GB "
                                        f"> --max-batched-gb {args.max_batched_gb}"}
        else:
            cell[variant] = run_child(variant, size, args)
        log(f"{size} {variant}: {json.dumps({k: v for k, v in cell[variant].items() if k not in AXES})}")
    b, s = cell["batched"], cell["sample_wise"]
    if "peak_bytes" in b and "peak_bytes" in s:
        cell["memory_ratio"] = s["peak_bytes"] / b["peak_bytes"]
        cell["time_ratio"] = s["time_s"] / b["time_s"]
        cell["loss_rel_diff"] = abs(s["loss"] - b["loss"]) / abs(b["loss"])
    return cell


def fmt_mb(entry: dict) -> str:
    if "peak_bytes" in entry:
        return f"{entry['peak_bytes'] / 2**20:,.0f}"
    return "skipped" if "skipped" in entry else "error"


def fmt_s(entry: dict) -> str:
    return f"{entry['time_s']:.2f}" if "time_s" in entry else "-"


def markdown(results: dict) -> str:
    meta = results.get("meta", {})
    lines = ["# Transducer loss: sample-wise vs torchaudio batched (joint included, forward + backward)", "",
             f"Machine: {meta.get('machine', '?')}; device {meta.get('device', '?')}; torch threads "
             f"{meta.get('threads', '?')}; joint dim J={meta.get('joint')}, encoder/decoder dim D={meta.get('dim')}; "
             f"fp32; full lengths; peak = rise of the child's "
             f"{'max_memory_allocated' if meta.get('device') == 'cuda' else 'peak RSS'} during the step; "
             f"time = the best of the section's steps per cell.", ""]

    def how(section):
        return [f"Steps per cell: {section.get('steps', '?')}; command: `{section.get('command', '?')}`", ""]
    head = "| {} | batched MB | sample-wise MB | memory ratio | batched s | sample-wise s | time ratio | loss rel. diff |"
    rule = "|---:|---:|---:|---:|---:|---:|---:|---:|"

    def row(label, cell):
        b, s = cell["batched"], cell["sample_wise"]
        ratio = cell.get("memory_ratio")
        mem = "-" if ratio is None else f"{ratio:.4f}" + (f" (1/{1 / ratio:.0f})" if ratio > 0 else "")
        tim = f"{cell['time_ratio']:.2f}x" if "time_ratio" in cell else "-"
        diff = f"{cell['loss_rel_diff']:.1e}" if "loss_rel_diff" in cell else "-"
        bmb = fmt_mb(b) if "skipped" not in b else f"skipped (est. {cell['batched_estimate_bytes'] / 2**20:,.0f})"
        return f"| {label} | {bmb} | {fmt_mb(s)} | {mem} | {fmt_s(b)} | {fmt_s(s)} | {tim} | {diff} |"

    if "headline" in results:
        cell = results["headline"]
        size = cell["size"]
        lines += ["## Headline", "", f"B={size['B']}, T={size['T']}, U={size['U']}, V={size['V']}", "",
                  head.format("size"), rule, row(",".join(str(size[a]) for a in AXES), cell), ""] + how(cell)
        base = cell["sample_wise"].get("baseline_bytes")
        if base:
            lines += [f"Child baseline before the step (not included above): {base / 2**20:,.0f} MB.", ""]
    for axis in AXES:
        key = f"sweep_{axis}"
        if key in results:
            sweep = results[key]
            fixed = ", ".join(f"{a}={v}" for a, v in sweep["base"].items() if a != axis)
            lines += [f"## Growing {axis} ({fixed})", "", head.format(axis), rule]
            lines += [row(str(cell["size"][axis]), cell) for cell in sweep["cells"]]
            lines += [""] + how(sweep)
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="directory for transducer_loss.{json,md}")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sections", default="headline,B,T,U,V", help="comma list of headline,B,T,U,V")
    ap.add_argument("--headline", type=parse_size, default=parse_size("32,500,100,500"), help="B,T,U,V")
    ap.add_argument("--base", type=parse_size, default=parse_size("8,100,20,500"),
                    help="B,T,U,V the sweeps start from (each sweep varies one axis)")
    for axis in AXES:
        ap.add_argument(f"--{axis}-values", default=",".join(map(str, SWEEPS[axis])), help=f"values of {axis}")
    ap.add_argument("--joint", type=int, default=320, help="joint dim J")
    ap.add_argument("--dim", type=int, default=256, help="encoder / decoder output dim D")
    ap.add_argument("--steps", type=int, default=1, help="steps per cell (the best is reported)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the children (0: torch's default)")
    ap.add_argument("--max-batched-gb", type=float, default=12.0,
                    help="skip batched cells whose estimated peak exceeds this")
    ap.add_argument("--cell-timeout", type=float, default=1800.0, help="seconds per child")
    ap.add_argument("--render", action="store_true", help="only rewrite OUT/transducer_loss.md from the JSON")
    ap.add_argument("--_child", nargs=2, metavar=("VARIANT", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._child:
        variant, size = args._child[0], parse_size(args._child[1])
        print(json.dumps(child(variant, size, args.joint, args.dim, args.device, args.steps, args.threads)))
        return 0
    if args.out is None:
        ap.error("--out is required")
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "transducer_loss.json"
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    if args.render:
        (args.out / "transducer_loss.md").write_text(markdown(results))
        print(markdown(results))
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    import torch

    results["meta"] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
                       "device": args.device, "threads": args.threads or torch.get_num_threads(),
                       "joint": args.joint, "dim": args.dim, "steps": args.steps, "torch": torch.__version__,
                       "command": " ".join([Path(sys.executable).name, *sys.argv])}
    if args.device == "cuda":
        results["meta"]["gpu"] = torch.cuda.get_device_name(0)
    sections = [s for s in args.sections.split(",") if s]
    for section in sections:
        t0 = time.perf_counter()
        how = {"steps": args.steps, "command": results["meta"]["command"]}
        if section == "headline":
            results["headline"] = {**measure(args.headline, args, log), **how}
        elif section in SWEEPS:
            values = [int(v) for v in getattr(args, f"{section}_values").split(",")]
            cells = [measure({**args.base, section: v}, args, log) for v in values]
            results[f"sweep_{section}"] = {"base": args.base, "cells": cells, **how}
        else:
            ap.error(f"unknown section {section!r} (headline, B, T, U, V)")
        log(f"section {section}: {time.perf_counter() - t0:.0f} s")
        json_path.write_text(json.dumps(results, indent=1))
        (args.out / "transducer_loss.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
