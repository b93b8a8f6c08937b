"""The root recipe's four policy configs: identical except for the scheduler, as the comparison needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet_warmup import schedules

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("linear", "owsm", "poly", "exp")
EXPECTED_SCHEDULERS = {
    "linear": "warmuplr",
    "owsm": "piecewiselinearwarmuplr",
    "poly": "polynomialwarmuplr",
    "exp": "exponentialwarmuplr",
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("prefix", ["conf/train_", "conf/tuning/train_tiny_"])
def test_policy_configs_differ_only_in_the_scheduler(prefix):
    configs = {p: load(ROOT / f"{prefix}{p}_warmup.yaml") for p in POLICIES}
    shared = [{k: v for k, v in c.items() if k not in ("scheduler", "scheduler_conf")} for c in configs.values()]
    assert all(s == shared[0] for s in shared)
    assert {p: c["scheduler"] for p, c in configs.items()} == EXPECTED_SCHEDULERS


@pytest.mark.parametrize("prefix", ["conf/train_", "conf/tuning/train_tiny_"])
def test_owsm_last_knot_is_the_optimizer_lr(prefix):
    cfg = load(ROOT / f"{prefix}owsm_warmup.yaml")
    assert cfg["scheduler_conf"]["warmup_lr_list"][-1] == cfg["optim_conf"]["lr"]


def test_cpu_configs_use_the_measured_settings():
    cfg = load(ROOT / "conf/train_exp_warmup.yaml")
    assert cfg["optim_conf"]["lr"] == 1e-3  # 3e-3 diverged in the measurements
    assert cfg["model_conf"]["ctc_weight"] == 0.5
    assert cfg["encoder_conf"]["num_blocks"] == 4 and cfg["encoder_conf"]["output_size"] == 144
    assert cfg["num_iters_per_epoch"] * cfg["max_epoch"] == 600  # updates
    assert "normalize" not in cfg  # given by the engine at training time (breaks --collect_stats)


def test_all_policies_reach_the_same_peak_at_the_same_step():
    peaks = {}
    for p in POLICIES:
        cfg = load(ROOT / f"conf/train_{p}_warmup.yaml")
        lr, sc = cfg["optim_conf"]["lr"], cfg["scheduler_conf"]
        if p == "owsm":
            w = sc["warmup_steps_list"][-1]
            peaks[p] = schedules.piecewise_linear_warmup_lr(w, sc["warmup_steps_list"], sc["warmup_lr_list"], lr)
        else:
            w = sc["warmup_steps"]
            fn = {"linear": lambda s: schedules.linear_warmup_lr(s, lr, w),
                  "poly": lambda s: schedules.polynomial_warmup_lr(s, lr, w, sc["power"]),
                  "exp": lambda s: schedules.exponential_warmup_lr(s, lr, w, sc["alpha"])}[p]
            peaks[p] = fn(w)
        assert w == 250
    assert peaks == pytest.approx({p: 1e-3 for p in POLICIES})
