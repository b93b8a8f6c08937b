"""runs.load_run and the numbers of the summary on a train.log written by fake_trainer.py (no ESPnet;
the same on real ESPnet runs is in test_curves.py)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from espnet_warmup.espnet_config import ConfigError
from espnet_warmup.recipe.analysis import curves, metrics, runs
from espnet_warmup.recipe.analysis.logs import LogFormatError

FAKE = Path(__file__).with_name("fake_trainer.py")


def _exp(tmp_path: Path, norms: str, config: dict | None = None) -> Path:
    exp = tmp_path / "exp" / "asr_fake"
    exp.mkdir(parents=True)
    subprocess.run([sys.executable, str(FAKE), str(exp / "train.log"), "--grad_norms", norms, "--delay", "0"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if config is not None:
        (exp / "config.yaml").write_text(yaml.safe_dump(config))
    return exp


def test_load_run_reads_every_curve_from_the_log(tmp_path):
    exp = _exp(tmp_path, "5,6,nan,7,5,5,80,5", {"accum_grad": 2, "model_conf": {"length_normalized_loss": True}})
    run = runs.load_run(exp)
    assert run.source == "train.log" and run.name == "asr_fake" and run.accum_grad == 2
    xs, ys = run.series["grad_norm"]
    assert xs == list(range(1, 9)) and ys[:2] == [5, 6] and math.isnan(ys[2]) and ys[3:] == [7, 5, 5, 80, 5]
    assert run.series["lr"] == (list(range(1, 9)), [1e-4] * 8)
    assert run.series["valid_acc"] == ([4, 8], [0.5, 0.5])
    # length-normalized loss: the per-token loss is loss_att itself
    assert run.series["valid_ppl"] == ([4, 8], [math.exp(6.0)] * 2)
    assert run.series["train_ppl"][1] == [math.exp(8.0)] * 8
    # 80 > 5 x the median 5 of the 5 finite norms before it (the nan is no history)
    assert [(sp.step, sp.median) for sp in run.spikes] == [(7, 5.0)]
    assert run.epoch_steps == [4, 8] and run.skipped_steps == [3] and run.iterations == 8
    # the interval holding the skipped update had no finite update
    assert run.interval_sizes == [1, 1, 0, 1, 1, 1, 1, 1]
    row = curves.summary_row(run)
    assert row["updates"] == 4 and row["skipped updates"] == 1 and row["epochs"] == 2
    assert row["peak grad norm"] == 80.0 and row["median grad norm"] == 5.0


def test_a_missing_config_yaml_is_an_empty_config_and_a_broken_one_names_the_file(tmp_path):
    exp = _exp(tmp_path, "5,5,5,5")
    assert runs.load_run(exp).config == {}
    (exp / "config.yaml").write_text("accum_grad: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config.yaml: not valid YAML"):
        runs.load_run(exp)


def test_load_run_errors_name_the_dir(tmp_path):
    with pytest.raises(LogFormatError, match=r"nope: no such experiment directory"):
        runs.load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LogFormatError, match=r"empty: neither train.log nor tensorboard/ found"):
        runs.load_run(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"source must be one of auto, log, tensorboard; got 'csv'"):
        runs.load_run(tmp_path / "empty", source="csv")


def test_clipped_percent_weights_intervals_by_their_finite_updates():
    clip = ([1, 2, 3], [100.0, 0.0, math.nan])
    assert metrics.clipped_percent(clip, [3, 1, 2]) == 75.0
    assert metrics.clipped_percent(clip, [3, 1, 2], until=1) == 100.0
    assert math.isnan(metrics.clipped_percent(([1], [50.0]), [0]))


def test_grad_norm_stats_until_an_iteration():
    g = ([1, 2, 3, 4], [1.0, math.inf, 3.0, 100.0])
    assert metrics.grad_norm_stats(g, until=3) == (3.0, 2.0)
    assert all(math.isnan(v) for v in metrics.grad_norm_stats(([], [])))


def test_to_updates_keeps_iterations_when_accum_grad_is_1():
    assert metrics.to_updates(7, 1) == 7 and isinstance(metrics.to_updates(7, 1), int)
    assert metrics.to_updates(7, 2) == 3.5


def test_report_reads_the_warmup_window_from_the_config_without_building_a_scheduler(tmp_path):
    from espnet_warmup.recipe import report

    conf = {"optim": "adam", "optim_conf": {"lr": 1e-3}, "scheduler": "warmuplr",
            "scheduler_conf": {"warmup_steps": 3}, "accum_grad": 2}
    exp = _exp(tmp_path, "5,6,7,80,5,5,5,5", conf)
    run = runs.load_run(exp)
    assert report.warmup_iterations(run) == 6  # 3 updates x accum_grad 2
    assert report.warmup_iterations(runs.load_run(_exp(tmp_path / "b", "5,5", {}))) is None  # no scheduler
    unknown = runs.RunCurves(**{**run.__dict__, "config": {"scheduler": "nosuchlr"}})
    assert report.warmup_iterations(unknown) is None  # still reported, without a warmup column value
    res = report.build_report([exp], tmp_path / "RESULTS.md", tmp_path / "images")
    (row,) = res["rows"]
    assert row["scheduler"] == "warmuplr" and row["warmup_updates"] == 3
    # iterations 1..6 = updates 1..3: norms 5, 6, 7, 80, 5, 5
    assert (row["warmup_peak_grad_norm"], row["warmup_median_grad_norm"]) == (80.0, 5.5)
    assert "|asr_fake|rnn + CTC|warmuplr|0.001|3|" in (tmp_path / "RESULTS.md").read_text()
