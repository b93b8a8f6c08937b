"""ESPnet batch-step schedulers for the exponential and polynomial warmups.

Thin adapters over :mod:`espnet_warmup.schedules`: :class:`ClosedFormWarmupLR` is the one
adapter, and each family is a ~12-line subclass that declares its shape and hyper-parameters.
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

from espnet_warmup import schedules

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
        self.warmup_steps = schedules.check_warmup_steps(warmup_steps, "warmup_steps")
        if set(params) != set(self.params):
            raise TypeError(f"{type(self).__name__} takes {sorted(self.params)}, got {sorted(params)}")
        # validated in declaration order, so the first bad key is reported first
        self._shape_params = {key: check(params[key], key) for key, check in self.params.items()}
        for key, value in self._shape_params.items():
            setattr(self, key, value)
        super().__init__(optimizer, last_epoch)

    @property
    def _hparams(self) -> tuple[str, ...]:
        """Hyper-parameter names, saved beside the counter (for a mismatch warning on resume)."""
        return ("warmup_steps", *self.params)

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
