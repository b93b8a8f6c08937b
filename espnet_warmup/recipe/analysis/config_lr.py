"""The learning-rate curve of an ESPnet training config, as ESPnet would run it.

The curve is not re-derived from formulas: the scheduler named in the config is looked up
in ESPnet's registry (``espnet2.tasks.abs_task.scheduler_classes``, after
:func:`espnet_warmup.register` adds ours), built with the config's ``scheduler_conf`` on
a one-parameter optimizer whose ``lr`` is the config's ``optim_conf.lr``, and stepped the
way ESPnet's trainer steps it:

* batch-step schedulers (``warmuplr``, ``piecewiselinearwarmuplr``, ours ...): once per
  optimizer update; update ``i`` (1-based) runs with the LR set before it.
* epoch-step schedulers (``steplr``, ``exponentiallr`` ...): once per epoch of
  ``num_iters_per_epoch / accum_grad`` updates (the config must set
  ``num_iters_per_epoch``, or pass ``updates_per_epoch``).
* validation-driven schedulers (``reducelronplateau``; the plateau part of
  ``warmupreducelronplateau``) cannot be predicted: the curve assumes no plateau.
* no scheduler: the constant ``optim_conf.lr``.

Schedulers whose LR is a closed-form function of the update counter (those whose
:class:`~espnet_warmup.espnet_config.SchedulerSpec` says ``closed_form``: every family declared
on :class:`espnet_warmup.schedulers.ClosedFormWarmupLR`, and ESPnet's ``warmuplr``,
``piecewiselinearwarmuplr``, ``noamlr``, ``tristagelr``) are evaluated directly at the sampled
updates (their ``get_lr`` with the counter set; every shape x tail of ``warmupschedulelr`` and its presets
included), which gives the same values as stepping
(tested) in a fraction of the time for 100k+ updates. The config facts (optimizer and its lr,
scheduler class, warmup window) come from :mod:`espnet_warmup.espnet_config`.

So the curve of ESPnet's own schedulers includes their quirks (e.g.
``piecewiselinearwarmuplr``'s jump when ``warmup_lr_list[-1] != optim_conf.lr``).
Only the first optimizer (``optim``/``scheduler``) is considered.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any

from espnet_warmup.espnet_config import (
    ESPNET_DEFAULT_ACCUM_GRAD,
    ConfigError,
    SchedulerSpec,
    espnet_registries,
    load_config,
    optimizer_lr,
    optimizer_name,
    scheduler_spec,
)

__all__ = ["ConfigError", "LRCurve", "lr_curve", "sample_steps"]

#: optimizer options that only make sense on a GPU / build; dropped for the dummy optimizer
_DEVICE_ONLY_OPTIM_KEYS = ("fused", "foreach", "capturable")

#: how ESPnet's trainer steps a scheduler
BATCH, EPOCH, NEVER = "batch", "epoch", "never"


@dataclasses.dataclass
class LRCurve:
    """LR per optimizer update: ``lrs[k]`` is the LR of update ``steps[k]`` (1-based)."""

    name: str
    scheduler: str | None
    steps: list[int]
    lrs: list[float]
    warmup_end: int | None  # last warmup update (the peak), None if the schedule has none
    knots: list[int]  # intermediate warmup knots (piecewise linear), for marking
    note: str = ""
    decay_marks: list[int] = dataclasses.field(default_factory=list)  # tail changes: WSD decay start, T

    def lr_at(self, step: int) -> float:
        """LR of update ``step`` (must be one of :attr:`steps`)."""
        return self.lrs[self.steps.index(step)]


def sample_steps(steps: int, points: int | None, extra: list[int]) -> list[int]:
    """Updates at which to evaluate: all of 1..steps, or the multiples of
    ``ceil(steps / points)`` (round numbers stay exact) plus update 1, the last update,
    and ``extra`` with its neighbours (warmup end, knots: corners stay sharp)."""
    if points is None or steps <= points:
        return list(range(1, steps + 1))
    stride = -(-steps // points)
    picked = {1, steps, *range(stride, steps + 1, stride)}
    for e in extra:
        picked.update(s for s in (e - 1, e, e + 1) if 1 <= s <= steps)
    return sorted(picked)


# ----------------------------------------------------------------------------- building
def build_optimizer(conf: dict[str, Any], src: str):
    """(a one-parameter optimizer as the config's ``optim``/``optim_conf`` builds it, its lr)."""
    import torch

    _, optim_classes = espnet_registries()
    name = optimizer_name(conf)
    if name not in optim_classes:
        raise ConfigError(f"{src}: optim: unknown optimizer {name!r}; allowed: {', '.join(sorted(optim_classes))}")
    lr = optimizer_lr(conf)
    if lr is None or not math.isfinite(lr):
        raw = (conf.get("optim_conf") or {}).get("lr")
        raise ConfigError(f"{src}: optim_conf.lr must be a number, got {raw!r}")
    param = torch.nn.Parameter(torch.zeros(1))
    kwargs = {k: v for k, v in (conf.get("optim_conf") or {}).items() if k not in _DEVICE_ONLY_OPTIM_KEYS}
    try:
        optimizer = optim_classes[name]([param], **kwargs)
    except Exception:  # exotic optimizer args: the LR path only needs param_groups
        optimizer = torch.optim.SGD([param], lr=float(lr), momentum=0.9)
    return optimizer, float(lr)


def build_scheduler(spec: SchedulerSpec, conf: dict[str, Any], optimizer, src: str):
    """The scheduler of ``spec`` on ``optimizer``, with the config's own ``scheduler_conf``."""
    given = dict(conf.get("scheduler_conf") or {})
    try:
        return spec.cls(optimizer, **given)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{src}: scheduler_conf for {spec.name!r} is invalid: {err}") from None


def stepping(scheduler) -> tuple[str, str]:
    """(:data:`BATCH` | :data:`EPOCH` | :data:`NEVER`, note): when ESPnet's trainer steps ``scheduler``."""
    from espnet2.schedulers.abs_scheduler import (
        AbsBatchStepScheduler,
        AbsEpochStepScheduler,
        AbsValEpochStepScheduler,
    )

    if isinstance(scheduler, AbsValEpochStepScheduler):
        # warmupreducelronplateau: batch-stepped warmup, then the validation-driven part
        kind = BATCH if isinstance(scheduler, AbsBatchStepScheduler) else NEVER
        return kind, "validation-driven part not simulated (assumes no plateau)"
    if isinstance(scheduler, AbsBatchStepScheduler):
        return BATCH, ""
    if isinstance(scheduler, AbsEpochStepScheduler):
        return EPOCH, ""
    return NEVER, "scheduler is neither a batch- nor an epoch-step scheduler: ESPnet never steps it"


def _updates_per_epoch(conf: dict[str, Any], src: str, scheduler: str) -> int:
    iters = conf.get("num_iters_per_epoch")
    if not iters:
        raise ConfigError(
            f"{src}: scheduler {scheduler!r} steps once per epoch, but num_iters_per_epoch "
            "is not set; set it in the config (or pass updates_per_epoch)"
        )
    return max(1, int(iters) // int(conf.get("accum_grad", ESPNET_DEFAULT_ACCUM_GRAD) or 1))


# ----------------------------------------------------------------------------- evaluating
def evaluate_closed_form(scheduler, wanted: list[int]) -> list[float]:
    """LR of each update in ``wanted`` from the scheduler's closed form (no stepping)."""
    lrs = []
    for i in wanted:
        scheduler.last_epoch = i - 1  # update i runs with the LR computed at counter i-1
        lrs.append(float(scheduler.get_lr()[0]))
    return lrs


def evaluate_by_stepping(scheduler, optimizer, steps: int, wanted: list[int], kind: str,
                         updates_per_epoch: int | None) -> list[float]:
    """LR of each update in ``wanted``, stepping the scheduler through updates 1..steps as ESPnet does."""
    want, lrs = set(wanted), []
    with warnings.catch_warnings():
        # torch warns that scheduler.step() precedes optimizer.step(); there is no training here
        warnings.simplefilter("ignore", UserWarning)
        for i in range(1, steps + 1):
            if i in want:
                lrs.append(float(optimizer.param_groups[0]["lr"]))
            if kind == BATCH or (kind == EPOCH and i % updates_per_epoch == 0):
                scheduler.step()
    return lrs


def lr_curve(config: str | Path | dict[str, Any], steps: int, name: str | None = None,
             updates_per_epoch: int | None = None, points: int | None = None,
             closed_form: bool = True, at: list[int] | None = None) -> LRCurve:
    """LR of updates ``1..steps`` for an ESPnet training config (path or dict). See module doc.

    ``points`` limits the number of returned updates (evenly spaced, plus the warmup end
    and knots; ``at`` adds updates of interest); ``closed_form=False`` forces stepping the
    scheduler even where a closed form exists (used by the tests to check that both agree).
    """
    if isinstance(config, dict):
        src, conf, name = name or "config", config, name or "config"
    else:
        src, conf, name = str(config), load_config(config), name or Path(config).stem
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")

    optimizer, lr = build_optimizer(conf, src)
    try:
        spec = scheduler_spec(conf)
    except ConfigError as err:
        raise ConfigError(f"{src}: {err}") from None
    if spec.cls is None:
        return LRCurve(name, None, list(range(1, steps + 1)), [lr] * steps, None, [],
                       note="no scheduler: constant LR")
    scheduler = build_scheduler(spec, conf, optimizer, src)
    kind, note = stepping(scheduler)
    if kind == EPOCH and updates_per_epoch is None:
        updates_per_epoch = _updates_per_epoch(conf, src, spec.name)

    wanted = sample_steps(steps, points, [s for s in [spec.warmup_end, *spec.knots, *spec.decay_marks] if s])
    if at:
        wanted = sorted(set(wanted) | {s for s in at if 1 <= s <= steps})
    if closed_form and spec.closed_form and kind == BATCH:
        lrs = evaluate_closed_form(scheduler, wanted)
    else:
        lrs = evaluate_by_stepping(scheduler, optimizer, steps, wanted, kind, updates_per_epoch)
    return LRCurve(name, spec.name, wanted, lrs, spec.warmup_end, spec.knots, note, list(spec.decay_marks))
