"""The spike definition on hand-made series (the real-run checks are in test_real_runs)."""

from __future__ import annotations

import math

import pytest

from espnet_warmup.spikes import SpikeDetector, detect_spikes


def test_value_above_factor_times_trailing_median_is_a_spike():
    g = [1.0, 1.2, 0.9, 1.1, 1.0, 6.0, 1.0]
    found = detect_spikes(g, factor=5, window=50, min_history=5)
    assert [(s.index, s.value, s.median) for s in found] == [(5, 6.0, 1.0)]
    assert found[0].ratio == 6.0


def test_exactly_factor_times_median_is_not_a_spike():
    assert detect_spikes([2.0] * 5 + [10.0], factor=5, min_history=5) == []


def test_no_spike_before_min_history_points():
    assert detect_spikes([1.0, 100.0, 1.0], factor=5, min_history=3) == []
    assert len(detect_spikes([1.0, 1.0, 1.0, 100.0], factor=5, min_history=3)) == 1


def test_window_only_looks_back_window_points():
    # once the window of 3 holds mostly large values, their level is the new normal
    g = [1.0, 1.0, 1.0, 30.0, 30.0, 30.0, 40.0]
    found = detect_spikes(g, factor=5, window=3, min_history=3)
    # 30 vs median(1,1,1); 30 vs median(1,1,30)=1; then median(1,30,30)=30: no more spikes
    assert [s.index for s in found] == [3, 4]


def test_non_finite_values_are_skipped_not_spikes_nor_history():
    g = [1.0, math.nan, 1.0, math.inf, 1.0, 10.0]
    found = detect_spikes(g, steps=[10, 20, 30, 40, 50, 60], factor=5, min_history=3)
    assert [(s.step, s.median) for s in found] == [(60, 1.0)]


def test_even_history_uses_mean_of_middle_values():
    det = SpikeDetector(factor=2, window=4, min_history=4)
    for v in (1.0, 2.0, 3.0, 4.0):
        det.update(v)
    assert det.median() == 2.5
    assert det.update(5.1) is not None and det.median() == 3.5  # window slid: 2,3,4,5.1


def test_slowly_decreasing_norm_is_never_a_spike():
    g = [100.0 * 0.9**i for i in range(200)]
    assert detect_spikes(g) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"factor": 1.0}, "spike factor must be a finite number > 1, got 1.0"),
    ({"window": 0}, "spike window must be an integer >= 1, got 0"),
    ({"window": 5, "min_history": 6}, r"spike min_history must be an integer in \[1, window=5\], got 6"),
])
def test_bad_parameters_are_rejected_with_the_exact_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SpikeDetector(**kwargs)


def test_steps_and_values_must_have_the_same_length():
    with pytest.raises(ValueError, match="steps and values differ in length: 1 != 2"):
        detect_spikes([1.0, 2.0], steps=[1])
