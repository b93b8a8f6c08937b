"""Pure schedule maths: golden values, the paper's released formulas, properties, equivalences."""

import math

import pytest

from espnet_warmup import schedules as S

ETA, W, W1, ETA1, ALPHA, POWER = 2e-4, 50_000, 25_000, 2e-5, 1.5, 1.5

# DESIGN.md golden table: step -> (linear, piecewise, polynomial, exponential)
GOLDEN = {
    1: (4.000000e-09, 8.000000e-10, 1.788854e-11, 1.723327e-09),
    15000: (6.000000e-05, 1.200000e-05, 3.286335e-05, 3.264577e-05),
    25000: (1.000000e-04, 2.000000e-05, 7.071068e-05, 6.416426e-05),
    50000: (2.000000e-04, 2.000000e-04, 2.000000e-04, 2.000000e-04),
    200000: (1.000000e-04, 1.000000e-04, 1.000000e-04, 1.000000e-04),
}


def all_policies(step):
    return (
        S.linear_warmup_lr(step, ETA, W),
        S.owsm_piecewise_lr(step, ETA, W, ETA1, W1),
        S.polynomial_warmup_lr(step, ETA, W, POWER),
        S.exponential_warmup_lr(step, ETA, W, ALPHA),
    )


# The released code (hlt-mt/FBK-fairseq, exponential_warmup / polynomial_warmup), re-derived from its
# published formulas and arithmetic: a precomputed slope alpha/w and scale eta/(e^alpha - 1) for the
# exponential; eta * (i/w)^p for the polynomial; decay_factor = eta*sqrt(w), lr = decay_factor/sqrt(i).
def fbk_exponential(i, lr=ETA, w=W, alpha=ALPHA):
    if i < w:
        slope, scale = alpha / w, lr / (math.exp(alpha) - 1)
        return scale * (math.exp(slope * i) - 1)
    return lr * math.sqrt(w) / math.sqrt(i)


def fbk_polynomial(i, lr=ETA, w=W, power=POWER):
    if i < w:
        return lr * (i / w) ** power
    return lr * math.sqrt(w) / math.sqrt(i)


@pytest.mark.parametrize("step", sorted(GOLDEN))
def test_golden_table_matches_design_values_to_7_digits(step):
    for got, want in zip(all_policies(step), GOLDEN[step]):
        assert got == pytest.approx(want, rel=5e-7)


REFERENCE_STEPS = [1, 2, 3, 10, 999, 14_500, 25_000, W - 1, W, W + 1, 75_000, 10 * W, 1_000_000]


@pytest.mark.parametrize("step", REFERENCE_STEPS)
def test_exponential_agrees_with_released_formula_to_1e9(step):
    assert S.exponential_warmup_lr(step, ETA, W, ALPHA) == pytest.approx(fbk_exponential(step), rel=1e-9, abs=0)


@pytest.mark.parametrize("step", REFERENCE_STEPS)
def test_polynomial_agrees_with_released_formula_to_1e9(step):
    assert S.polynomial_warmup_lr(step, ETA, W, POWER) == pytest.approx(fbk_polynomial(step), rel=1e-9, abs=0)


def test_exponential_agrees_at_every_step_of_a_full_warmup_and_tail():
    worst = max(
        abs(S.exponential_warmup_lr(i, ETA, W, ALPHA) / fbk_exponential(i) - 1) for i in range(1, 3 * W, 7)
    )
    assert worst < 1e-9


def test_exponential_is_exact_to_double_precision_near_step_1():
    # expm1 keeps full precision at x = i/w ~ 2e-5, where exp(.) - 1 cancels about five digits.
    import mpmath  # a dependency of torch (via sympy): always installed
    mpmath.mp.dps = 40
    for i in [1, 2, 5, 50]:
        exact = mpmath.mpf(ETA) * mpmath.expm1(mpmath.mpf(ALPHA) * i / W) / mpmath.expm1(mpmath.mpf(ALPHA))
        assert abs(S.exponential_warmup_lr(i, ETA, W, ALPHA) / float(exact) - 1) < 1e-15
        assert abs(fbk_exponential(i) / float(exact) - 1) < 1e-9


@pytest.mark.parametrize("fn", [
    lambda i: S.linear_warmup_lr(i, ETA, W),
    lambda i: S.owsm_piecewise_lr(i, ETA, W, ETA1, W1),
    lambda i: S.polynomial_warmup_lr(i, ETA, W, POWER),
    lambda i: S.exponential_warmup_lr(i, ETA, W, ALPHA),
], ids=["linear", "piecewise", "polynomial", "exponential"])
def test_properties_increasing_exact_peak_continuous_never_above_peak(fn):
    warm = [fn(i) for i in range(0, W + 1)]
    assert all(b > a for a, b in zip(warm, warm[1:])), "warmup must be strictly increasing"
    assert fn(W) == ETA, "peak exactly eta at i = w"
    assert abs(fn(W + 1) - fn(W)) < ETA * 1e-4 and abs(fn(W) - fn(W - 1)) < ETA * 1e-4, "continuous at handover"
    tail = [fn(i) for i in range(W, 20 * W, 997)]
    assert all(b < a for a, b in zip(tail, tail[1:])), "tail strictly decreasing"
    assert max(warm + tail) == ETA, "never above eta"
    assert fn(0) == 0.0


def test_polynomial_with_power_one_is_linear():
    for i in [1, 7, 1234, W - 1, W, W + 5, 9 * W]:
        assert S.polynomial_warmup_lr(i, ETA, W, 1.0) == S.linear_warmup_lr(i, ETA, W)


def test_exponential_tends_to_linear_for_small_alpha():
    for i in [1, 1000, 25_000, 49_999]:
        assert S.exponential_warmup_lr(i, ETA, W, 1e-6) == pytest.approx(S.linear_warmup_lr(i, ETA, W), rel=1e-5)


def test_two_knot_piecewise_is_linear():
    for i in [1, 333, 25_000, W, 4 * W]:
        assert S.piecewise_linear_warmup_lr(i, [0, W], [0.0, ETA]) == pytest.approx(S.linear_warmup_lr(i, ETA, W))


def test_polynomial_overtakes_exponential_near_14500_updates():
    # Both at alpha = power = 1.5: polynomial starts lower, crosses near 14.5k and stays above until w.
    assert S.polynomial_warmup_lr(14_000, ETA, W, POWER) < S.exponential_warmup_lr(14_000, ETA, W, ALPHA)
    assert S.polynomial_warmup_lr(15_000, ETA, W, POWER) > S.exponential_warmup_lr(15_000, ETA, W, ALPHA)


@pytest.mark.parametrize("value,msg", [
    (0, "warmup_steps must be an integer >= 1, got 0"),
    (-5, "warmup_steps must be an integer >= 1, got -5"),
    (2.5, "warmup_steps must be an integer >= 1, got 2.5"),
    ("100", "warmup_steps must be an integer >= 1, got '100' (str)"),
    (True, "warmup_steps must be an integer >= 1, got True (bool)"),
])
def test_bad_warmup_steps_is_rejected_with_the_key_and_range(value, msg):
    with pytest.raises(ValueError) as err:
        S.check_warmup_steps(value)
    assert str(err.value) == msg


@pytest.mark.parametrize("value,msg", [
    (0, "alpha must be a finite number > 0, got 0"),
    (-1.5, "alpha must be a finite number > 0, got -1.5"),
    (float("inf"), "alpha must be a finite number > 0, got inf"),
    ("fast", "alpha must be a finite number > 0, got 'fast' (str)"),
])
def test_bad_alpha_is_rejected_with_the_key_and_range(value, msg):
    with pytest.raises(ValueError) as err:
        S.check_positive(value, "alpha")
    assert str(err.value) == msg


def test_negative_step_is_an_error():
    with pytest.raises(ValueError, match="step must be >= 0, got -1"):
        S.exponential_warmup_lr(-1, ETA, W, ALPHA)
