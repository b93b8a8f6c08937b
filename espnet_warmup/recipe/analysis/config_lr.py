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

Schedulers whose LR is a closed-form function of the update counter (ours, ESPnet's
``warmuplr``, ``piecewiselinearwarmuplr``, ``noamlr``, ``tristagelr``) are evaluated
directly at the sampled updates (their ``get_lr`` with the counter set), which gives the
same values as stepping (tested) in a fraction of the time for 100k+ updates.

So the curve of ESPnet's own schedulers includes their quirks (e.g.
``piecewiselinearwarmuplr``'s jump when ``warmup_lr_list[-1] != optim_conf.lr``).
Only the first optimizer (``optim``/``scheduler``) is considered.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from pathlib import Path
from typing import Any

import yaml

#: schedulers whose get_lr() depends on last_epoch only (no chained state)
CLOSED_FORM = frozenset(
    {"warmuplr", "piecewiselinearwarmuplr", "noamlr", "tristagelr",
     "exponentialwarmuplr", "polynomialwarmuplr"}
)

#: optimizer options that only make sense on a GPU / build; dropped for the dummy optimizer
_DEVICE_ONLY_OPTIM_KEYS = ("fused", "foreach", "capturable")


class ConfigError(ValueError):
    """A training config that cannot be turned into an LR curve (message names file and key)."""


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

    def lr_at(self, step: int) -> float:
        """LR of update ``step`` (must be one of :attr:`steps`)."""
        return self.lrs[self.steps.index(step)]


def load_config(path: str | Path) -> dict[str, Any]:
    """Read an ESPnet training YAML; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        with open(path) as f:
            conf = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(conf, dict):
        raise ConfigError(f"{path}: expected a YAML mapping of ESPnet training options")
    return conf


def _class_defaults(cls: type) -> dict[str, Any]:
    return {
        k: p.default
        for k, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def warmup_window(scheduler: str | None, conf: dict[str, Any]) -> tuple[int | None, list[int]]:
    """(last warmup update, intermediate knots) of a scheduler config, from its options.

    ``conf`` must already include the class defaults for keys the config left out.
    """
    if scheduler is None:
        return None, []
    if scheduler == "piecewiselinearwarmuplr":
        knots = [int(s) for s in conf.get("warmup_steps_list", [])]
        return (knots[-1] if knots else None), [k for k in knots[1:-1] if k > 0]
    if scheduler == "tristagelr":
        return int(conf["max_steps"] * conf["warmup_ratio"]), []
    if "warmup_steps" in conf and conf["warmup_steps"]:
        return int(conf["warmup_steps"]), []
    return None, []


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


def lr_curve(config: str | Path | dict[str, Any], steps: int, name: str | None = None,
             updates_per_epoch: int | None = None, points: int | None = None,
             closed_form: bool = True, at: list[int] | None = None) -> LRCurve:
    """LR of updates ``1..steps`` for an ESPnet training config (path or dict). See module doc.

    ``points`` limits the number of returned updates (evenly spaced, plus the warmup end
    and knots; ``at`` adds updates of interest); ``closed_form=False`` forces stepping the scheduler even where a closed
    form exists (used by the tests to check that both agree).
    """
    import warnings

    import torch

    import espnet_warmup
    from espnet2.schedulers.abs_scheduler import (
        AbsBatchStepScheduler,
        AbsEpochStepScheduler,
        AbsValEpochStepScheduler,
    )
    from espnet2.tasks.abs_task import optim_classes, scheduler_classes

    espnet_warmup.register()
    src = str(config) if not isinstance(config, dict) else (name or "config")
    conf = load_config(config) if not isinstance(config, dict) else config
    if name is None:
        name = Path(config).stem if not isinstance(config, dict) else "config"
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")

    optim_name = str(conf.get("optim") or "adadelta").lower()  # ESPnet's default optimizer
    if optim_name not in optim_classes:
        raise ConfigError(f"{src}: optim {optim_name!r} is not one of {sorted(optim_classes)}")
    optim_conf = dict(conf.get("optim_conf") or {})
    optim_cls = optim_classes[optim_name]
    lr = optim_conf.get("lr", _class_defaults(optim_cls).get("lr"))
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr):
        raise ConfigError(f"{src}: optim_conf.lr must be a number, got {lr!r}")

    param = torch.nn.Parameter(torch.zeros(1))
    kwargs = {k: v for k, v in optim_conf.items() if k not in _DEVICE_ONLY_OPTIM_KEYS}
    try:
        optimizer = optim_cls([param], **kwargs)
    except Exception:  # exotic optimizer args: the LR path only needs param_groups
        optimizer = torch.optim.SGD([param], lr=float(lr), momentum=0.9)

    sched_name = conf.get("scheduler")
    sched_name = None if sched_name in (None, "none", "None") else str(sched_name).lower()
    sched_conf = dict(conf.get("scheduler_conf") or {})
    if sched_name is None:
        return LRCurve(name, None, list(range(1, steps + 1)), [float(lr)] * steps, None, [],
                       note="no scheduler: constant LR")
    if sched_name not in scheduler_classes:
        raise ConfigError(
            f"{src}: scheduler {sched_name!r} is not one of {sorted(scheduler_classes)}"
        )
    cls = scheduler_classes[sched_name]
    try:
        scheduler = cls(optimizer, **sched_conf)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{src}: scheduler_conf for {sched_name!r} is invalid: {err}") from None
    full_conf = {**_class_defaults(cls), **sched_conf}
    w_end, knots = warmup_window(sched_name, full_conf)

    note = ""
    batch_step = isinstance(scheduler, AbsBatchStepScheduler)
    epoch_step = isinstance(scheduler, AbsEpochStepScheduler) and not batch_step
    if isinstance(scheduler, AbsValEpochStepScheduler):
        note = "validation-driven part not simulated (assumes no plateau)"
        epoch_step = False
    if epoch_step:
        if updates_per_epoch is None:
            iters = conf.get("num_iters_per_epoch")
            if not iters:
                raise ConfigError(
                    f"{src}: scheduler {sched_name!r} steps once per epoch, but num_iters_per_epoch "
                    "is not set; set it in the config (or pass updates_per_epoch)"
                )
            updates_per_epoch = max(1, int(iters) // int(conf.get("accum_grad", 1) or 1))
    if not (batch_step or epoch_step or note):
        note = "scheduler is neither a batch- nor an epoch-step scheduler: ESPnet never steps it"

    wanted = sample_steps(steps, points, [s for s in [w_end, *knots] if s])
    if at:
        wanted = sorted(set(wanted) | {s for s in at if 1 <= s <= steps})
    lrs = []
    if closed_form and sched_name in CLOSED_FORM and batch_step:
        for i in wanted:
            scheduler.last_epoch = i - 1  # update i runs with the LR computed at counter i-1
            lrs.append(float(scheduler.get_lr()[0]))
        return LRCurve(name, sched_name, wanted, lrs, w_end, knots, note)
    want = set(wanted)
    with warnings.catch_warnings():
        # torch warns that scheduler.step() precedes optimizer.step(); there is no training here
        warnings.simplefilter("ignore", UserWarning)
        for i in range(1, steps + 1):
            if i in want:
                lrs.append(float(optimizer.param_groups[0]["lr"]))
            if batch_step:
                scheduler.step()
            elif epoch_step and i % updates_per_epoch == 0:
                scheduler.step()
    return LRCurve(name, sched_name, wanted, lrs, w_end, knots, note)
