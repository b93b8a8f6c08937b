#!/usr/bin/env python3
"""The warmup study across seeds (issue 12): the paper's four warmups with the inverse-sqrt and a
cosine tail, and polynomial warmups of power 1.0, 1.2, 1.5 and 2.0, each trained with every seed
on the embedded corpus; WER, updates to the target accuracy and warmup grad-norm peaks as mean,
sample sd and range per policy.

Every policy has the default recipe's model, data, optimizer and budget (600 updates, peak 1e-3,
250 warmup updates); only ``scheduler``/``scheduler_conf`` differ. The repo's configs are used as
they are (conf/train_{linear,owsm,poly,exp}_warmup.yaml, conf/train_{linear,exp}_cosine.yaml);
the others are written from conf/train_linear_warmup.yaml with the scheduler replaced, into
``<workdir>/asr1/study_conf/`` (OWSM's piecewise-linear and the polynomial warmup with the cosine
tail, and the polynomial powers).

The runs go through the recipe as a user runs it: stages 1-10 once, then per group of policies
``./run.sh --stage 11 --stop_stage 13 --train_config "..." --seeds "1 2 3"`` (two trainings at a
time). A rerun skips every finished training, decoding and scoring (the recipe's stage markers),
so the study can be run in pieces (``--groups``) and resumed after an interruption. At the end the
report (stage 14's, ``espnet-warmup report``) is written over every finished run, and
``<out>.md``/``<out>.json`` list the aggregates and which runs are still missing.

Usage (from the repository root; ~10 min per two trainings on a 2-core CPU, 33 trainings)::

    python3 bench/seed_study.py [--workdir bench_out/seed_study] [--out bench_out/seed_study/study] \\
        [--seeds "1 2 3"] [--groups paper,cosine,powers,transducer] [--report_only]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LINKS = ("run.sh", "asr.sh", "path.sh", "cmd.sh", "db.sh", "utils", "local", "conf")
BASE = "conf/train_linear_warmup.yaml"
OWSM_KNOTS = {"knot_steps": [0, 125], "knot_lr_ratios": [0.0, 0.1]}  # OWSM's [0, 125, 250] -> [0, 1e-4, 1e-3]
COSINE = {"tail": "cosine", "total_steps": 600, "min_lr_ratio": 0.01}

#: group -> [(policy label, config path in the recipe dir, generated scheduler or None)]
GROUPS: dict[str, list[tuple[str, str, dict | None]]] = {
    "paper": [
        ("linear + inverse-sqrt", "conf/train_linear_warmup.yaml", None),
        ("OWSM piecewise-linear + inverse-sqrt", "conf/train_owsm_warmup.yaml", None),
        ("polynomial 1.5 + inverse-sqrt", "conf/train_poly_warmup.yaml", None),
        ("exponential + inverse-sqrt", "conf/train_exp_warmup.yaml", None),
    ],
    "cosine": [
        ("linear + cosine", "conf/train_linear_cosine.yaml", None),
        ("OWSM piecewise-linear + cosine", "study_conf/train_owsm_cosine.yaml",
         {"shape": "piecewise", **OWSM_KNOTS, "warmup_steps": 250, **COSINE}),
        ("polynomial 1.5 + cosine", "study_conf/train_poly_cosine.yaml",
         {"shape": "polynomial", "power": 1.5, "warmup_steps": 250, **COSINE}),
        ("exponential + cosine", "conf/train_exp_cosine.yaml", None),
    ],
    "powers": [
        (f"polynomial {p} + inverse-sqrt", f"study_conf/train_poly_p{p}.yaml",
         {"shape": "polynomial", "power": p, "warmup_steps": 250, "tail": "inverse_sqrt"})
        for p in (1.0, 1.2, 2.0)  # 1.5 is conf/train_poly_warmup.yaml (group paper)
    ],
    # The paper's four warmups on the Conformer-transducer (issue 15): same encoder, data, budget and
    # schedulers as group paper, the attention decoder replaced by the sample-wise RNN-T loss.
    "transducer": [
        ("transducer: linear + inverse-sqrt", "conf/train_transducer_linear_warmup.yaml", None),
        ("transducer: OWSM piecewise-linear + inverse-sqrt", "conf/train_transducer_owsm_warmup.yaml", None),
        ("transducer: polynomial 1.5 + inverse-sqrt", "conf/train_transducer_poly_warmup.yaml", None),
        ("transducer: exponential + inverse-sqrt", "conf/train_transducer_exp_warmup.yaml", None),
    ],
}


def exp_name(config: str, seed: int) -> str:
    return f"asr_{Path(config).stem}_seed{seed}"


def make_recipe(recipe: Path) -> None:
    recipe.mkdir(parents=True, exist_ok=True)
    for name in LINKS:
        link = recipe / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)


def write_generated(recipe: Path) -> None:
    """The study's own configs: the base config with its scheduler replaced (written when missing
    or different, so a finished run's config is not touched)."""
    base = yaml.safe_load((ROOT / BASE).read_text())
    for items in GROUPS.values():
        for label, config, sched in items:
            if sched is None:
                continue
            conf = dict(base, scheduler="warmupschedulelr", scheduler_conf=sched)
            text = (f"# Written by bench/seed_study.py: {BASE} with the scheduler replaced ({label}).\n"
                    + yaml.safe_dump(conf, sort_keys=False))
            path = recipe / config
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_text() != text:
                path.write_text(text)


def run(recipe: Path, args: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{time.strftime('%H:%M:%S')}] ./run.sh {' '.join(args)}  (log: {log})", flush=True)
    with open(log, "a") as f:
        return subprocess.call(["./run.sh", *args], cwd=recipe, stdout=f, stderr=subprocess.STDOUT)


def finished(recipe: Path, config: str, seed: int) -> bool:
    exp = recipe / "exp" / exp_name(config, seed)
    return any(exp.glob("decode_*/*/score_wer/result.txt")) and any(exp.glob("decode_*/*/scores.json"))


def add_paired(groups: list[dict], rows: list[dict], test_set: str = "test") -> None:
    """Per study group, each policy's test WER minus the group's first policy's, seed by seed (the runs of
    one seed share initialisation and batch order): ``paired`` = {"reference", "diff": Spread, "lower": the
    seeds where this policy's WER is lower}. Seeds missing in either are left out."""
    from espnet_warmup.recipe.report import Spread

    wer = {}
    for r in rows:
        scores = (r.get("scores") or {}).get(test_set)
        value = (scores or {}).get("wer", {}).get("all", {}).get("err")
        if value is not None and r.get("seed") is not None:
            wer[(r["name"].rsplit("_seed", 1)[0], int(r["seed"]))] = float(value)
    by_group: dict[str, list[dict]] = {}
    for g in groups:
        by_group.setdefault(g["group"], []).append(g)
    for members in by_group.values():
        ref = members[0]
        for g in members:
            seeds = [int(s) for s in g["seeds"] if s is not None]
            pairs = [(wer[(g["policy"], s)], wer[(ref["policy"], s)]) for s in seeds
                     if (g["policy"], s) in wer and (ref["policy"], s) in wer]
            g["paired"] = {"reference": ref["label"], "diff": Spread.of([a - b for a, b in pairs]),
                           "lower": sum(1 for a, b in pairs if a < b)}


def summarize(recipe: Path, out: Path, seeds: list[int], target_acc: float | None = None,
              groups: list[str] | None = None) -> dict:
    os.environ.setdefault("ESPNET_WARMUP_QUIET_IMPORTS", "1")  # no import notices in the summary
    from espnet_warmup.recipe.analysis.curves import summary_row
    from espnet_warmup.recipe.analysis.runs import load_run
    from espnet_warmup.recipe.report import build_report

    labels = {Path(c).stem: (g, label) for g, items in GROUPS.items() for label, c, _ in items}
    groups = list(GROUPS) if groups is None else groups
    done, missing = [], []
    for group in groups:
        for _, config, _ in GROUPS[group]:
            for seed in seeds:
                (done if finished(recipe, config, seed) else missing).append(exp_name(config, seed))
    result: dict = {"seeds": seeds, "finished": len(done), "missing": missing, "groups": []}
    if done:
        exps = [recipe / "exp" / n for n in done]
        if target_acc is None:  # 90% of the worst run's best: every run reaches it, so all seeds count
            bests = [summary_row(load_run(e))["best valid acc"] for e in exps]
            bests = [b for b in bests if math.isfinite(b)]
            target_acc = round(0.9 * min(bests), 4) if bests else None
        rep = build_report(exps, recipe / "RESULTS.md", recipe / "images", target_acc=target_acc)
        result["target_acc"] = rep["target_acc"]
        for g in rep["seed_groups"]:
            stem = g["policy"][len("asr_"):]
            group, label = labels.get(stem, ("?", stem))
            result["groups"].append({"group": group, "label": label, **g})
        add_paired(result["groups"], rep["rows"])
    md = [f"# Warmup study across seeds ({len(done)} of {len(done) + len(missing)} runs finished)", "",
          f"Seeds: {', '.join(map(str, seeds))}; target validation accuracy "
          + (f"{result['target_acc']} (--target_acc; default 90% of the lowest best validation accuracy "
             "of the runs, so every run reaches it)." if result.get("target_acc") is not None else
             "- (no run reports a validation accuracy: ESPnet logs none for a transducer)."), ""]
    for group in groups:
        rows = [g for g in result["groups"] if g["group"] == group]
        if not rows:
            continue
        ref = rows[0]["label"]
        md += [f"## {group}", "", "|policy|runs|test WER %|test WER - first row's, same seed (lower in)|"
               "updates to target|warmup grad-norm peak|runs with skipped updates|",
               "|---|---|---|---|---|---|---|"]
        for g in rows:
            paired = g.get("paired")
            pcell = ("(reference)" if g is rows[0] else "-" if not paired or not paired["diff"]["n"] else
                     f"{paired['diff'].cell()} ({paired['lower']} of {paired['diff']['n']} seeds)")
            md.append(f"|{g['label']}|{len(g['runs'])}|{g['test WER'].cell()}|{pcell}|{g['updates_to_target'].cell(0)}|"
                      f"{g['warmup_peak_grad_norm'].cell(1)}|{g['runs_with_skipped_updates']}|")
        md += ["", f"Same seed = same initialisation and batch order (only the scheduler differs): the paired "
               f"difference against {ref} removes the seed's share of the spread.", ""]
    md += ["Cells: mean \u00b1 sample sd [min\u2013max] over the seeds. Full report (per run, per language, "
           f"pictures): {recipe / 'RESULTS.md'}.", ""]
    if missing:
        md += [f"Not finished yet: {', '.join(missing)} (rerun the script: finished runs are skipped).", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(md))
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("bench_out/seed_study"))
    ap.add_argument("--out", type=Path, default=None, help="<out>.md and <out>.json (default: <workdir>/study)")
    ap.add_argument("--seeds", default="1 2 3")
    ap.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated, of {', '.join(GROUPS)}")
    ap.add_argument("--report_only", action="store_true", help="only summarize the finished runs")
    ap.add_argument("--target_acc", type=float, default=None,
                    help="validation accuracy for 'updates to target' (default: 0.9 x the lowest best of the runs)")
    ap.add_argument("run_args", nargs=argparse.REMAINDER, help="-- extra ./run.sh options (all runs)")
    args = ap.parse_args(argv)
    groups = [g for g in args.groups.split(",") if g]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        ap.error(f"--groups: unknown {', '.join(unknown)}; allowed: {', '.join(GROUPS)}")
    try:
        seeds = [int(s) for s in args.seeds.split()]
    except ValueError:
        ap.error(f"--seeds must be integers, got {args.seeds!r}")
    if len(seeds) < 3:
        print(f"WARNING: {len(seeds)} seed(s): the study's comparisons need at least 3", file=sys.stderr)
    extra = [a for a in args.run_args if a != "--"]
    recipe = args.workdir / "asr1"
    out = args.out or args.workdir / "study"
    make_recipe(recipe)
    write_generated(recipe)
    rc = 0
    if not args.report_only:
        if run(recipe, ["--stage", "1", "--stop_stage", "10", "--train_config", BASE, *extra],
               args.workdir / "logs/prep.log"):
            print(f"stages 1-10 failed; read {args.workdir / 'logs/prep.log'}", file=sys.stderr)
            return 1
        for group in groups:
            configs = " ".join(c for _, c, _ in GROUPS[group])
            code = run(recipe, ["--stage", "11", "--stop_stage", "13", "--train_config", configs,
                                "--seeds", " ".join(map(str, seeds)), *extra], args.workdir / f"logs/{group}.log")
            if code:
                print(f"group {group}: ./run.sh exited {code}; read {args.workdir / f'logs/{group}.log'} "
                      "(finished runs are kept; rerun to continue)", file=sys.stderr)
                rc = code
                if code >= 128:  # a signal: stop the study
                    break
    result = summarize(recipe, out, seeds, args.target_acc, groups)
    print(f"wrote {out.with_suffix('.md')} ({result['finished']} runs finished, {len(result['missing'])} missing)")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
