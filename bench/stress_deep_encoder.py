"""Deeper-encoder stress setting: the four warmup policies with more encoder blocks and a
higher peak LR, to look for the instability the paper reports at scale.

    python bench/stress_deep_encoder.py --blocks 12 --peak_lr 3e-3            # write configs, print commands
    python bench/stress_deep_encoder.py --blocks 12 --peak_lr 3e-3 --run      # and run stages 10-13, curves, report

Configs: ``conf/train_{linear,owsm,poly,exp}_warmup.yaml`` with ``encoder_conf.num_blocks``
and ``optim_conf.lr`` replaced (the OWSM piecewise ``warmup_lr_list`` is scaled by the
same factor, so its last knot stays equal to the peak and ESPnet's scheduler does not
jump) and ``log_interval`` lowered so that short grad-norm spikes are not averaged away.
They go to ``bench_out/stress/conf/train_<policy>_warmup_e<blocks>_lr<peak>.yaml`` (so the
exp dirs are ``exp/asr_train_<policy>_warmup_e<blocks>_lr<peak>``); the report goes to
``bench_out/stress/RESULTS.md``, never over the recipe's RESULTS.md. Stages 1-5 (data,
tokens) must have run first (``./run.sh --stop_stage 5``, or the full recipe).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

POLICIES = ("linear", "owsm", "poly", "exp")


def stress_config(conf: dict, blocks: int, peak_lr: float, log_interval: int) -> dict:
    """A copy of ``conf`` with a deeper encoder and another peak LR (see module doc)."""
    if blocks < 1:
        raise ValueError(f"--blocks must be >= 1, got {blocks}")
    if not peak_lr > 0:
        raise ValueError(f"--peak_lr must be > 0, got {peak_lr}")
    out = yaml.safe_load(yaml.safe_dump(conf))  # deep copy
    old_lr = float(out["optim_conf"]["lr"])
    out["encoder_conf"]["num_blocks"] = int(blocks)
    out["optim_conf"]["lr"] = float(peak_lr)
    if out.get("scheduler") == "piecewiselinearwarmuplr":
        sc = out["scheduler_conf"]
        sc["warmup_lr_list"] = [float(v) * peak_lr / old_lr for v in sc["warmup_lr_list"]]
    out["log_interval"] = int(log_interval)
    return out


def write_configs(conf_dir: Path, out_dir: Path, blocks: int, peak_lr: float, log_interval: int) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for policy in POLICIES:
        src = conf_dir / f"train_{policy}_warmup.yaml"
        if not src.is_file():
            raise FileNotFoundError(f"{src}: no such config (expected the recipe's four policy configs)")
        conf = stress_config(yaml.safe_load(src.read_text()), blocks, peak_lr, log_interval)
        dst = out_dir / f"train_{policy}_warmup_e{blocks}_lr{peak_lr:g}.yaml"
        header = (f"# Stress variant of {src} (bench/stress_deep_encoder.py): "
                  f"encoder num_blocks={blocks}, peak lr={peak_lr:g}, log_interval={log_interval}\n")
        dst.write_text(header + yaml.safe_dump(conf, sort_keys=False))
        paths.append(dst)
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=12, help="encoder blocks (recipe default: 4)")
    ap.add_argument("--peak_lr", type=float, default=3e-3, help="peak LR (recipe default: 1e-3)")
    ap.add_argument("--log_interval", type=int, default=5)
    ap.add_argument("--conf_dir", default="conf")
    ap.add_argument("--out", default="bench_out/stress")
    ap.add_argument("--run", action="store_true", help="run ./run.sh stages 10-13, then curves and report")
    ap.add_argument("run_args", nargs="*", help="extra ./run.sh options (after --)")
    args = ap.parse_args()
    out = Path(args.out)
    try:
        configs = write_configs(Path(args.conf_dir), out / "conf", args.blocks, args.peak_lr, args.log_interval)
    except (ValueError, FileNotFoundError) as err:
        print(f"stress_deep_encoder: {err}", file=sys.stderr)
        return 2
    exps = [f"exp/asr_{p.stem}" for p in configs]
    cmds = [
        ["./run.sh", "--stage", "10", "--stop_stage", "13", "--train_config", " ".join(map(str, configs)),
         *args.run_args],
        ["espnet-warmup", "plot-lr", *map(str, configs), "--steps", "600", "-o", str(out / "lr.png")],
        ["espnet-warmup", "curves", *exps, "-o", str(out / "curves.png")],
        ["espnet-warmup", "report", "--out", str(out / "RESULTS.md"), *exps],
    ]
    for c in cmds:
        print(" ".join(f'"{a}"' if " " in a else a for a in c))
    if args.run:
        for c in cmds:
            rc = subprocess.call(c)
            if rc != 0:
                print(f"stress_deep_encoder: {c[0]} {c[1]} failed (exit {rc})", file=sys.stderr)
                return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
