"""The stability probe on the tiny ESPnet set-up: real trainings through run.pl, classified by the
divergence monitor's rules, a boundary found by bisection, finished runs reused on a rerun."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from espnet_warmup.recipe import probe
from tiny_asr import make_data, train_command

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
DROP = {"--output_dir", "--seed", "--log_interval", "--resume", "--ngpu"}


def data_args(data: Path) -> str:
    """tiny_asr's training options without the ones the probe sets per run."""
    words = train_command(data, Path("unused"))[5:]
    out, k = [], 0
    while k < len(words):
        if words[k] in DROP:
            k += 2
            continue
        out.append(words[k])
        k += 1
    return shlex.join(out)


def test_scale_scheduler_maps_each_family_to_the_probe_budget():
    assert probe.scale_scheduler("exponentialwarmuplr", {"warmup_steps": 250, "alpha": 1.5}, 50, 100, 3.0) == \
        {"warmup_steps": 50, "alpha": 1.5}
    assert probe.scale_scheduler("piecewiselinearwarmuplr",
                                 {"warmup_steps_list": [0, 125, 250], "warmup_lr_list": [0.0, 1e-4, 1e-3]},
                                 50, 100, 10.0) == {"warmup_steps_list": [0, 25, 50],
                                                    "warmup_lr_list": [0.0, pytest.approx(1e-3), pytest.approx(1e-2)]}
    assert probe.scale_scheduler("warmupschedulelr", {"shape": "piecewise", "knot_steps": [0, 125], "warmup_steps": 250,
                                                      "tail": "cosine", "total_steps": 600}, 50, 100, 1.0) == \
        {"shape": "piecewise", "knot_steps": [0, 25], "warmup_steps": 50, "tail": "cosine", "total_steps": 100}
    with pytest.raises(probe.ProbeError, match="scheduler_conf.decay_steps of x: the probe does not know"):
        probe.scale_scheduler("x", {"decay_steps": 3}, 5, 10, 1.0)


def test_a_peak_is_stable_only_if_every_seed_trained():
    p = probe.Probe.__new__(probe.Probe)
    p.seeds = [1, 2, 3]

    def runs(*statuses):
        return [{"status": st, "seed": k} for k, st in enumerate(statuses, 1)]

    res = {1e-3: runs("stable", "stable", "stable"), 1e-2: runs("stable", "diverged", "stable"),
           1e-1: runs("diverged", "diverged", "diverged"), 3e-3: runs("stable", "stable")}  # 3e-3: a seed missing
    assert p.boundary(res) == (1e-3, 1e-2)
    # a stable peak above the lowest diverged one does not count as the boundary
    res[3e-2] = runs("stable", "stable", "stable")
    assert p.boundary(res) == (1e-3, 1e-2)
    assert p.boundary({1e-3: runs("stable", "stable", "stable")}) == (1e-3, None)


def test_bad_options_are_named(tmp_path):
    base = tmp_path / "b.yaml"
    base.write_text("optim: adam\n")
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "probe", "--base", str(base), "--policy",
                          str(base), "--peak_lrs", "1e-2:1e-3"], capture_output=True, text=True)
    assert out.returncode == 1 and "probe: --peak_lrs: need 0 < LO < HI, got '1e-2:1e-3'" in out.stderr
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "probe", "--base", str(tmp_path / "no.yaml"),
                          "--policy", str(base)], capture_output=True, text=True)
    assert out.returncode == 1 and f"probe: --base {tmp_path / 'no.yaml'}" in out.stderr


def test_the_probe_finds_a_boundary_and_reuses_finished_runs(tmp_path):
    data = make_data(tmp_path / "tiny")
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"optim": "adam", "optim_conf": {"lr": 1e-3}, "batch_size": 2}))
    pols = []
    for name, sched in (("exp", {"scheduler": "exponentialwarmuplr", "scheduler_conf": {"warmup_steps": 250}}),):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(sched))
        pols += ["--policy", str(tmp_path / f"{name}.yaml")]
    work = tmp_path / "probe"
    cmd = [sys.executable, "-m", "espnet_warmup.cli", "probe", "--base", str(base), *pols,
           "--peak_lrs", "1e-4:100", "--grid", "2", "--refine", "1", "--seeds", "1 2", "--updates", "8",
           "--log_interval", "1", "--train_args", data_args(data), "--workdir", str(work),
           "--cmd", str(ROOT / "utils/run.pl"), "--nj", "2"]
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads((work / "probe.json").read_text())
    rows = {r["policy"]: r for r in result["rows"]}
    for name in ("exp",):
        r = rows[name]
        assert r["highest_stable_peak"] is not None and r["lowest_diverged_peak"] is not None
        assert r["highest_stable_peak"] < r["lowest_diverged_peak"] <= 100
        assert r["diverged_runs"] >= 2  # both seeds at peak 100
        runs = result["runs"][name]
        assert sorted(float(k) for k in runs) == [1e-4, 0.1, 100.0]  # grid + one bisection (sqrt(1e-4 x 100))
        for peak, rs in runs.items():
            assert sorted(x["seed"] for x in rs) == [1, 2]
            cfg = yaml.safe_load((work / f"runs/{name}/lr{float(peak):.4g}_seed1/config.yaml").read_text())
            assert cfg["optim_conf"]["lr"] == float(peak) and cfg["scheduler_conf"]["warmup_steps"] == 4
            assert cfg["seed"] == 1 and cfg["num_iters_per_epoch"] == 8
    first = time.time() - t0
    md = (work / "probe.md").read_text()
    assert "|exp|" in md and "diverged" in md and (work / "stability_map.png").stat().st_size > 1000
    # a rerun of the finished probe trains nothing
    t0 = time.time()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "run(s): " not in again.stderr
    assert json.loads((work / "probe.json").read_text())["rows"] == result["rows"]
    print(f"probe: first run {first:.0f} s, rerun {time.time() - t0:.1f} s")
