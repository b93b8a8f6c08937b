"""LR curves of configs (ours and ESPnet's schedulers) and ``espnet-warmup plot-lr``."""

from __future__ import annotations

import pytest
import yaml

from espnet_warmup import cli
from espnet_warmup.recipe.analysis.config_lr import ConfigError, lr_curve
from espnet_warmup.recipe.analysis.plot_lr import plot_lr

PEAK, W = 2e-4, 50000
CONFIGS = {
    "linear": {"optim": "adam", "optim_conf": {"lr": PEAK}, "scheduler": "warmuplr",
               "scheduler_conf": {"warmup_steps": W}},
    "piecewise": {"optim": "adamw", "optim_conf": {"lr": PEAK}, "scheduler": "piecewiselinearwarmuplr",
                  "scheduler_conf": {"warmup_steps_list": [0, 25000, W], "warmup_lr_list": [0.0, 2e-5, PEAK]}},
    "poly": {"optim": "adamw", "optim_conf": {"lr": PEAK}, "scheduler": "polynomialwarmuplr",
             "scheduler_conf": {"warmup_steps": W, "power": 1.5}},
    "exp": {"optim": "adamw", "optim_conf": {"lr": PEAK}, "scheduler": "exponentialwarmuplr",
            "scheduler_conf": {"warmup_steps": W, "alpha": 1.5}},
}
# DESIGN.md golden table (lr of update i), shared with the schedule tests
from test_schedules import GOLDEN  # noqa: E402


@pytest.fixture
def conf_files(tmp_path):
    paths = []
    for name, conf in CONFIGS.items():
        p = tmp_path / f"train_{name}_warmup.yaml"
        p.write_text(yaml.safe_dump(conf))
        paths.append(p)
    return paths


@pytest.mark.parametrize("k, name", list(enumerate(CONFIGS)))
def test_config_lr_curve_matches_the_golden_table(k, name):
    curve = lr_curve(CONFIGS[name], 200000, points=100, at=list(GOLDEN))
    for step, lrs in GOLDEN.items():
        assert curve.lr_at(step) == pytest.approx(lrs[k], rel=1e-6), (name, step)
    assert curve.warmup_end == W


def test_closed_form_evaluation_equals_stepping_the_scheduler():
    for name, conf in CONFIGS.items():
        a = lr_curve(conf, 3000, points=None)
        b = lr_curve(conf, 3000, points=None, closed_form=False)
        assert a.lrs == pytest.approx(b.lrs, rel=1e-12), name


def test_epoch_scheduler_steps_once_per_epoch_of_updates():
    conf = {"optim": "sgd", "optim_conf": {"lr": 1.0}, "scheduler": "steplr",
            "scheduler_conf": {"step_size": 1, "gamma": 0.5}, "num_iters_per_epoch": 20, "accum_grad": 2}
    c = lr_curve(conf, 25)
    assert c.lrs[:10] == [1.0] * 10 and c.lrs[10:20] == [0.5] * 10 and c.lrs[20] == 0.25


def test_no_scheduler_gives_constant_lr_and_default_optimizer_lr():
    c = lr_curve({"optim": "adam", "optim_conf": {"lr": 3e-4}}, 5)
    assert c.lrs == [3e-4] * 5 and c.warmup_end is None
    assert lr_curve({}, 2).lrs == [1.0, 1.0]  # ESPnet's default optimizer adadelta, lr 1.0


def test_piecewise_marks_intermediate_knot():
    c = lr_curve(CONFIGS["piecewise"], 60000, points=50)
    assert c.knots == [25000] and c.lr_at(25000) == pytest.approx(2e-5)


def test_plot_lr_writes_picture_and_returns_the_plotted_curves(conf_files, tmp_path):
    out = tmp_path / "lr.png"
    curves = plot_lr(conf_files, 200000, out)
    assert out.stat().st_size > 10_000
    assert [c.name for c in curves] == [p.stem for p in conf_files]
    assert [c.scheduler for c in curves] == ["warmuplr", "piecewiselinearwarmuplr", "polynomialwarmuplr",
                                             "exponentialwarmuplr"]
    assert all(c.warmup_end == W for c in curves)
    assert curves[3].lr_at(15000) == pytest.approx(3.264577e-05, rel=1e-6)


def test_plot_lr_cli_prints_peaks_and_warmup(conf_files, tmp_path, capsys):
    out = tmp_path / "x" / "lr.png"
    rc = cli.main(["plot-lr", *map(str, conf_files), "--steps", "100000", "-o", str(out)])
    assert rc == 0 and out.is_file()
    text = capsys.readouterr().out
    assert "train_exp_warmup: scheduler=exponentialwarmuplr peak_lr=2.000e-04 warmup ends at update 50000" in text


def test_plot_lr_unknown_scheduler_names_file_and_choices(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: adam\nscheduler: cosinewarmup\n")
    rc = cli.main(["plot-lr", str(bad), "--steps", "10", "-o", str(tmp_path / "lr.png")])
    assert rc == 1
    err = capsys.readouterr().err
    assert f"plot-lr: {bad}: scheduler: unknown scheduler 'cosinewarmup'; allowed: " in err
    assert "exponentialwarmuplr, " in err and ", warmuplr" in err
    assert not (tmp_path / "lr.png").exists()


def test_bad_scheduler_conf_and_missing_file_errors():
    with pytest.raises(ConfigError, match=r"scheduler_conf for 'exponentialwarmuplr' is invalid: alpha must be"):
        lr_curve({"scheduler": "exponentialwarmuplr", "scheduler_conf": {"alpha": -1}}, 3)
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read the config: No such file or directory"):
        lr_curve("nope.yaml", 3)
    with pytest.raises(ConfigError, match=r"steplr' steps once per epoch, but num_iters_per_epoch is not set"):
        lr_curve({"scheduler": "steplr", "scheduler_conf": {"step_size": 1}}, 3)
