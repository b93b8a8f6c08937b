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

Shapes (the formulas of the paper's released code, hlt-mt/FBK-fairseq):
    linear          s(x) = x                                   (ESPnet ``warmuplr``)
    polynomial      s(x) = x ** p                              (``polynomial_warmup``, p = 1.5 in the paper)
    exponential     s(x) = (e^(a x) - 1) / (e^a - 1)           (``exponential_warmup``, a = 1.5 in the paper)
    piecewise       linear interpolation through knots (x_k, s_k)   (OWSM / ESPnet ``piecewiselinearwarmuplr``)

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
def linear_warmup(x: float) -> float:
    """s(x) = x."""
    return float(x)


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
