"""ESPnet batch-step schedulers for the exponential and polynomial warmups.

Thin adapters over :mod:`espnet_warmup.schedules`. Contract with ESPnet's trainer
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
from typing import Any

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler
from torch.optim.lr_scheduler import LRScheduler

from espnet_warmup import schedules

logger = logging.getLogger(__name__)


class _ClosedFormWarmupLR(LRScheduler, AbsBatchStepScheduler):
    """Shared adapter: lr_g(i) = base_lr_g * factor(i), i = last_epoch + 1."""

    #: hyper-parameter names saved beside the counter (for a mismatch warning on resume)
    _hparams: tuple[str, ...] = ()

    def factor(self, step: int) -> float:
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        return self._closed_form_lrs()

    def _closed_form_lrs(self) -> list[float]:
        step = self.last_epoch + 1
        f = self.factor(step)
        return [float(base_lr) * f for base_lr in self.base_lrs]

    def lr_at(self, step: int) -> list[float]:
        """LRs that update ``step`` (1-based) uses, without touching the state."""
        f = self.factor(step)
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
        lrs = self._closed_form_lrs()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._hparams)
        return f"{type(self).__name__}({args})"


class ExponentialWarmupLR(_ClosedFormWarmupLR):
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

    _hparams = ("warmup_steps", "alpha")

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 50000,
        alpha: float = 1.5,
        last_epoch: int = -1,
    ):
        self.warmup_steps = schedules.check_warmup_steps(warmup_steps, "warmup_steps")
        self.alpha = schedules.check_positive(alpha, "alpha")
        super().__init__(optimizer, last_epoch)

    def factor(self, step: int) -> float:
        return schedules.warmup_factor(
            step, self.warmup_steps, lambda x: schedules.exponential_warmup(x, self.alpha)
        )


class PolynomialWarmupLR(_ClosedFormWarmupLR):
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

    _hparams = ("warmup_steps", "power")

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 50000,
        power: float = 1.5,
        last_epoch: int = -1,
    ):
        self.warmup_steps = schedules.check_warmup_steps(warmup_steps, "warmup_steps")
        self.power = schedules.check_positive(power, "power")
        super().__init__(optimizer, last_epoch)

    def factor(self, step: int) -> float:
        return schedules.warmup_factor(
            step, self.warmup_steps, lambda x: schedules.polynomial_warmup(x, self.power)
        )
