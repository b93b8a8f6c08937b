"""Warmup families by name: any warmup shape joined to any decay tail (pure floats, no torch).

A schedule is ``lr(i) = eta * s(i / w)`` for ``i < w`` and ``eta * tail(i)`` for ``i >= w``
(:func:`espnet_warmup.schedules.join`), where ``i`` is the optimizer update (1-based), ``w`` =
``warmup_steps``, ``eta`` the optimizer's lr (the peak, reached exactly at update ``w``), ``T`` =
``total_steps`` the last update, and ``m`` = ``min_lr_ratio`` the floor (``eta_min = m * eta``).

Shapes (``shape:``; x = i / w)::

    linear                  f0 + (1 - f0) x          start_factor f0 = eta0/eta in [0, 1] (default 0)
    piecewise               through the knots (knot_steps[k], knot_lr_ratios[k]), then (w, 1)
    polynomial              x ** power               power > 0 (default 1.5)
    exponential             (e^(alpha x) - 1)/(e^alpha - 1)   the paper's, convex; alpha > 0 (default 1.5)
    saturating_exponential  1 - e^(-rate x)          concave (Ma & Yarats); rate > 0 (default 5); it is
                                                     1 - e^(-rate) at update w, where the tail starts at eta
    cosine                  (1 - cos(pi x))/2        the cosine ramp
    none                    1                        the peak from update 1 (warmup_steps may be 0)

Tails (``tail:``; for i >= w; p = (i - w)/(T - w); every tail with a floor holds m past T)::

    inverse_sqrt   sqrt(w / i)                        the paper's (ESPnet warmuplr); no T, no floor
    constant       1                                  no T
    cosine         m + (1 - m)(1 + cos(pi p))/2       needs T
    linear         m + (1 - m)(1 - p)                 needs T
    exponential    m ** p                             needs T and m > 0
    wsd            1 until D = T - n, then m + (1 - m) g((i - D)/n)   needs T and n: num_decay_steps,
                   or decay_ratio * T (the last fraction of training); g by decay_type:
                   linear 1 - q | cosine (1 + cos(pi q))/2 | 1-sqrt 1 - sqrt(q)   (HF transformers' names)

The scheduler_conf keys of the generic ESPnet scheduler (:class:`espnet_warmup.schedulers.WarmupScheduleLR`)
are :data:`KEYS`; a key that neither the shape nor the tail uses must be left unset (null): a
``power`` given to a linear warmup is a mistake, not something to ignore.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from espnet_warmup import schedules


# --------------------------------------------------------------------------- per-key validators
# Each returns the clean value (None stays None: "not set") or raises ValueError "<key> must ...".
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()


def check_name(choices: Mapping[str, Any]) -> Callable[[Any, str], Any]:
    def check(value: Any, key: str) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{key} must be one of {', '.join(sorted(choices))}; got {value!r}")
        return value
    return check


def optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def checked(value: Any, key: str) -> Any:
        return None if value is None else check(value, key)
    return checked


def check_steps(value: Any, key: str, low: int = 1) -> int:
    if not _whole(value) or value < low:
        raise ValueError(f"{key} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_unit(value: Any, key: str) -> float:
    """A number in [0, 1]."""
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{key} must be a number in [0, 1], got {value!r}")
    return float(value)


def check_min_lr_ratio(value: Any, key: str) -> float:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{key} must be a number in [0, 1] (the floor eta_min = {key} x the peak lr, so "
                         f"eta_min <= eta), got {value!r}")
    return float(value)


def check_ratio_open(value: Any, key: str) -> float:
    """A number in (0, 1]."""
    if not _is_number(value) or not 0.0 < value <= 1.0:
        raise ValueError(f"{key} must be a number in (0, 1], got {value!r}")
    return float(value)


def check_positive(value: Any, key: str) -> float:
    if not _is_number(value) or value <= 0:
        raise ValueError(f"{key} must be a finite number > 0, got {value!r}")
    return float(value)


def check_step_list(value: Any, key: str) -> list[int]:
    if not isinstance(value, list) or not value or not all(_whole(v) and v >= 0 for v in value):
        raise ValueError(f"{key} must be a non-empty list of integers >= 0 (updates), got {value!r}")
    return [int(v) for v in value]


def check_unit_list(value: Any, key: str) -> list[float]:
    if not isinstance(value, list) or not value or not all(_is_number(v) and 0 <= v <= 1 for v in value):
        raise ValueError(f"{key} must be a non-empty list of numbers in [0, 1] (LR / peak), got {value!r}")
    return [float(v) for v in value]


# --------------------------------------------------------------------------- the catalog
@dataclasses.dataclass(frozen=True)
class Part:
    """A shape or a tail: its function and the scheduler_conf keys it uses, with their defaults
    (``REQUIRED``: no default, the config must set it)."""

    fn: Callable[..., float]
    params: dict[str, Any]
    needs_total: bool = False


REQUIRED = object()

SHAPES: dict[str, Part] = {
    "linear": Part(schedules.linear_warmup, {"start_factor": 0.0}),
    "piecewise": Part(schedules.piecewise_linear_warmup, {"knot_steps": REQUIRED, "knot_lr_ratios": REQUIRED}),
    "polynomial": Part(schedules.polynomial_warmup, {"power": 1.5}),
    "exponential": Part(schedules.exponential_warmup, {"alpha": 1.5}),
    "saturating_exponential": Part(schedules.saturating_exponential_warmup, {"rate": 5.0}),
    "cosine": Part(schedules.cosine_warmup, {}),
    "none": Part(schedules.no_warmup, {}),
}

TAILS: dict[str, Part] = {
    "inverse_sqrt": Part(schedules.inverse_sqrt_decay, {}),
    "constant": Part(schedules.constant_tail, {}),
    "cosine": Part(schedules.cosine_decay, {"min_lr_ratio": 0.0}, needs_total=True),
    "linear": Part(schedules.linear_decay, {"min_lr_ratio": 0.0}, needs_total=True),
    "exponential": Part(schedules.exponential_decay, {"min_lr_ratio": REQUIRED}, needs_total=True),
    "wsd": Part(schedules.wsd_decay, {"min_lr_ratio": 0.0, "num_decay_steps": None, "decay_ratio": None,
                                      "decay_type": "linear"}, needs_total=True),
}

#: every scheduler_conf key of the generic scheduler, with its per-key validator (None = unset)
VALIDATORS: dict[str, Callable[[Any, str], Any]] = {
    "shape": check_name(SHAPES),
    "tail": check_name(TAILS),
    "warmup_steps": lambda v, k: check_steps(v, k, low=0),
    "total_steps": optional(check_steps),
    "min_lr_ratio": optional(check_min_lr_ratio),
    "start_factor": optional(check_unit),
    "knot_steps": optional(check_step_list),
    "knot_lr_ratios": optional(check_unit_list),
    "power": optional(check_positive),
    "alpha": optional(check_positive),
    "rate": optional(check_positive),
    "num_decay_steps": optional(check_steps),
    "decay_ratio": optional(check_ratio_open),
    "decay_type": optional(check_name(schedules.DECAY_TYPES)),
}
KEYS = tuple(VALIDATORS)
#: keys every schedule has (the rest belong to a shape or a tail)
_COMMON = ("shape", "tail", "warmup_steps", "total_steps")


def value_problems(conf: Mapping[str, Any]) -> list[str]:
    """Per-key problems of ``conf`` (keys of :data:`KEYS` only), each ``"<key> must ..."``."""
    out = []
    for key, check in VALIDATORS.items():
        if key in conf:
            try:
                check(conf[key], key)
            except ValueError as err:
                out.append(str(err))
    return out


# --------------------------------------------------------------------------- a resolved schedule
@dataclasses.dataclass(frozen=True)
class Schedule:
    """A shape joined to a tail with every parameter resolved (defaults filled in, checked)."""

    shape: str
    tail: str
    warmup_steps: int
    total_steps: int | None
    shape_params: dict[str, Any]
    tail_params: dict[str, Any]  # as the config names them (num_decay_steps / decay_ratio ...)

    def _tail_kwargs(self) -> dict[str, Any]:
        kw = dict(self.tail_params)
        if self.tail == "wsd":
            kw = {"decay_steps": self.decay_steps, "decay_type": kw["decay_type"],
                  "min_lr_ratio": kw["min_lr_ratio"]}
        if TAILS[self.tail].needs_total:
            kw["total_steps"] = self.total_steps
        return kw

    def _shape_kwargs(self) -> dict[str, Any]:
        if self.shape != "piecewise":
            return dict(self.shape_params)
        w = self.warmup_steps
        steps, ratios = self.shape_params["knot_steps"], self.shape_params["knot_lr_ratios"]
        knots = [(s / w, r) for s, r in zip(steps, ratios)]
        if steps[0] > 0:
            knots.insert(0, (0.0, 0.0))
        return {"knots": [*knots, (1.0, 1.0)]}

    def __post_init__(self):
        # the functions and their arguments, bound once (factor() runs at every update)
        object.__setattr__(self, "_shape_fn", SHAPES[self.shape].fn)
        object.__setattr__(self, "_tail_fn", TAILS[self.tail].fn)
        object.__setattr__(self, "_skw", self._shape_kwargs())
        object.__setattr__(self, "_tkw", self._tail_kwargs())

    @property
    def decay_steps(self) -> float | None:
        """WSD: the decay length n in updates (``num_decay_steps``, or ``decay_ratio * T``)."""
        if self.tail != "wsd":
            return None
        n = self.tail_params.get("num_decay_steps")
        return float(n) if n is not None else self.tail_params["decay_ratio"] * self.total_steps

    def factor(self, step: int) -> float:
        """Factor of the peak LR that update ``step`` uses."""
        return schedules.join(step, self.warmup_steps, self._shape_fn, self._skw, self._tail_fn, self._tkw)

    @property
    def warmup_end(self) -> int | None:
        """The update of the peak (end of the warmup); None for shape ``none`` (no warmup)."""
        return None if self.shape == "none" or self.warmup_steps == 0 else self.warmup_steps

    @property
    def knots(self) -> list[int]:
        """Inner warmup knots (piecewise), in updates."""
        if self.shape != "piecewise":
            return []
        return [s for s in self.shape_params["knot_steps"] if 0 < s < self.warmup_steps]

    @property
    def decay_marks(self) -> list[int]:
        """Updates where the tail changes: the WSD decay start, and T (where the floor begins)."""
        marks = []
        if self.tail == "wsd":
            marks.append(int(round(self.total_steps - self.decay_steps)))
        if TAILS[self.tail].needs_total:
            marks.append(self.total_steps)
        return marks

    def as_conf(self) -> dict[str, Any]:
        """Every key of :data:`KEYS`: the resolved value, None where neither part uses it."""
        conf = dict.fromkeys(KEYS)
        conf.update(shape=self.shape, tail=self.tail, warmup_steps=self.warmup_steps,
                    total_steps=self.total_steps, **self.shape_params, **self.tail_params)
        return conf


def _users(key: str) -> str:
    shapes = [n for n, p in SHAPES.items() if key in p.params]
    tails = [n for n, p in TAILS.items() if key in p.params]
    where = [f"shape {', '.join(shapes)}"] if shapes else []
    where += [f"tail {', '.join(tails)}"] if tails else []
    return " and ".join(where)


def combination_problems(conf: Mapping[str, Any]) -> list[str]:
    """Problems of the combination (the per-key values being valid), each ``"<key> must/is ..."``.

    Checks: warmup_steps 0 only with shape none (and never with inverse_sqrt, which is anchored
    at w); the keys only the other shapes/tails use are unset; required ones set; piecewise knots;
    T > w for tails that need T; the WSD decay fits in [w, T].
    """
    shape, tail = conf.get("shape", "linear"), conf.get("tail", "inverse_sqrt")
    w, total = conf.get("warmup_steps"), conf.get("total_steps")
    out: list[str] = []
    if w is None:
        return ["warmup_steps must be an integer >= 0, got None"]
    if w == 0 and shape != "none":
        out.append(f"warmup_steps must be an integer >= 1 for shape {shape} (0 only with shape none), got 0")
    if w == 0 and tail == "inverse_sqrt":
        out.append("warmup_steps must be an integer >= 1 for tail inverse_sqrt (it decays as sqrt(w / i) "
                   "from update w), got 0")
    used = {**SHAPES[shape].params, **TAILS[tail].params}
    for key in KEYS:
        if key in _COMMON or key in used or conf.get(key) is None:
            continue
        out.append(f"{key} is not used by shape {shape} with tail {tail} (it belongs to {_users(key)}); "
                   f"remove it or set it to null")
    for key, default in used.items():
        if default is REQUIRED and conf.get(key) is None:
            part = f"shape {shape}" if key in SHAPES[shape].params else f"tail {tail}"
            out.append(f"{key} is required by {part}")
    if TAILS[tail].needs_total:
        if total is None:
            out.append(f"total_steps is required by tail {tail}: the last update T, where the LR reaches its "
                       f"floor (set it to max_epoch x (num_iters_per_epoch // accum_grad))")
        elif total <= w:
            out.append(f"total_steps must be > warmup_steps ({w}) for tail {tail} (it decays from update w to "
                       f"update T), got {total}")
    elif total is not None:
        out.append(f"total_steps is not used by tail {tail} (only by tail "
                   f"{', '.join(n for n, p in TAILS.items() if p.needs_total)}); remove it or set it to null")
    if shape == "piecewise" and conf.get("knot_steps") is not None and conf.get("knot_lr_ratios") is not None:
        steps, ratios = conf["knot_steps"], conf["knot_lr_ratios"]
        if len(steps) != len(ratios):
            out.append(f"knot_lr_ratios must have one value per knot_steps entry ({len(steps)}), got {len(ratios)}")
        elif any(b <= a for a, b in zip(steps, steps[1:])) or steps[-1] >= w:
            out.append(f"knot_steps must be strictly increasing and below warmup_steps ({w}): the knots before "
                       f"the peak at update w, got {steps}")
    if tail == "wsd" and total is not None and total > w:
        n, ratio = conf.get("num_decay_steps"), conf.get("decay_ratio")
        if (n is None) == (ratio is None):
            out.append("num_decay_steps is required by tail wsd, or decay_ratio instead (exactly one of them): "
                       "the decay length in updates, or as a fraction of total_steps")
        elif n is not None and n > total - w:
            out.append(f"num_decay_steps must be <= total_steps - warmup_steps ({total - w}): the decay would start "
                       f"before the warmup ends, got {n}")
        elif ratio is not None and ratio * total > total - w:
            out.append(f"decay_ratio must be <= (total_steps - warmup_steps) / total_steps "
                       f"({(total - w) / total:.6g}): the decay would start before the warmup ends, got {ratio}")
    if tail == "exponential" and conf.get("min_lr_ratio") == 0:
        out.append(f"min_lr_ratio must be > 0 for tail exponential (it decays as min_lr_ratio ** p), "
                   f"got {conf['min_lr_ratio']!r}")
    return out


def resolve(conf: Mapping[str, Any]) -> Schedule:
    """The schedule of ``conf`` (scheduler_conf keys of :data:`KEYS`; missing keys are unset).

    Raises ValueError with the first problem (per-key values first, then the combination),
    which names the key and the allowed values or range.
    """
    unknown = sorted(set(conf) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(KEYS)}")
    full = {"shape": "linear", "tail": "inverse_sqrt", **conf}
    problems = value_problems(full)
    clean = {k: VALIDATORS[k](v, k) for k, v in full.items()} if not problems else {}
    problems = problems or combination_problems(clean)
    if problems:
        raise ValueError(problems[0])
    shape, tail = SHAPES[clean["shape"]], TAILS[clean["tail"]]

    def fill(part: Part) -> dict[str, Any]:
        return {k: (d if clean.get(k) is None else clean[k]) for k, d in part.params.items()}

    return Schedule(clean["shape"], clean["tail"], clean["warmup_steps"], clean.get("total_steps"),
                    fill(shape), fill(tail))
