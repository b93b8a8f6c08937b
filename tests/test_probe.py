"""The stability probe's parts: schedule scaling, the every-seed rule, option errors. The probe itself
runs real trainings in tests/recipe/test_pipeline.py (the recipe entry point, on the recipe's stats)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from espnet_warmup.recipe import probe


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
    guard = {"schedule": "polynomialwarmuplr", "schedule_conf": {"warmup_steps": 250, "power": 1.5},
             "hold_steps": 50, "max_delay": 100, "spike_factor": 5.0}
    assert probe.scale_scheduler("warmupguardlr", guard, 50, 100, 1.0) == \
        {"schedule": "polynomialwarmuplr", "schedule_conf": {"warmup_steps": 50, "power": 1.5},
         "hold_steps": 10, "max_delay": 20, "spike_factor": 5.0}
    assert probe.scale_scheduler("exponentialwarmuplr", {}, 50, 100, 1.0) == {"warmup_steps": 50}
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
