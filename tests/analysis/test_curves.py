"""``espnet-warmup curves`` on the real runs: the picture, the plotted data, the summary."""

from __future__ import annotations

import math
import statistics

import pytest

from espnet_warmup import cli
from espnet_warmup.recipe.analysis import curves, logs, metrics, runs


@pytest.mark.slow
def test_curves_plots_every_series_of_both_runs_with_values_from_the_logs(espnet_runs, tmp_path):
    exps = [espnet_runs.stable.expdir, espnet_runs.unstable.expdir]
    out = tmp_path / "fig" / "curves.png"
    runs, plotted = curves.curves(exps, out)
    assert out.stat().st_size > 20_000  # a real six-panel figure
    # expected number of curves per panel: train+valid for loss/acc/ppl, one per run
    # otherwise -- except the unstable run's valid perplexity: every epoch's value (all
    # after the explosion) is non-finite and is not drawn. Which non-finite value (inf from
    # a huge loss, nan from a nan loss) and how many epochs finish before the monitor's
    # SIGTERM lands depend on the machine's speed; what holds everywhere: one value per
    # logged epoch, each the perplexity of that epoch's logged valid loss_att, none finite.
    unstable_epochs = logs.parse_train_log(espnet_runs.unstable.expdir / "train.log").epochs
    assert len(unstable_epochs) >= 1
    ppl = runs[1].series["valid_ppl"][1]
    assert len(ppl) == len(unstable_epochs) and not any(math.isfinite(v) for v in ppl)
    for value, epoch in zip(ppl, unstable_epochs):
        loss_att = epoch.get("valid", "loss_att")
        assert (math.isnan(value) and math.isnan(loss_att)) or (value == math.inf and not math.isnan(loss_att))
    assert [len(plotted[p]) for p in curves.PANELS] == [4, 4, 3, 2, 2, 2]
    assert [lbl for lbl, _, _ in plotted["loss"]] == ["stable train", "stable valid",
                                                       "unstable train", "unstable valid"]
    log = logs.parse_train_log(espnet_runs.stable.expdir / "train.log")
    label, xs, ys = plotted["gradient norm"][0]
    assert xs == list(range(1, 25))
    assert ys == [it.stats["grad_norm"] for it in log.intervals]
    _, xs, ys = plotted["loss"][1]  # stable valid loss per epoch, at the epoch-end iteration
    assert xs == [8, 16, 24] and ys == [e.get("valid", "loss") for e in log.epochs]
    _, xs, ys = plotted["learning rate"][0]
    assert ys[xs.index(5)] == log.intervals[4].stats["optim0_lr0"]
    # spikes and skipped updates are marked on the unstable run only
    assert [name for name, _, _ in plotted["spikes"]] == ["unstable"]
    assert len(plotted["spikes"][0][1]) >= 3
    assert [name for name, _, _ in plotted["skipped"]] == ["unstable"]


@pytest.mark.slow
def test_perplexity_is_exp_of_per_token_att_loss_from_the_text_shape(espnet_runs):
    run = runs.load_run(espnet_runs.stable.expdir)
    shape = espnet_runs.data / "data" / "valid" / "text_shape.char"
    tokens = statistics.fmean(int(line.split()[1]) for line in shape.read_text().splitlines())
    log = logs.parse_train_log(espnet_runs.stable.expdir / "train.log")
    expected = [math.exp(e.get("valid", "loss_att") / (tokens + 1)) for e in log.epochs]
    assert run.series["valid_ppl"][1] == pytest.approx(expected)
    assert run.ppl_note == ""


@pytest.mark.slow
def test_summary_table_rows_match_the_logs(espnet_runs, tmp_path):
    out = tmp_path / "c.png"
    rc = cli.main(["curves", str(espnet_runs.stable.expdir), str(espnet_runs.unstable.expdir), "-o", str(out)])
    assert rc == 0
    md = (tmp_path / "c.md").read_text()
    assert md.startswith("![training curves](c.png)")
    rows = [line.split("|")[1:-1] for line in md.splitlines() if line.startswith("|stable|")
            or line.startswith("|unstable|")]
    head = [line for line in md.splitlines() if line.startswith("|experiment|")][0].split("|")[1:-1]
    stable = dict(zip(head, rows[0]))
    unstable = dict(zip(head, rows[1]))
    log = logs.parse_train_log(espnet_runs.stable.expdir / "train.log")
    g = [it.stats["grad_norm"] for it in log.intervals]
    assert stable["updates"] == "24" and stable["epochs"] == "3"
    assert stable["spikes"] == "0" and stable["skipped updates"] == "0"
    assert float(stable["peak grad norm"]) == pytest.approx(max(g), rel=1e-2)  # 3 significant digits
    assert float(stable["clipped %"]) == pytest.approx(statistics.fmean(it.stats["clip"] for it in log.intervals),
                                                       rel=1e-2)
    assert int(unstable["spikes"]) >= 3 and int(unstable["skipped updates"]) >= 1


@pytest.mark.slow
def test_curves_from_tensorboard_agree_with_train_log(espnet_runs):
    a = runs.load_run(espnet_runs.stable.expdir, source="log")
    b = runs.load_run(espnet_runs.stable.expdir, source="tensorboard")
    assert b.source == "tensorboard"
    for key in ("train_loss", "grad_norm", "lr", "valid_acc"):
        assert a.series[key][0] == b.series[key][0]
        assert b.series[key][1] == pytest.approx(a.series[key][1], rel=2e-3, abs=1e-3)


def test_curves_cli_rejects_a_dir_without_logs(tmp_path, capsys):
    (tmp_path / "exp_empty").mkdir()
    rc = cli.main(["curves", str(tmp_path / "exp_empty"), "-o", str(tmp_path / "c.png")])
    assert rc == 1
    assert "exp_empty: neither train.log nor tensorboard/ found" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists() and not (tmp_path / "c.md").exists()


def test_perplexity_definition():
    assert metrics.perplexity(10.0, 4.0, length_normalized=False) == pytest.approx(math.exp(2.0))
    assert metrics.perplexity(2.0, None, length_normalized=True) == pytest.approx(math.exp(2.0))
    assert math.isnan(metrics.perplexity(2.0, None, length_normalized=False))
    assert metrics.perplexity(1e6, 1.0, length_normalized=False) == math.inf


@pytest.mark.slow
def test_x_axis_is_optimizer_updates_under_accum_grad(espnet_runs, tmp_path):
    import shutil

    import yaml

    exp = tmp_path / "accum2"
    shutil.copytree(espnet_runs.stable.expdir, exp)
    conf = yaml.safe_load((exp / "config.yaml").read_text())
    conf["accum_grad"] = 2  # as if every update had taken two mini-batches
    (exp / "config.yaml").write_text(yaml.safe_dump(conf))
    runs, plotted = curves.curves([exp], tmp_path / "c.png")
    _, xs, _ = plotted["gradient norm"][0]
    assert xs == [i / 2 for i in range(1, 25)]
    assert curves.summary_row(runs[0])["updates"] == 12


def _acc(points):
    return [s for s, _ in points], [a for _, a in points]


def test_updates_to_accuracy_interpolates_between_the_validations_around_the_crossing():
    acc = _acc([(100, 0.30), (200, 0.40), (300, 0.50), (400, 0.45)])
    # 0.468 lies 68% of the way from 0.40 (update 200) to 0.50 (update 300)
    assert metrics.updates_to_accuracy(acc, 0.468) == metrics.Reach(268, False)
    assert metrics.updates_to_accuracy(acc, 0.50) == metrics.Reach(300, False)  # exactly at a validation
    assert metrics.updates_to_accuracy(acc, 0.30) == metrics.Reach(100, True)  # first validation: an upper bound
    assert metrics.updates_to_accuracy(acc, 0.51) is None
    # iterations are turned into optimizer updates under accum_grad
    acc2 = _acc([(100, 0.30), (200, 0.40), (300, 0.50)])
    assert metrics.updates_to_accuracy(acc2, 0.468, accum_grad=2) == metrics.Reach(134, False)


def test_updates_to_accuracy_skips_non_finite_validations():
    acc = _acc([(100, 0.30), (200, math.nan), (300, 0.50)])
    assert metrics.updates_to_accuracy(acc, 0.40) == metrics.Reach(200, False)  # 0.30 -> 0.50 over 100..300
