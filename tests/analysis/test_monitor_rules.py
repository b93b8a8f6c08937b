"""The monitor's divergence rules, record by record (the live behaviour on real runs is
in test_real_runs.py)."""

from __future__ import annotations

import math

from espnet_warmup.recipe.analysis.logs import EpochResult, Interval, SkippedUpdate
from espnet_warmup.recipe.analysis.divergence import DivergenceDetector, Thresholds


def _iv(step: int, grad_norm: float = 5.0, loss: float = 10.0, skipped: int = 0) -> Interval:
    return Interval(1, step, step, step, {"grad_norm": grad_norm, "loss": loss}, skipped=skipped)


def _kinds(findings):
    return [(f.level, f.kind) for f in findings]


def test_skips_before_the_first_finite_update_are_amp_calibration_not_divergence():
    det = DivergenceDetector(Thresholds(max_nonfinite=2))
    out = []
    for step in range(1, 6):  # five skipped updates at the start (GradScaler backing off)
        out += det.feed(SkippedUpdate(1, "inf", step))
        out += det.feed(_iv(step, grad_norm=math.nan, skipped=1))
    assert ("DIVERGENCE", "nonfinite_updates") not in _kinds(out)
    assert "not counted as divergence" in out[0].message
    out = det.feed(_iv(6))  # first finite update
    out += det.feed(SkippedUpdate(1, "nan", 7))
    assert ("DIVERGENCE", "nonfinite_updates") not in _kinds(out)
    out += det.feed(SkippedUpdate(1, "nan", 8))  # second counted skip: threshold 2 reached
    assert ("DIVERGENCE", "nonfinite_updates") in _kinds(out)


def test_nonfinite_updates_outside_the_window_do_not_add_up():
    det = DivergenceDetector(Thresholds(max_nonfinite=2, nonfinite_window=10))
    det.feed(_iv(1))
    det.feed(SkippedUpdate(1, "nan", 2))
    det.feed(_iv(2, grad_norm=math.nan, skipped=1))
    out = []
    for step in range(3, 30):
        out += det.feed(_iv(step))
    out += det.feed(SkippedUpdate(1, "nan", 31))
    assert ("DIVERGENCE", "nonfinite_updates") not in _kinds(out)


def test_three_spikes_in_ten_points_is_divergence_announced_once():
    det = DivergenceDetector()
    out = []
    for step in range(1, 11):
        out += det.feed(_iv(step, grad_norm=5.0))
    for step, g in ((11, 100.0), (12, 5.0), (13, 200.0), (14, 300.0), (15, 400.0)):
        out += det.feed(_iv(step, grad_norm=g))
    kinds = _kinds(out)
    assert kinds.count(("warning", "spike")) == 4
    assert kinds.count(("DIVERGENCE", "sustained_spikes")) == 1
    assert "3 of the last 10 logged grad norms are spikes" in out[kinds.index(("DIVERGENCE", "sustained_spikes"))].message


def test_two_isolated_spikes_are_only_warnings():
    det = DivergenceDetector()
    out = []
    for step in range(1, 40):
        g = 100.0 if step in (10, 25) else 5.0
        out += det.feed(_iv(step, grad_norm=g))
    assert [k for k in _kinds(out) if k[0] == "DIVERGENCE"] == []
    assert _kinds(out).count(("warning", "spike")) == 2


def test_loss_median_doubling_over_its_best_is_divergence():
    det = DivergenceDetector()
    losses = [10, 9, 8, 7, 6, 6, 6, 7, 9, 13, 14, 15]
    out = []
    for step, loss in enumerate(losses, 1):
        out += det.feed(_iv(step, loss=float(loss)))
    # best trailing median of 5 = 6 (steps 5-9: 6,6,6,7,9 -> 6 ... ); median(9,13,14,15,7)=13 > 12
    assert ("DIVERGENCE", "loss_rising") in _kinds(out)
    det2 = DivergenceDetector()
    out2 = []
    for step, loss in enumerate([10, 9, 8, 7, 6, 6, 6, 7, 9, 11, 11, 10], 1):
        out2 += det2.feed(_iv(step, loss=float(loss)))
    assert ("DIVERGENCE", "loss_rising") not in _kinds(out2)


def test_espnet_all_invalid_epoch_stop_is_divergence():
    det = DivergenceDetector()
    out = det.feed(None, "... WARNING: The gradients at all steps are invalid in this epoch. Something seems wrong.")
    assert _kinds(out) == [("DIVERGENCE", "all_invalid")]


def test_skips_after_last_interval_of_epoch_are_filed_at_epoch_end():
    det = DivergenceDetector(Thresholds(max_nonfinite=3))
    det.feed(_iv(1))
    det.feed(SkippedUpdate(1, "nan", 2))
    det.feed(SkippedUpdate(1, "nan", 3))
    det.feed(EpochResult(1, {"train": {"total_count": 4.0}}))
    out = det.feed(SkippedUpdate(2, "nan", 5))
    assert ("DIVERGENCE", "nonfinite_updates") in _kinds(out)
