#!/usr/bin/env python3
"""The dilemma at small scale (issue 13): the highest stable peak LR of the paper's four warmups on
CPU-sized models, measured with the stability probe (``./run.sh --probe``) under at least 3 seeds.

Each *setting* is the default recipe model (conf/train_linear_warmup.yaml: data, optimizer, batch,
grad_clip 5) with its encoder replaced (:data:`SETTINGS`; the paper ties the instability to encoder
depth, and its open question is normalization, so the settings are deep and narrow, pre- and
post-LN). For every setting, the probe runs the four paper policies (conf/train_{linear,owsm,poly,exp}
_warmup.yaml: their scheduler and its shape, scaled to the probe budget; docs/probe.md) over a range
of peak LRs, every peak under every seed; a peak is stable for a policy only if every seed trained.

The runs go through the recipe as a user runs them: stages 1-10 once (the embedded corpus), then per
setting ``./run.sh --stage 11 --stop_stage 11 --train_config <setting> --probe "<4 policies>"
--probe_args "..."`` (``--train_jobs`` runs at a time). A rerun reuses every finished run. ``--tag``
keeps a second probe (e.g. new seeds) apart from the first: its settings' configs get the tag in their
name, hence their own probe dirs. At the end ``<out>.md``/``<out>.json`` list, per setting and policy,
the highest stable peak, the lowest diverged peak, the updates to divergence and the runs.

Usage (from the repository root)::

    python3 bench/stability_study.py [--workdir bench_out/stability] [--settings deep12_postln,deep12_preln] \\
        [--seeds "1 2 3"] [--peak_lrs 3e-3:3e-2] [--grid 3] [--refine 1] [--updates 100] [--train_jobs 2] \\
        [--tag newseeds] [--report_only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LINKS = ("run.sh", "asr.sh", "path.sh", "cmd.sh", "db.sh", "utils", "local", "conf")
BASE = "conf/train_linear_warmup.yaml"
POLICIES = {
    "linear": "conf/train_linear_warmup.yaml",
    "owsm": "conf/train_owsm_warmup.yaml",
    "poly": "conf/train_poly_warmup.yaml",
    "exp": "conf/train_exp_warmup.yaml",
}
#: the paper policies under the adaptive warmup guard (docs/guard.md): probed on request
#: (``--policies linear_guard,poly_guard,exp_guard --tag guard``), to see whether the guard moves the edge
GUARDED = {f"{p}_guard": f"conf/train_{p}_guard.yaml" for p in ("linear", "poly", "exp")}
ALL_POLICIES = {**POLICIES, **GUARDED}
_NARROW = {"output_size": 64, "attention_heads": 4, "linear_units": 256}
#: setting -> (description, encoder_conf overrides of the base config)
SETTINGS: dict[str, tuple[str, dict]] = {
    "deep12_postln": ("12-block Conformer encoder, d=64, post-LN (normalize_before false)",
                      {**_NARROW, "num_blocks": 12, "normalize_before": False}),
    "deep12_preln": ("12-block Conformer encoder, d=64, pre-LN (ESPnet's default)",
                     {**_NARROW, "num_blocks": 12, "normalize_before": True}),
    "default": ("the default recipe model (4 blocks, d=144, pre-LN)", {}),
}


def make_recipe(recipe: Path) -> None:
    recipe.mkdir(parents=True, exist_ok=True)
    for name in LINKS:
        link = recipe / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)


def setting_conf(setting: str) -> dict:
    """The base config with the setting's encoder (and the decoder's feed-forward width to match)."""
    enc = SETTINGS[setting][1]
    conf = yaml.safe_load((ROOT / BASE).read_text())
    conf["encoder_conf"].update(enc)
    if enc.get("linear_units"):
        conf["decoder_conf"]["linear_units"] = enc["linear_units"]
    return conf


def setting_config(recipe: Path, setting: str, tag: str = "") -> str:
    """Write the setting's base config (when missing or different); return its path in the recipe dir."""
    desc = SETTINGS[setting][0]
    conf = setting_conf(setting)
    text = (f"# Written by bench/stability_study.py: {BASE} with the encoder replaced ({desc}).\n"
            + yaml.safe_dump(conf, sort_keys=False))
    path = recipe / "stab_conf" / f"train_{setting}{'_' + tag if tag else ''}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return str(path.relative_to(recipe))


def run(recipe: Path, args: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{time.strftime('%H:%M:%S')}] ./run.sh {' '.join(args)}  (log: {log})", flush=True)
    with open(log, "a") as f:
        return subprocess.call(["./run.sh", *args], cwd=recipe, stdout=f, stderr=subprocess.STDOUT)


def fmt(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def summarize(recipe: Path, settings: list[str], tag: str, out: Path) -> dict:
    result: dict = {"settings": []}
    md = ["# The dilemma at small scale: highest stable peak LR per warmup policy", ""]
    for setting in settings:
        config = Path(setting_config(recipe, setting, tag))
        probe = recipe / "exp" / f"probe_{config.stem}" / "probe.json"
        if not probe.is_file():
            md += [f"## {setting}: not probed yet ({probe} missing)", ""]
            continue
        data = json.loads(probe.read_text())
        entry = {"setting": setting, "description": SETTINGS[setting][0], "config": str(config),
                 "probe": str(probe), **data}
        result["settings"].append(entry)
        md += [f"## {setting}: {SETTINGS[setting][0]}", "",
               f"Seeds {', '.join(map(str, data['seeds']))}; {data['updates']} updates per run; "
               f"probe: `{probe.parent}/probe.md`.", "",
               "|policy|highest stable peak|lowest diverged peak|updates to divergence|runs (diverged)|",
               "|---|---|---|---|---|"]
        for row in data["rows"]:
            utd = row.get("updates_to_divergence")
            md.append(f"|{row['policy']}|{fmt(row['highest_stable_peak'])}|{fmt(row['lowest_diverged_peak'])}|"
                      f"{'-' if utd is None else utd}|{row['runs']} ({row['diverged_runs']})|")
        md.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(md))
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("bench_out/stability"))
    ap.add_argument("--out", type=Path, default=None, help="<out>.md and <out>.json (default: <workdir>/stability[_tag])")
    ap.add_argument("--settings", default="deep12_postln,deep12_preln",
                    help=f"comma-separated, of {', '.join(SETTINGS)}")
    ap.add_argument("--policies", default=",".join(POLICIES), help=f"comma-separated, of {', '.join(ALL_POLICIES)}")
    ap.add_argument("--seeds", default="1 2 3")
    ap.add_argument("--peak_lrs", default="3e-3:3e-2")
    ap.add_argument("--grid", type=int, default=3)
    ap.add_argument("--refine", type=int, default=1)
    ap.add_argument("--updates", type=int, default=100)
    ap.add_argument("--train_jobs", type=int, default=2)
    ap.add_argument("--tag", default="", help="a name for a second probe of the same settings (e.g. new seeds)")
    ap.add_argument("--report_only", action="store_true", help="only summarize the finished probes")
    args = ap.parse_args(argv)
    settings = [s for s in args.settings.split(",") if s]
    policies = [p for p in args.policies.split(",") if p]
    for what, names, allowed in (("--settings", settings, SETTINGS), ("--policies", policies, ALL_POLICIES)):
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            ap.error(f"{what}: unknown {', '.join(bad) or '(none given)'}; allowed: {', '.join(allowed)}")
    if not args.tag.replace("_", "").isalnum() and args.tag:
        ap.error(f"--tag: letters, digits and _ only, got {args.tag!r}")
    seeds = args.seeds.split()
    if len(seeds) < 3:
        print(f"WARNING: {len(seeds)} seed(s): a published 'highest stable peak' needs at least 3", file=sys.stderr)
    recipe = args.workdir / "asr1"
    out = args.out or args.workdir / ("stability" + (f"_{args.tag}" if args.tag else ""))
    make_recipe(recipe)
    rc = 0
    if not args.report_only:
        if run(recipe, ["--stage", "1", "--stop_stage", "10", "--train_config", BASE], args.workdir / "logs/prep.log"):
            print(f"stages 1-10 failed; read {args.workdir / 'logs/prep.log'}", file=sys.stderr)
            return 1
        probe_args = (f"--peak_lrs {args.peak_lrs} --grid {args.grid} --refine {args.refine} "
                      f"--seeds '{' '.join(seeds)}' --updates {args.updates}")
        for setting in settings:
            config = setting_config(recipe, setting, args.tag)
            code = run(recipe, ["--stage", "11", "--stop_stage", "11", "--train_config", config,
                                "--probe", " ".join(ALL_POLICIES[p] for p in policies), "--probe_args", probe_args,
                                "--train_jobs", str(args.train_jobs)],
                       args.workdir / f"logs/{Path(config).stem}.log")
            if code:
                print(f"setting {setting}: ./run.sh exited {code}; read {args.workdir}/logs/{Path(config).stem}.log "
                      "(finished runs are kept; rerun to continue)", file=sys.stderr)
                rc = code
                if code >= 128:
                    break
    result = summarize(recipe, settings, args.tag, out)
    print(f"wrote {out.with_suffix('.md')} ({len(result['settings'])} of {len(settings)} settings probed)")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
