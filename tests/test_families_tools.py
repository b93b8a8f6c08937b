"""The config tools on every shape x tail: scheduler_spec's window and marks, the LR curve (closed form ==
stepped), plot-lr, and the report's warmup window."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from espnet_warmup import families
from espnet_warmup.espnet_config import scheduler_spec
from espnet_warmup.recipe.analysis.config_lr import lr_curve

PEAK, W, T = 1e-3, 20, 80

SHAPES = {
    "linear": {"start_factor": 0.1},
    "piecewise": {"knot_steps": [5, 10], "knot_lr_ratios": [0.05, 0.2]},
    "polynomial": {"power": 0.8},
    "exponential": {"alpha": 2.0},
    "saturating_exponential": {"rate": 4.0},
    "cosine": {},
    "none": {},
}
TAILS = {
    "inverse_sqrt": {},
    "constant": {},
    "cosine": {"total_steps": T, "min_lr_ratio": 0.05},
    "linear": {"total_steps": T, "min_lr_ratio": 0.05},
    "exponential": {"total_steps": T, "min_lr_ratio": 0.05},
    "wsd": {"total_steps": T, "decay_ratio": 0.25, "decay_type": "cosine", "min_lr_ratio": 0.05},
}


def config(shape: str, tail: str) -> dict:
    return {"optim": "adam", "optim_conf": {"lr": PEAK}, "max_epoch": 2, "num_iters_per_epoch": T // 2,
            "scheduler": "warmupschedulelr",
            "scheduler_conf": {"shape": shape, "tail": tail, "warmup_steps": W, **SHAPES[shape], **TAILS[tail]}}


@pytest.mark.parametrize("tail", sorted(TAILS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_lr_curve_of_every_pair_is_the_closed_form_and_equals_stepping(shape, tail):
    conf = config(shape, tail)
    want = families.resolve(conf["scheduler_conf"])
    curve = lr_curve(conf, 120, name=f"{shape}-{tail}")
    assert curve.lrs == [PEAK * want.factor(i) for i in range(1, 121)]
    assert lr_curve(conf, 120, closed_form=False).lrs == curve.lrs  # evaluated directly == stepped as ESPnet does
    assert curve.warmup_end == (None if shape == "none" else W)
    assert curve.knots == ([5, 10] if shape == "piecewise" else [])
    assert curve.decay_marks == {"wsd": [60, T], "inverse_sqrt": [], "constant": []}.get(tail, [T])


def test_scheduler_spec_of_the_presets_and_an_invalid_conf():
    spec = scheduler_spec({"scheduler": "warmupstabledecaylr",
                           "scheduler_conf": {"warmup_steps": 30, "total_steps": 100, "num_decay_steps": 10}})
    assert (spec.warmup_end, spec.knots, spec.decay_marks, spec.closed_form) == (30, [], [90, 100], True)
    spec = scheduler_spec({"scheduler": "warmupcosinelr", "scheduler_conf": {"warmup_steps": 30, "total_steps": 100}})
    assert (spec.warmup_end, spec.decay_marks) == (30, [100])
    # a conf that does not resolve (no T): the window still comes from warmup_steps, no marks
    spec = scheduler_spec({"scheduler": "warmupcosinelr", "scheduler_conf": {"warmup_steps": 30}})
    assert (spec.warmup_end, spec.warmup_key, spec.decay_marks) == (30, "warmup_steps", [])


def test_plot_lr_draws_the_family_configs_and_names_the_floor(tmp_path):
    paths = []
    for shape, tail in [("exponential", "cosine"), ("linear", "wsd"), ("none", "linear")]:
        p = tmp_path / f"train_{shape}_{tail}.yaml"
        p.write_text(yaml.safe_dump(config(shape, tail)))
        paths.append(str(p))
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "plot-lr", *paths, "--steps", "100",
                          "-o", str(tmp_path / "lr.png")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("train_")]  # (ESPnet prints too)
    assert len(lines) == 3
    assert lines[0] == ("train_exponential_cosine: scheduler=warmupschedulelr peak_lr=1.000e-03 warmup ends at "
                        "update 20, floor from update 80")
    assert lines[1].endswith("warmup ends at update 20, floor from update 80")
    assert lines[2] == "train_none_linear: scheduler=warmupschedulelr peak_lr=1.000e-03 no warmup, floor from update 80"
    assert (tmp_path / "lr.png").stat().st_size > 5_000


def test_the_report_names_shape_and_tail_and_reads_the_warmup(tmp_path):
    from espnet_warmup.recipe.report import build_report, find_experiments
    from test_family_declaration import write_exp_dir

    exp = write_exp_dir(tmp_path / "exp" / "asr_train_exp_cosine")  # a finished exp dir (config + train.log)
    conf = yaml.safe_load((exp / "config.yaml").read_text())
    conf.update(scheduler="warmupschedulelr", num_iters_per_epoch=8,
                scheduler_conf={"shape": "exponential", "warmup_steps": 8, "tail": "cosine", "total_steps": 16})
    (exp / "config.yaml").write_text(yaml.safe_dump(conf))
    wsd = write_exp_dir(tmp_path / "exp" / "asr_train_wsd")
    conf.update(scheduler="warmupstabledecaylr",
                scheduler_conf={"warmup_steps": 4, "total_steps": 16, "num_decay_steps": 4})
    (wsd / "config.yaml").write_text(yaml.safe_dump(conf))
    res = build_report(find_experiments(tmp_path / "exp", []), tmp_path / "RESULTS.md", tmp_path / "images")
    rows = {r["name"]: r for r in res["rows"]}
    assert (rows["asr_train_exp_cosine"]["scheduler"], rows["asr_train_exp_cosine"]["warmup_updates"]) == \
        ("warmupschedulelr (exponential + cosine)", 8)
    assert (rows["asr_train_wsd"]["scheduler"], rows["asr_train_wsd"]["warmup_updates"]) == \
        ("warmupstabledecaylr (linear + wsd)", 4)
    assert rows["asr_train_wsd"]["warmup_peak_grad_norm"] == 5.0  # the logged norms 3, 4, 5 of the first 4 updates
    md = (tmp_path / "RESULTS.md").read_text()
    assert "|asr_train_exp_cosine|rnn + CTC|warmupschedulelr (exponential + cosine)|" in md
