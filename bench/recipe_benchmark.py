#!/usr/bin/env python3
"""Benchmark of the default recipe: ``./run.sh`` (four policies, stages 1-14) from scratch.

Runs the recipe stage by stage in a fresh recipe dir (links to this checkout, like
``egs2/*/asr1``), so each stage's wall time and peak memory (the largest process's
maximum resident set size, from GNU time) are measured separately; the outputs are
the same as one ``./run.sh`` call, because every stage skips finished work and the
stages run in order. Then it reads every policy's ``scores.json`` and writes
``<out>.md`` and ``<out>.json`` with per-stage time/memory, per-policy training time,
WER/CER per policy and language, and the verdict on the goal (<= 25 min in all,
<= 10% WER for every policy).

Usage (from the repository root; takes ~25 minutes on a 2-core CPU)::

    python3 bench/recipe_benchmark.py [--workdir bench_out/recipe] [--out bench_out/recipe_benchmark] \\
        [-- <extra ./run.sh options>]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINKS = ("run.sh", "asr.sh", "path.sh", "cmd.sh", "db.sh", "utils", "local", "conf")
STAGES = (1, 2, 3, 4, 5, 10, 11, 12, 13, 14)
NAMES = {1: "data prep (synthesis)", 2: "speed perturbation", 3: "format audio", 4: "filter by length",
         5: "token list", 10: "collect stats", 11: "train (4 policies)", 12: "decode", 13: "score",
         14: "report"}
GOAL_MINUTES, GOAL_WER = 25.0, 10.0


def make_recipe_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    for name in LINKS:
        (path / name).symlink_to(ROOT / name)


def run_stage(recipe: Path, stage: int, extra: list[str], logdir: Path) -> dict:
    """One stage under GNU time: wall seconds and peak RSS (MiB) of its largest process."""
    timing = logdir / f"stage{stage}.time"
    log = logdir / f"stage{stage}.log"
    cmd = ["/usr/bin/time", "-f", "%e %M", "-o", str(timing), "./run.sh", "--stage", str(stage),
           "--stop_stage", str(stage), *extra]
    t0 = time.time()
    with open(log, "w") as f:
        code = subprocess.call(cmd, cwd=recipe, stdout=f, stderr=subprocess.STDOUT)
    wall = time.time() - t0
    fields = timing.read_text().split()[-2:] if timing.exists() else ["nan", "0"]
    if code != 0:
        print(f"stage {stage} failed (exit {code}); read {log}", file=sys.stderr)
    return {"stage": stage, "name": NAMES[stage], "wall_s": round(wall, 1),
            "peak_rss_mib": round(int(fields[1]) / 1024, 1), "exit": code, "log": str(log)}


def training_seconds(exp: Path) -> float | None:
    """The training job's own time, from run.pl's trailer in train.log."""
    log = exp / "train.log"
    if not log.exists():
        return None
    m = re.findall(r"^# Accounting: time=(\d+)", log.read_text(errors="replace"), re.M)
    return float(m[-1]) if m else None


def scores(recipe: Path) -> list[dict]:
    rows = []
    for exp in sorted((recipe / "exp").glob("asr_train_*")):
        for sj in sorted(exp.glob("*/*/scores.json")):
            s = json.loads(sj.read_text())
            row = {"exp": exp.name, "decode": f"{sj.parent.parent.name}/{sj.parent.name}",
                   "train_s": training_seconds(exp)}
            for metric in ("wer", "cer"):
                for lang, v in s.get(metric, {}).items():
                    row[f"{metric}_{lang}"] = v.get("err")
            rows.append(row)
    return rows


def markdown(stages: list[dict], rows: list[dict], total_s: float, verdict: dict) -> str:
    out = ["# Recipe benchmark: ./run.sh (4 policies, stages 1-14)", "",
           f"- machine: {os.cpu_count()} CPUs, {os.uname().nodename}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
           f"- total wall time: {total_s / 60:.1f} min (goal <= {GOAL_MINUTES:.0f} min): "
           f"{'PASS' if verdict['time_ok'] else 'FAIL'}",
           f"- worst WER: {verdict['worst_wer']} % (goal <= {GOAL_WER:.0f} % for every policy): "
           f"{'PASS' if verdict['wer_ok'] else 'FAIL'}", "",
           "| stage | what | wall (s) | peak RSS (MiB) | exit |", "|---|---|---|---|---|"]
    out += [f"| {s['stage']} | {s['name']} | {s['wall_s']} | {s['peak_rss_mib']} | {s['exit']} |" for s in stages]
    out += ["", "| experiment | decode/test set | train (s) | WER | WER en | WER it | CER | CER en | CER it |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['exp']} | {r['decode']} | {r['train_s']} | {r.get('wer_all')} | {r.get('wer_en')} | "
                   f"{r.get('wer_it')} | {r.get('cer_all')} | {r.get('cer_en')} | {r.get('cer_it')} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", default=str(ROOT / "bench_out" / "recipe"), help="fresh recipe dir (replaced)")
    p.add_argument("--out", default=str(ROOT / "bench_out" / "recipe_benchmark"), help="writes <out>.md and <out>.json")
    p.add_argument("extra", nargs="*", help="extra ./run.sh options (after --)")
    args = p.parse_args(argv)
    recipe = Path(args.workdir).resolve()
    make_recipe_dir(recipe)
    logdir = recipe / "bench_logs"
    logdir.mkdir()
    stages, t0 = [], time.time()
    for st in STAGES:
        res = run_stage(recipe, st, args.extra, logdir)
        stages.append(res)
        print(f"stage {st:>2} {res['name']:<22} {res['wall_s']:>7.1f} s  {res['peak_rss_mib']:>7.1f} MiB  exit {res['exit']}",
              flush=True)
        if res["exit"] != 0:
            break
    total = time.time() - t0
    rows = scores(recipe)
    wers = [r.get("wer_all") for r in rows]
    verdict = {"total_min": round(total / 60, 2), "time_ok": total <= GOAL_MINUTES * 60,
               "worst_wer": max((w for w in wers if w is not None), default=None),
               "wer_ok": len(rows) == 4 and all(w is not None and w <= GOAL_WER for w in wers)}
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"stages": stages, "scores": rows, "verdict": verdict}, indent=2))
    md = markdown(stages, rows, total, verdict)
    out.with_suffix(".md").write_text(md)
    print(md)
    return 0 if verdict["time_ok"] and verdict["wer_ok"] and all(s["exit"] == 0 for s in stages) else 1


if __name__ == "__main__":
    sys.exit(main())
