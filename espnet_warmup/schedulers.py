"""ESPnet batch-step schedulers: the paper's exponential and polynomial warmups, and every shape x tail.

Thin adapters over :mod:`espnet_warmup.schedules`: :class:`ClosedFormWarmupLR` is the one
adapter, and each family is a ~12-line subclass that declares its shape and hyper-parameters.
:class:`WarmupScheduleLR` (``warmupschedulelr``) joins any shape to any tail by name
(:mod:`espnet_warmup.families`); :class:`WarmupCosineLR` and :class:`WarmupStableDecayLR` are its
presets under the names users look for.
Contract with ESPnet's trainer
(espnet2/train/trainer.py, 202511):

* The classes are ``AbsBatchStepScheduler`` and *not* epoch schedulers, so the trainer
  calls ``step()`` exactly once per optimizer update (also under ``accum_grad``) and
  never at the end of an epoch. (Deriving from ``LambdaLR`` would make ESPnet step
  them per batch *and* per epoch, because LambdaLR is registered as an epoch scheduler.)
* Like ESPnet's ``WarmupLR``, the constructor performs the initial step, so update
  ``i`` (1-based) runs with ``lr(i)``.
* The LR is computed in closed form from the update counter; the counter is the only
  state. ``state_dict()`` holds plain Python ints/floats, so ESPnet checkpoints load with
  ``torch.load(..., weights_only=True)``.
* The peak LR ``eta`` is the optimizer's ``lr`` of each parameter group (one source of
  truth); several parameter groups each scale by their own ``lr``.
* The constructor signature is the config schema (ESPnet's ``--print_config`` reads it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler
from torch.optim.lr_scheduler import LRScheduler

from espnet_warmup import families, schedules

logger = logging.getLogger(__name__)


class ClosedFormWarmupLR(LRScheduler, AbsBatchStepScheduler):
    """A warmup family: lr_g(i) = base_lr_g * factor(i), i = last_epoch + 1 (the counter).

    factor(i) = s(i / w, **params) for i < w, then sqrt(w / i) (:func:`schedules.warmup_factor`).
    A family is declared by three class attributes and an explicit constructor:

    * ``shape``: the shape s(x, **params), e.g. ``staticmethod(schedules.exponential_warmup)``;
    * ``params``: its hyper-parameters, each with the validator that returns the clean value or
      raises ValueError naming the key (``warmup_steps`` is common to every family);
    * ``__init__(self, optimizer, warmup_steps=..., <params with defaults>, last_epoch=-1)``
      calling ``super().__init__(optimizer, warmup_steps, last_epoch, **params)``; the explicit
      signature is the config schema (ESPnet's ``--print_config`` reads it).

    The base class validates, computes the closed form, saves the counter and prints itself.
    check-config reads ``params`` (validators), the LR tools read ``closed_form`` and
    ``warmup_key`` (:mod:`espnet_warmup.espnet_config`); register the class under its lower-cased
    name (:data:`espnet_warmup.registry.SCHEDULERS`, or :func:`espnet_warmup.registry.register`).
    """

    shape: ClassVar[Callable[..., float]]
    params: ClassVar[dict[str, Callable[[Any, str], Any]]] = {}
    #: the LR is a function of the update counter only (tools evaluate it without stepping)
    closed_form: ClassVar[bool] = True
    #: the constructor argument that sets the warmup length (the peak is at update warmup_steps)
    warmup_key: ClassVar[str] = "warmup_steps"

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_steps: int, last_epoch: int = -1,
                 **params: Any):
        # ``params`` may declare a validator for warmup_steps too (passed positionally, checked by _configure)
        expected = set(self.params) - {"warmup_steps"}
        if set(params) != expected:
            raise TypeError(f"{type(self).__name__} takes {sorted(expected)}, got {sorted(params)}")
        self._configure(warmup_steps, params)
        super().__init__(optimizer, last_epoch)

    def _configure(self, warmup_steps: Any, params: dict[str, Any]) -> None:
        """Validate the configuration and keep it as attributes (before the first step).

        A family with cross-key rules (:class:`WarmupScheduleLR`) overrides this.
        """
        self.warmup_steps = schedules.check_warmup_steps(warmup_steps, "warmup_steps")
        # validated in declaration order, so the first bad key is reported first
        self._shape_params = {key: check(params[key], key) for key, check in self.params.items()}
        for key, value in self._shape_params.items():
            setattr(self, key, value)

    @property
    def _hparams(self) -> tuple[str, ...]:
        """Hyper-parameter names, saved beside the counter (for a mismatch warning on resume)."""
        return tuple(dict.fromkeys(("warmup_steps", *self.params)))

    def factor(self, step: int) -> float:
        """Factor of the peak LR that update ``step`` (1-based) uses."""
        return schedules.warmup_factor(step, self.warmup_steps, self.shape, **self._shape_params)

    def get_lr(self) -> list[float]:
        f = self.factor(self.last_epoch + 1)
        return [float(base_lr) * f for base_lr in self.base_lrs]

    def state_dict(self) -> dict[str, Any]:
        """The counter (plus the hyper-parameters, only to detect a changed config)."""
        state: dict[str, Any] = {
            "last_epoch": int(self.last_epoch),
            "_step_count": int(self._step_count),
            "base_lrs": [float(x) for x in self.base_lrs],
        }
        for key in self._hparams:
            state[key] = getattr(self, key)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the counter; the constructed hyper-parameters (the config) stay in force.

        ESPnet's own schedulers let the checkpoint's hyper-parameters silently override
        an edited ``scheduler_conf``. Here the config wins and a changed value is logged.
        """
        for key in self._hparams:
            if key in state_dict and state_dict[key] != getattr(self, key):
                logger.warning(
                    "%s: %s is %r in the config but %r in the checkpoint; using the config's value",
                    type(self).__name__,
                    key,
                    getattr(self, key),
                    state_dict[key],
                )
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict.get("_step_count", self.last_epoch + 1))
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._hparams)
        return f"{type(self).__name__}({args})"


class ExponentialWarmupLR(ClosedFormWarmupLR):
    r"""Exponential warmup, then inverse-square-root decay (Gaido, Papi et al., 2025).

    .. math::
        \mathrm{lr}(i) = \begin{cases}
            \eta \, \dfrac{e^{\alpha i / w} - 1}{e^{\alpha} - 1} & i < w \\
            \eta \, \sqrt{w / i} & i \ge w
        \end{cases}

    ``i`` is the optimizer update (1-based), ``w`` = ``warmup_steps``, ``alpha`` the
    curvature (alpha -> 0 tends to linear warmup; 1.5 in the paper), and ``eta`` the
    optimizer's ``lr`` (the peak, reached exactly at ``i = w``).

    Args:
        optimizer: the wrapped optimizer; its ``lr`` is the peak.
        warmup_steps: number of warmup updates ``w`` (integer >= 1).
        alpha: curvature of the exponential (finite, > 0).
        last_epoch: index of the last update, -1 to start (torch convention).
    """

    shape = staticmethod(schedules.exponential_warmup)
    params = {"alpha": schedules.check_positive}

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 50000,
        alpha: float = 1.5,
        last_epoch: int = -1,
    ):
        super().__init__(optimizer, warmup_steps, last_epoch, alpha=alpha)


class PolynomialWarmupLR(ClosedFormWarmupLR):
    r"""Polynomial warmup, then inverse-square-root decay (Gaido, Papi et al., 2025).

    .. math::
        \mathrm{lr}(i) = \begin{cases}
            \eta \, (i / w)^{p} & i < w \\
            \eta \, \sqrt{w / i} & i \ge w
        \end{cases}

    ``i`` is the optimizer update (1-based), ``w`` = ``warmup_steps``, ``p`` = ``power``
    (1 gives ESPnet's ``warmuplr``; 1.5 in the paper), ``eta`` the optimizer's ``lr``.

    Args:
        optimizer: the wrapped optimizer; its ``lr`` is the peak.
        warmup_steps: number of warmup updates ``w`` (integer >= 1).
        power: exponent ``p`` of the warmup (finite, > 0).
        last_epoch: index of the last update, -1 to start (torch convention).
    """

    shape = staticmethod(schedules.polynomial_warmup)
    params = {"power": schedules.check_positive}

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 50000,
        power: float = 1.5,
        last_epoch: int = -1,
    ):
        super().__init__(optimizer, warmup_steps, last_epoch, power=power)


class WarmupScheduleLR(ClosedFormWarmupLR):
    r"""Any warmup shape joined to any decay tail (:mod:`espnet_warmup.families` has the formulas).

    .. math::
        \mathrm{lr}(i) = \begin{cases} \eta \, s(i / w) & i < w \\ \eta \, \mathrm{tail}(i) & i \ge w \end{cases}

    ``i`` is the optimizer update (1-based), ``w`` = ``warmup_steps``, ``eta`` the optimizer's
    ``lr`` (the peak, reached exactly at ``i = w``), ``T`` = ``total_steps`` the last update (the
    tails cosine, linear, exponential and wsd reach their floor ``eta_min = min_lr_ratio * eta``
    there and hold it after).

    Args:
        optimizer: the wrapped optimizer; its ``lr`` is the peak.
        shape: linear | piecewise | polynomial | exponential (the paper's, convex) |
            saturating_exponential (1 - e^(-rate x), concave) | cosine | none.
        tail: inverse_sqrt (the paper's) | constant | cosine | linear | exponential | wsd.
        warmup_steps: ``w`` (integer >= 1; 0 only with shape none).
        total_steps: ``T``, required by the tails that decay to a floor, refused by the others.
        min_lr_ratio: the floor as a fraction of the peak, in [0, 1] (default 0; exponential: > 0, required).
        start_factor: linear: the LR at update 0 over the peak, in [0, 1] (default 0).
        knot_steps, knot_lr_ratios: piecewise: the knots before the peak (updates in [0, w), LR / peak
            in [0, 1]); (0, 0) is implied unless knot_steps starts at 0, (w, 1) always.
        power: polynomial: x ** power (> 0, default 1.5).
        alpha: exponential: (e^(alpha x) - 1)/(e^alpha - 1) (> 0, default 1.5).
        rate: saturating_exponential: 1 - e^(-rate x) (> 0, default 5).
        num_decay_steps, decay_ratio: wsd: the decay length, in updates or as a fraction of T (one of them).
        decay_type: wsd: linear | cosine | 1-sqrt (default linear).
        last_epoch: index of the last update, -1 to start (torch convention).

    A key that neither the shape nor the tail uses must stay unset (null): the constructor refuses it.
    """

    #: every key's own check (check-config reports these per key); the combination: families.resolve
    params = dict(families.VALIDATORS)
    #: shape/tail a preset fixes (its constructor does not take them)
    fixed: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        shape: str = "linear",
        tail: str = "inverse_sqrt",
        warmup_steps: int = 25000,
        total_steps: int | None = None,
        min_lr_ratio: float | None = None,
        start_factor: float | None = None,
        knot_steps: list | None = None,
        knot_lr_ratios: list | None = None,
        power: float | None = None,
        alpha: float | None = None,
        rate: float | None = None,
        num_decay_steps: int | None = None,
        decay_ratio: float | None = None,
        decay_type: str | None = None,
        last_epoch: int = -1,
    ):
        super().__init__(
            optimizer, warmup_steps, last_epoch, shape=shape, tail=tail, total_steps=total_steps,
            min_lr_ratio=min_lr_ratio, start_factor=start_factor, knot_steps=knot_steps,
            knot_lr_ratios=knot_lr_ratios, power=power, alpha=alpha, rate=rate,
            num_decay_steps=num_decay_steps, decay_ratio=decay_ratio, decay_type=decay_type,
        )

    def _configure(self, warmup_steps: Any, params: dict[str, Any]) -> None:
        self._schedule = families.resolve({"warmup_steps": warmup_steps, **params})
        resolved = self._schedule.as_conf()
        self.warmup_steps = resolved.pop("warmup_steps")
        self._shape_params = resolved
        for key, value in resolved.items():  # every key but warmup_steps, None where unused
            setattr(self, key, value)

    def factor(self, step: int) -> float:
        return self._schedule.factor(step)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._hparams if getattr(self, k) is not None)
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------- for the config tools
    @classmethod
    def _full_conf(cls, conf: dict[str, Any]) -> dict[str, Any]:
        keys = set(families.KEYS)
        return {**{k: v for k, v in conf.items() if k in keys}, **cls.fixed}

    @classmethod
    def schedule_marks(cls, conf: dict[str, Any]) -> tuple[int | None, list[int], list[int]] | None:
        """(warmup end, inner warmup knots, tail marks) of ``conf`` (scheduler_conf with the constructor
        defaults), or None when the conf is not valid (the tools then fall back to ``warmup_steps``)."""
        try:
            sched = families.resolve(cls._full_conf(conf))
        except ValueError:
            return None
        return sched.warmup_end, sched.knots, sched.decay_marks

    @classmethod
    def config_problems(cls, conf: dict[str, Any], planned: Any = None) -> list[str]:
        """check-config's family hook: problems of ``conf`` (scheduler_conf with the constructor
        defaults) as ``"<key>: <message>"``, beyond the per-key checks of :attr:`params` (which
        check-config reports itself: nothing here while one of them fails).

        ``planned`` (:class:`espnet_warmup.espnet_config.PlannedUpdates` or None) is the number
        of updates the config fixes (max_epoch x num_iters_per_epoch / accum_grad): a tail that needs T
        without total_steps is told that number; a total_steps that differs from it is reported.
        """
        full = cls._full_conf(conf)
        if families.value_problems(full):
            return []
        tail = full.get("tail", "inverse_sqrt")
        needs_total = families.TAILS[tail].needs_total
        total = full.get("total_steps")
        if needs_total and total is None:
            plan = (f"the config plans {planned.total} updates ({planned.formula}): set total_steps: {planned.total}"
                    if planned is not None else
                    "the config does not fix the number of updates (no num_iters_per_epoch): set total_steps "
                    "to the number of optimizer updates of the run")
            return [f"total_steps: tail {tail} needs total_steps, the last update T (where the LR reaches its "
                    f"floor); {plan}"]
        problems = [_as_key_message(p) for p in families.combination_problems(full)]
        if not problems and needs_total and planned is not None and total != planned.total:
            if total < planned.total:
                what = (f"the LR reaches its floor at update {total} and holds it for the last "
                        f"{planned.total - total} updates")
            else:
                what = f"the run stops at update {planned.total}, before the decay reaches its floor at update {total}"
            problems.append(f"total_steps: {total} but the config plans {planned.total} updates "
                            f"({planned.formula}); {what}")
        return problems


def _as_key_message(problem: str) -> str:
    """``"total_steps must be ..."`` -> ``"total_steps: must be ..."`` (check-config's line format)."""
    key, _, rest = problem.partition(" ")
    return f"{key}: {rest}"


class WarmupCosineLR(WarmupScheduleLR):
    r"""Linear warmup, then cosine decay to a floor at the last update (the common "warmup + cosine").

    .. math::
        \mathrm{lr}(i) = \begin{cases}
            \eta \, (f_0 + (1 - f_0)\, i / w) & i < w \\
            \eta_{min} + (\eta - \eta_{min}) \tfrac{1}{2}(1 + \cos(\pi \tfrac{i - w}{T - w})) & w \le i \le T \\
            \eta_{min} & i > T
        \end{cases}

    ``eta_min = min_lr_ratio * eta``, ``T`` = ``total_steps`` (required), ``f0`` = ``start_factor``.
    The same as ``warmupschedulelr`` with ``shape: linear, tail: cosine``.
    """

    fixed = {"shape": "linear", "tail": "cosine"}

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 25000,
        total_steps: int | None = None,
        min_lr_ratio: float = 0.0,
        start_factor: float = 0.0,
        last_epoch: int = -1,
    ):
        super().__init__(optimizer, shape="linear", tail="cosine", warmup_steps=warmup_steps,
                         total_steps=total_steps, min_lr_ratio=min_lr_ratio, start_factor=start_factor,
                         last_epoch=last_epoch)


class WarmupStableDecayLR(WarmupScheduleLR):
    r"""Warmup-stable-decay (WSD): linear warmup, hold the peak, decay over the last updates to a floor.

    .. math::
        \mathrm{lr}(i) = \begin{cases}
            \eta \, i / w & i < w \\
            \eta & w \le i \le D \\
            \eta_{min} + (\eta - \eta_{min})\, g(\tfrac{i - D}{T - D}) & D < i \le T \\
            \eta_{min} & i > T
        \end{cases}

    ``D = T - n`` with ``n`` = ``num_decay_steps``, or ``decay_ratio * T`` (one of them);
    ``g`` by ``decay_type``: linear ``1 - q``, cosine ``(1 + cos(pi q))/2``, 1-sqrt ``1 - sqrt(q)``;
    ``eta_min = min_lr_ratio * eta``. The names are those of HF transformers' ``get_wsd_schedule``
    (num_decay_steps, decay_type, min_lr_ratio). The same as ``warmupschedulelr`` with
    ``shape: linear, tail: wsd``.
    """

    fixed = {"shape": "linear", "tail": "wsd"}

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 25000,
        total_steps: int | None = None,
        num_decay_steps: int | None = None,
        decay_ratio: float | None = None,
        decay_type: str = "linear",
        min_lr_ratio: float = 0.0,
        last_epoch: int = -1,
    ):
        super().__init__(optimizer, shape="linear", tail="wsd", warmup_steps=warmup_steps,
                         total_steps=total_steps, num_decay_steps=num_decay_steps, decay_ratio=decay_ratio,
                         decay_type=decay_type, min_lr_ratio=min_lr_ratio, last_epoch=last_epoch)
