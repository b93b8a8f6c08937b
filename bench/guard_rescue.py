#!/usr/bin/env python3
"""The warmup guard on a configuration that diverges unguarded (issue 13): full recipe trainings, WER.

The stability study (bench/stability_study.py, docs/probe.md) finds peaks where a policy diverges on a
CPU-sized setting. Here that setting and policy are trained at such a peak with the recipe's own budget
(the policy config's warmup and updates, e.g. 600 updates with 250 of warmup), once as the policy is and
once under the adaptive warmup guard (conf/train_<policy>_guard.yaml: the same schedule in
``warmupguardlr``), every seed, then decoded and scored by the recipe: ``./run.sh --stage 11 --stop_stage
13 --train_config "<unguarded> <guarded>" --seeds "..."``. Each run is judged from its train.log by
the divergence monitor's rules (the probe's classification), with its final train loss, grad-norm peak,
the guard's interventions (<exp>/warmup_guard.log) and the test WER. A rerun skips every finished
training, decoding and scoring (the recipe's stage markers).

Usage (from the repository root)::

    python3 bench/guard_rescue.py [--workdir bench_out/guard_rescue] [--out <workdir>/rescue] [--setting deep12_postln] \\
        [--policy poly] [--peak 1.0] [--seeds "1 2 3"] [--train_jobs 2] [--report_only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from stability_study import BASE, GUARDED, POLICIES, SETTINGS, make_recipe, run, setting_conf  # noqa: E402


def write_config(recipe: Path, setting: str, policy_config: str, peak: float, name: str) -> str:
    """The setting's model (the study's encoder) with the policy's optimizer LR set to ``peak`` and its
    scheduler as the policy config has it (the recipe budget); written when missing or different."""
    desc = SETTINGS[setting][0]
    conf = setting_conf(setting)
    policy = yaml.safe_load((ROOT / policy_config).read_text())
    conf["scheduler"], conf["scheduler_conf"] = policy["scheduler"], policy["scheduler_conf"]
    conf["optim_conf"] = {**conf.get("optim_conf", {}), "lr": float(peak)}
    text = (f"# Written by bench/guard_rescue.py: {BASE} with the encoder replaced ({desc}),\n"
            f"# the scheduler of {policy_config} and the peak LR {peak:g}.\n" + yaml.safe_dump(conf, sort_keys=False))
    path = recipe / "rescue_conf" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return str(path.relative_to(recipe))


def judge(exp: Path) -> dict:
    """One run: the probe's classification of its train.log, its guard interventions and test WER."""
    os.environ.setdefault("ESPNET_WARMUP_QUIET_IMPORTS", "1")
    from espnet_warmup.recipe.probe import classify

    res = classify(exp / "train.log")
    guard = exp / "warmup_guard.log"
    entries = [json.loads(x) for x in guard.read_text().splitlines() if x.strip()] if guard.is_file() else []
    res["interventions"] = len(entries)
    res["intervention_updates"] = [e["update"] for e in entries]
    scores = sorted(exp.glob("decode_*/test/scores.json"))
    res["test_wer"] = json.loads(scores[0].read_text())["wer"]["all"]["err"] if scores else None
    res["exp"] = str(exp)
    return res


def cell(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} \u00b1 {sd:.2f} [{min(values):.2f}\u2013{max(values):.2f}]"


def summarize(recipe: Path, configs: dict[str, str], seeds: list[str], out: Path, meta: dict) -> dict:
    result = {**meta, "seeds": seeds, "configs": configs, "runs": {}}
    md = [f"# The warmup guard on a configuration that diverges unguarded", "",
          f"Setting {meta['setting']} ({SETTINGS[meta['setting']][0]}), policy {meta['policy']} at peak LR "
          f"{meta['peak']:g}, the recipe budget of {meta['policy_config']}; seeds {', '.join(seeds)}.", "",
          "|run|seed|status (kind, iteration)|final train loss|grad-norm peak|guard interventions (updates)|test WER %|",
          "|---|---|---|---|---|---|---|"]
    for label, config in configs.items():
        runs = []
        for seed in seeds:
            exp = recipe / "exp" / f"asr_{Path(config).stem}_seed{seed}"
            if not (exp / "train.log").is_file():
                md.append(f"|{label}|{seed}|not run|-|-|-|-|")
                continue
            r = judge(exp)
            runs.append(r)
            kind = (f"diverged ({r['diverged_kinds'][0]}, {r['diverged_at_iteration']})" if r["status"] == "diverged"
                    else r["status"])
            ups = ",".join(map(str, r["intervention_updates"][:8])) + ("..." if r["interventions"] > 8 else "")
            md.append(f"|{label}|{seed}|{kind}|{r['final_train_loss'] if r['final_train_loss'] is None else round(r['final_train_loss'], 2)}|"
                      f"{r['grad_norm_peak'] if r['grad_norm_peak'] is None else round(r['grad_norm_peak'], 1)}|"
                      f"{r['interventions']} ({ups or '-'})|{'-' if r['test_wer'] is None else r['test_wer']}|")
        result["runs"][label] = runs
        result.setdefault("summary", {})[label] = {
            "diverged": sum(r["status"] == "diverged" for r in runs), "runs": len(runs),
            "test_wer": cell([r["test_wer"] for r in runs]),
            "final_train_loss": cell([r["final_train_loss"] for r in runs])}
    md += ["", "|run|diverged runs|final train loss|test WER %|", "|---|---|---|---|"]
    for label, s in result.get("summary", {}).items():
        md.append(f"|{label}|{s['diverged']} of {s['runs']}|{s['final_train_loss']}|{s['test_wer']}|")
    md += ["", "Cells: mean \u00b1 sample sd [min\u2013max] over the seeds. 'diverged' is the divergence "
           "monitor's verdict on train.log (the training ran to its end: the recipe's monitor does not stop it).", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / f"{out.name}.md").write_text("\n".join(md))  # not with_suffix: a name like rescue_lr1.0 has a dot
    (out.parent / f"{out.name}.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("bench_out/guard_rescue"))
    ap.add_argument("--out", type=Path, default=None, help="<out>.md and <out>.json (default: <workdir>/rescue)")
    ap.add_argument("--setting", default="deep12_postln", choices=sorted(SETTINGS))
    ap.add_argument("--policy", default="poly", choices=sorted(p[: -len("_guard")] for p in GUARDED))
    ap.add_argument("--peak", type=float, default=1.0)
    ap.add_argument("--seeds", default="1 2 3")
    ap.add_argument("--train_jobs", type=int, default=2)
    ap.add_argument("--report_only", action="store_true")
    args = ap.parse_args(argv)
    if not args.peak > 0:
        ap.error(f"--peak must be > 0, got {args.peak}")
    seeds = args.seeds.split()
    recipe = args.workdir / "asr1"
    out = args.out or args.workdir / "rescue"
    make_recipe(recipe)
    tag = f"{args.setting}_{args.policy}_lr{args.peak:g}"
    configs = {args.policy: write_config(recipe, args.setting, POLICIES[args.policy], args.peak, f"train_{tag}"),
               f"{args.policy} + guard": write_config(recipe, args.setting, GUARDED[f"{args.policy}_guard"], args.peak,
                                                     f"train_{tag}_guard")}
    rc = 0
    if not args.report_only:
        if run(recipe, ["--stage", "1", "--stop_stage", "10", "--train_config", BASE], args.workdir / "logs/prep.log"):
            print(f"stages 1-10 failed; read {args.workdir / 'logs/prep.log'}", file=sys.stderr)
            return 1
        rc = run(recipe, ["--stage", "11", "--stop_stage", "13", "--train_config", " ".join(configs.values()),
                          "--seeds", " ".join(seeds), "--train_jobs", str(args.train_jobs)],
                 args.workdir / f"logs/{tag}.log")
        if rc:
            print(f"./run.sh exited {rc}; read {args.workdir}/logs/{tag}.log (finished work is kept; rerun)",
                  file=sys.stderr)
    meta = {"setting": args.setting, "policy": args.policy, "peak": args.peak, "policy_config": POLICIES[args.policy]}
    summarize(recipe, configs, seeds, out, meta)
    print(f"wrote {out.parent / (out.name + '.md')}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
