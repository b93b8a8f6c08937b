"""Learning-rate warmup schedules as pure functions of the update count.

Every policy compared in "The Warmup Dilemma" (Gaido, Papi et al., IWSLT 2025) is
a warmup *shape* joined to one shared *tail* at the end of the warmup:

    lr(i) = eta * s(i / w)          for 0 <= i < w   (warmup)
    lr(i) = eta * sqrt(w / i)       for i >= w       (inverse-square-root decay)

where
    i    is the number of optimizer updates (ESPnet: update ``i`` uses ``lr(i)``, 1-based),
    w    is the number of warmup updates (``warmup_steps``),
    eta  is the peak learning rate (the optimizer's ``lr``),
    s    maps warmup progress x = i/w in [0, 1] to a factor in [0, 1], s(0) = 0, s(1) = 1.

Shapes (the first four are the formulas of the paper's released code, hlt-mt/FBK-fairseq):
    linear          s(x) = f0 + (1 - f0) x, f0 = 0 by default  (ESPnet ``warmuplr``)
    polynomial      s(x) = x ** p                              (``polynomial_warmup``, p = 1.5 in the paper)
    exponential     s(x) = (e^(a x) - 1) / (e^a - 1)           (``exponential_warmup``, a = 1.5 in the paper;
                                                                convex: slow start, steep end)
    piecewise       linear interpolation through knots (x_k, s_k)   (OWSM / ESPnet ``piecewiselinearwarmuplr``)
    saturating exponential  s(x) = 1 - e^(-k x)                (concave: steep start, flat end; the
                                                                *opposite* curvature of ``exponential``)
    cosine ramp     s(x) = (1 - cos(pi x)) / 2
    none            s(x) = 1                                   (the peak from update 1)

Tails beyond the paper's inverse-square-root (the ``*_decay`` functions below, for i >= w): constant,
cosine / linear / exponential decay to a floor at the last update T, and warmup-stable-decay (WSD).
Every tail that decays to a floor holds it past T. :mod:`espnet_warmup.families` names them and
joins any shape to any tail (:func:`join`).

Everything here is plain Python floats: no torch, no numpy, no state.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

#: a warmup shape s(x, **params): progress x = i/w in [0, 1] -> factor in [0, 1]
Shape = Callable[..., float]


# --------------------------------------------------------------------------- validation
def check_warmup_steps(value: object, key: str = "warmup_steps") -> int:
    """Return ``value`` as an int if it is a whole number >= 1, else raise ValueError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be an integer >= 1, got {value!r} ({type(value).__name__})")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
    return int(value)


def check_positive(value: object, key: str) -> float:
    """Return ``value`` as a float if it is finite and > 0, else raise ValueError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a finite number > 0, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{key} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_step(step: int) -> None:
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step!r}")


# --------------------------------------------------------------------------- shapes
def linear_warmup(x: float, start_factor: float = 0.0) -> float:
    """s(x) = f0 + (1 - f0) x with f0 = ``start_factor`` = eta0 / eta (the LR at update 0 over the peak).

    f0 = 0 (the default) is s(x) = x exactly (``0.0 + 1.0 * x == x``): ESPnet's ``warmuplr``.
    """
    return start_factor + (1.0 - start_factor) * float(x)


def saturating_exponential_warmup(x: float, rate: float) -> float:
    """Saturating exponential s(x) = 1 - e^(-k x), k = ``rate`` (concave; *not* the paper's exponential).

    This is the "exponential warmup" of Ma & Yarats (arXiv 1910.04209, ``pytorch_warmup``'s
    ``ExponentialWarmup``): 1 - exp(-i / tau) with the time constant tau = w / k updates. It rises
    fastest at the start and flattens towards the peak, the opposite curvature of
    :func:`exponential_warmup` (the paper's, convex). It never reaches 1: at the end of the warmup
    (x = 1, update w) it is 1 - e^(-k), and the tail takes over there at the full peak, so the LR
    steps up by eta * e^(-k) at update w (0.67 % of the peak for k = 5, 0.09 % for k = 7).
    Computed with ``expm1`` (full precision for the first updates).
    """
    return -math.expm1(-rate * float(x))


def cosine_warmup(x: float) -> float:
    """Cosine ramp s(x) = (1 - cos(pi x)) / 2, computed as sin(pi x / 2)^2 (the same value; no
    cancellation near x = 0). s(1) = 1 exactly."""
    return math.sin(math.pi * float(x) / 2.0) ** 2


def no_warmup(x: float) -> float:
    """s(x) = 1: the peak LR from update 1 (shape ``none``)."""
    return 1.0


def polynomial_warmup(x: float, power: float) -> float:
    """s(x) = x ** power; power = 1 is the linear warmup."""
    return float(x) ** power


def exponential_warmup(x: float, alpha: float) -> float:
    """s(x) = (e^(alpha x) - 1) / (e^alpha - 1).

    Computed with ``expm1`` so that the first updates (x ~ 1e-5) keep full relative
    precision; ``exp(.) - 1`` there loses about five digits. alpha -> 0 tends to linear.
    """
    return math.expm1(alpha * x) / math.expm1(alpha)


def piecewise_linear_warmup(x: float, knots: Sequence[tuple[float, float]]) -> float:
    """Linear interpolation through ``knots`` = [(x_0, s_0), ..., (1, 1)], x_0 = 0.

    Outside [x_0, x_last] the end values are held (as numpy.interp does).
    """
    xs = [k[0] for k in knots]
    if x <= xs[0]:
        return float(knots[0][1])
    if x >= xs[-1]:
        return float(knots[-1][1])
    j = bisect.bisect_right(xs, x)
    (x0, s0), (x1, s1) = knots[j - 1], knots[j]
    return s0 + (s1 - s0) * (x - x0) / (x1 - x0)


# --------------------------------------------------------------------------- tail and join
def inverse_sqrt_decay(step: int, warmup_steps: int) -> float:
    """Tail factor sqrt(w / i) for i >= w (1 at i = w)."""
    return math.sqrt(warmup_steps / step)


# --------------------------------------------------------------------------- tails beyond the paper
# Each tail maps update i >= w to a factor of the peak: 1 at i = w, a floor m = min_lr_ratio
# (eta_min = m * eta) at the last update T = total_steps, and m for every i > T (held: a cosine
# evaluated beyond its span would rise again). Between w and T: m + (1 - m) g(p), p = (i - w)/(T - w).
def constant_tail(step: int, warmup_steps: int) -> float:
    """Tail factor 1 for every i >= w (warmup, then the constant peak)."""
    return 1.0


def _progress(step: float, start: float, end: float) -> float:
    """(i - start) / (end - start), clamped to [0, 1]."""
    if step <= start:
        return 0.0
    if step >= end:
        return 1.0
    return (step - start) / (end - start)


def _to_floor(g: float, p: float, min_lr_ratio: float) -> float:
    """m + (1 - m) g at progress p; exactly 1 at p = 0 and exactly m at p = 1 (and clamped to [m, 1],
    so rounding can never put a value below the floor or above the peak)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return float(min_lr_ratio)
    return min(1.0, max(min_lr_ratio, min_lr_ratio + (1.0 - min_lr_ratio) * g))


def _cosine_down(p: float) -> float:
    return (1.0 + math.cos(math.pi * p)) / 2.0


def _linear_down(p: float) -> float:
    return 1.0 - p


def _one_minus_sqrt_down(p: float) -> float:
    return 1.0 - math.sqrt(p)


#: the decay shapes g(p) of the WSD tail (HF transformers' ``decay_type`` names)
DECAY_TYPES: dict[str, Callable[[float], float]] = {
    "linear": _linear_down,
    "cosine": _cosine_down,
    "1-sqrt": _one_minus_sqrt_down,
}


def cosine_decay(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0) -> float:
    """m + (1 - m)(1 + cos(pi (i - w)/(T - w)))/2 for w <= i <= T, m after T.

    Times eta this is torch's ``CosineAnnealingLR(T_max = T - w, eta_min = m eta)`` started at
    update w, except that it holds eta_min past T instead of rising again.
    """
    p = _progress(step, warmup_steps, total_steps)
    return _to_floor(_cosine_down(p), p, min_lr_ratio)


def linear_decay(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0) -> float:
    """m + (1 - m)(T - i)/(T - w) for w <= i <= T, m after T."""
    p = _progress(step, warmup_steps, total_steps)
    return _to_floor(_linear_down(p), p, min_lr_ratio)


def exponential_decay(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """m^((i - w)/(T - w)) for w <= i <= T (geometric from 1 to m > 0), m after T.

    The same curve as ESPnet's ``exponentialdecaywarmup`` (max_lr -> min_lr over the decay) and
    SpeechBrain's ``WarmAndExpDecayLRSchedule`` (``decay_factor`` = m).
    """
    p = _progress(step, warmup_steps, total_steps)
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return float(min_lr_ratio)
    return min(1.0, max(min_lr_ratio, min_lr_ratio ** p))


def wsd_decay(step: int, warmup_steps: int, total_steps: int, decay_steps: float,
              decay_type: str = "linear", min_lr_ratio: float = 0.0) -> float:
    """Warmup-stable-decay tail: 1 (stable) until D = T - n, then m + (1 - m) g(p), p = (i - D)/n,
    down to m at T, m after T.

    n = ``decay_steps`` (the decay length in updates, w <= D), g = :data:`DECAY_TYPES`
    [``decay_type``]: linear 1 - p, cosine (1 + cos(pi p))/2, 1-sqrt 1 - sqrt(p).
    """
    start = total_steps - decay_steps
    p = _progress(step, start, total_steps)
    return _to_floor(DECAY_TYPES[decay_type](p), p, min_lr_ratio)


def join(step: int, warmup_steps: int, shape: Shape, shape_params: dict, tail: Callable[..., float],
         tail_params: dict) -> float:
    """Factor of the peak LR at update ``step``: s(i/w) for i < w, then tail(i, w, **tail_params).

    The general form of :func:`warmup_factor` (which is this join with the inverse-sqrt tail);
    w = 0 (shape ``none`` only) means the tail from update 0.
    """
    _check_step(step)
    if step < warmup_steps:
        return shape(step / warmup_steps, **shape_params)
    return tail(step, warmup_steps, **tail_params)


def warmup_factor(step: int, warmup_steps: int, shape: Shape, **params: object) -> float:
    """Factor of the peak LR at update ``step``: s(i/w, **params) for i < w, then sqrt(w/i).

    This is the one join of a shape to the tail (every policy goes through it). At i = w the
    tail gives exactly 1.0, so the peak is exactly eta. ``params`` are the shape's
    hyper-parameters (e.g. ``alpha=1.5``), passed by keyword.
    """
    _check_step(step)
    if step < warmup_steps:
        return shape(step / warmup_steps, **params)
    return inverse_sqrt_decay(step, warmup_steps)


# --------------------------------------------------------------------------- named policies
def linear_warmup_lr(step: int, peak_lr: float, warmup_steps: int) -> float:
    """Linear warmup + inverse-sqrt tail: eta * min(i/w, sqrt(w/i)) (ESPnet ``warmuplr``)."""
    return peak_lr * warmup_factor(step, warmup_steps, linear_warmup)


def polynomial_warmup_lr(step: int, peak_lr: float, warmup_steps: int, power: float) -> float:
    """eta * (i/w)^power for i < w, then eta * sqrt(w/i)."""
    return peak_lr * warmup_factor(step, warmup_steps, polynomial_warmup, power=power)


def exponential_warmup_lr(step: int, peak_lr: float, warmup_steps: int, alpha: float) -> float:
    """eta * (e^(alpha i/w) - 1)/(e^alpha - 1) for i < w, then eta * sqrt(w/i)."""
    return peak_lr * warmup_factor(step, warmup_steps, exponential_warmup, alpha=alpha)


def piecewise_linear_warmup_lr(
    step: int, steps: Sequence[int], lrs: Sequence[float], peak_lr: float | None = None
) -> float:
    """OWSM's piecewise-linear warmup in ESPnet's terms (absolute knot LRs).

    ``steps`` = [0, w', ..., w] and ``lrs`` = [0, eta', ..., eta_last] are knots in updates
    and absolute LRs. The shape is the interpolation through (i_k / w, lr_k / eta), joined to
    the tail eta * sqrt(w / i) by :func:`warmup_factor`; eta = ``peak_lr`` defaults to
    ``lrs[-1]`` (ESPnet decays from the optimizer lr, which is why the two must agree).
    At i = w this gives eta (ESPnet gives ``lrs[-1]``; the same when the two agree). Scaling the
    knots by 1/eta and the result by eta rounds differently from interpolating the absolute LRs:
    values agree with ESPnet's ``piecewiselinearwarmuplr`` to ~1e-15 relative (a few ulp).
    """
    w = steps[-1]
    peak = lrs[-1] if peak_lr is None else peak_lr
    knots = [(s / w, lr / peak) for s, lr in zip(steps, lrs)]
    return peak * warmup_factor(step, w, piecewise_linear_warmup, knots=knots)


def owsm_piecewise_lr(
    step: int,
    peak_lr: float,
    warmup_steps: int,
    intermediate_lr: float,
    intermediate_warmup_steps: int,
) -> float:
    """The paper's double-linear warmup: 0 -> eta' at w', eta' -> eta at w, then the tail."""
    return piecewise_linear_warmup_lr(
        step, [0, intermediate_warmup_steps, warmup_steps], [0.0, intermediate_lr, peak_lr]
    )
