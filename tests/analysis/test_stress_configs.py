"""bench/stress_deep_encoder.py: stress variants of the recipe's four policy configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet_warmup.recipe.analysis.config_lr import lr_curve
from bench_module import load_bench

ROOT = Path(__file__).resolve().parents[2]


def _module():
    return load_bench("stress_deep_encoder")


def test_stress_configs_deepen_encoder_and_raise_peak_without_lr_jump(tmp_path):
    mod = _module()
    paths = mod.write_configs(ROOT / "conf", tmp_path, blocks=12, peak_lr=3e-3, log_interval=5)
    assert [p.name for p in paths] == [f"train_{p}_warmup_e12_lr0.003.yaml" for p in mod.POLICIES]
    for path in paths:
        conf = yaml.safe_load(path.read_text())
        orig = yaml.safe_load((ROOT / "conf" / (path.name.split("_e12")[0] + ".yaml")).read_text())
        assert conf["encoder_conf"]["num_blocks"] == 12 and conf["optim_conf"]["lr"] == 3e-3
        assert conf["log_interval"] == 5
        assert conf["scheduler_conf"].get("warmup_steps") == orig["scheduler_conf"].get("warmup_steps")
        curve = lr_curve(path, 1000)
        w = curve.warmup_end
        assert curve.lr_at(w) == pytest.approx(3e-3)  # the peak is the new LR
        assert max(curve.lrs) == pytest.approx(3e-3)
        assert curve.lr_at(w + 1) < curve.lr_at(w)  # decays right after: no jump


def test_stress_config_rejects_bad_values():
    mod = _module()
    with pytest.raises(ValueError, match="--blocks must be >= 1, got 0"):
        mod.stress_config({}, 0, 1e-3, 5)
    with pytest.raises(ValueError, match="--peak_lr must be > 0, got -1.0"):
        mod.stress_config({}, 4, -1.0, 5)
