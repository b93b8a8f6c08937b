"""The root recipe's four policy configs: identical except for the scheduler, as the comparison needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet_warmup.recipe.analysis.config_lr import lr_curve

ROOT = Path(__file__).resolve().parents[2]
#: the paper's four policies and their schedulers; a config of another family may join them
PAPER_SCHEDULERS = {
    "linear": "warmuplr",
    "owsm": "piecewiselinearwarmuplr",
    "poly": "polynomialwarmuplr",
    "exp": "exponentialwarmuplr",
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def policy_configs(prefix: str) -> dict[str, Path]:
    """{policy: path} of every ``<prefix><policy>_warmup.yaml`` (what run.sh picks up)."""
    head = ROOT / prefix
    return {p.name[len(head.name):-len("_warmup.yaml")]: p
            for p in sorted(head.parent.glob(f"{head.name}*_warmup.yaml"))}


@pytest.mark.parametrize("prefix", ["conf/train_", "conf/tuning/train_tiny_"])
def test_policy_configs_differ_only_in_the_scheduler(prefix):
    configs = {p: load(path) for p, path in policy_configs(prefix).items()}
    shared = [{k: v for k, v in c.items() if k not in ("scheduler", "scheduler_conf")} for c in configs.values()]
    assert all(s == shared[0] for s in shared)
    schedulers = {p: c["scheduler"] for p, c in configs.items()}
    assert {p: schedulers.get(p) for p in PAPER_SCHEDULERS} == PAPER_SCHEDULERS


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
    # Each config's curve as ESPnet would run it (its registered scheduler): no per-policy formula here.
    for p, path in policy_configs("conf/train_").items():
        curve = lr_curve(path, 300)
        assert curve.warmup_end == 250, p
        assert curve.lr_at(curve.warmup_end) == pytest.approx(1e-3), p
        assert max(curve.lrs) == pytest.approx(1e-3), p
