"""ESPnet training configs: the one loader, and the ESPnet facts every tool here needs.

A training config is ESPnet's YAML of ``espnet2.bin.asr_train`` options. Everything that reads
one (check-config, plot-lr / the LR curve, the report, training curves, stage 10's stats key)
goes through this module, so "where is the peak LR" or "how long is the warmup" has one answer:

* :func:`load_config` reads the YAML (errors name the file);
* :func:`optimizer_name` / :func:`optimizer_lr`: the optimizer and its peak LR
  (``optim_conf.lr``, else the optimizer class's default, as ESPnet would build it);
* :func:`planned_updates`: ``max_epoch * num_iters_per_epoch // accum_grad`` where the config fixes it;
* :func:`scheduler_spec`: the scheduler class from ESPnet's registry (ours registered first), its
  ``scheduler_conf`` with the constructor defaults filled in, and its warmup window.

The warmup window of a scheduler is declared by the class where it can be (ours: the class
attributes ``warmup_key`` and ``closed_form`` of :class:`espnet_warmup.schedulers.ClosedFormWarmupLR`);
for ESPnet's own schedulers the facts are in :data:`ESPNET_SCHEDULERS`, here and nowhere else.
``suffix`` selects the n-th optimizer of a multi-optimizer config (``optim2``/``scheduler2`` ...).

Only :func:`load_config` is light; the other functions import ESPnet's registries (torch, espnet2).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

# ESPnet's trainer defaults (espnet2/tasks/abs_task.py, 202511), used when a config omits them.
ESPNET_DEFAULT_OPTIM = "adadelta"
ESPNET_DEFAULT_MAX_EPOCH = 40
ESPNET_DEFAULT_ACCUM_GRAD = 1

#: constructor arguments that are not part of a scheduler's config schema
_NOT_CONFIG = ("self", "optimizer", "last_epoch", "verbose")


class ConfigError(ValueError):
    """A training config that cannot be read or used (the message names the file and key)."""


def load_config(path: str | Path) -> dict[str, Any]:
    """Read an ESPnet training YAML into a dict; errors (missing file, bad YAML, not a mapping) name the file.

    An empty file is an empty config (ESPnet's defaults everywhere).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:  # e.g. "cannot read the config: No such file or directory"
        raise ConfigError(f"{path}: cannot read the config: {err.strerror or err}") from None
    try:
        conf = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if conf is None:
        return {}
    if not isinstance(conf, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of ESPnet options, got {type(conf).__name__}")
    return conf


# ----------------------------------------------------------------------------- registries
def espnet_registries() -> tuple[dict[str, type], dict[str, type]]:
    """ESPnet's ``(scheduler_classes, optim_classes)``, with our schedulers registered first.

    Under the recipe's ``ESPNET_WARMUP_QUIET_IMPORTS=1`` (path.sh), ESPnet is imported as the launcher
    imports it, without its import-time notices (see :mod:`espnet_warmup.lazy_registration`)."""
    import os

    from espnet_warmup import lazy_registration

    if os.environ.get(lazy_registration.QUIET_IMPORTS_ENV, "") == "1" and "espnet2.tasks.abs_task" not in sys.modules:
        lazy_registration.install()
    from espnet2.tasks import abs_task

    from espnet_warmup.registry import register

    register()
    return abs_task.scheduler_classes, abs_task.optim_classes


def constructor_params(cls: type) -> dict[str, inspect.Parameter]:
    """The config schema of a scheduler/optimizer class: its constructor's named arguments,
    without ``optimizer``/``last_epoch``/``verbose`` (ESPnet passes those, not the config)."""
    params = dict(inspect.signature(cls.__init__).parameters)
    return {
        k: p for k, p in params.items()
        if k not in _NOT_CONFIG and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def constructor_defaults(cls: type) -> dict[str, Any]:
    """``{argument: default}`` of the config schema of ``cls`` (arguments without a default left out)."""
    return {k: p.default for k, p in constructor_params(cls).items() if p.default is not p.empty}


def is_number(value: Any) -> bool:
    """An int or float from YAML (``True``/``False`` are not numbers in a config)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ----------------------------------------------------------------------------- optimizer
def optimizer_name(config: dict[str, Any], suffix: str = "") -> str:
    """Registry key of the optimizer ``optim<suffix>`` (lower-case; ESPnet's default adadelta)."""
    return str(config.get(f"optim{suffix}") or ESPNET_DEFAULT_OPTIM).lower()


def optimizer_lr(config: dict[str, Any], suffix: str = "") -> float | None:
    """The optimizer's LR (the peak of a warmup): ``optim<suffix>_conf.lr``, else the default ``lr``
    of the optimizer class. None when the config's lr is not a number, the optimizer is unknown, or
    its class has no numeric default."""
    conf = config.get(f"optim{suffix}_conf") or {}
    if isinstance(conf, dict) and "lr" in conf:
        return conf["lr"] if is_number(conf["lr"]) else None
    _, optim_classes = espnet_registries()
    cls = optim_classes.get(optimizer_name(config, suffix))
    if cls is None:
        return None
    default = constructor_defaults(cls).get("lr")
    return float(default) if is_number(default) else None


# ----------------------------------------------------------------------------- training length
@dataclasses.dataclass(frozen=True)
class PlannedUpdates:
    """Number of optimizer updates a config fixes: ``max_epoch * (num_iters_per_epoch // accum_grad)``.

    ``num_iters_per_epoch`` counts mini-batches; ESPnet steps batch schedulers once per update.
    """

    total: int
    max_epoch: int | float
    num_iters_per_epoch: int | float
    accum_grad: int | float

    @property
    def formula(self) -> str:
        return (f"max_epoch {self.max_epoch} x num_iters_per_epoch {self.num_iters_per_epoch} "
                f"/ accum_grad {self.accum_grad}")


def planned_updates(config: dict[str, Any]) -> PlannedUpdates | None:
    """The planned number of updates, or None when the config does not fix ``num_iters_per_epoch``
    (the epoch length then depends on the data) or a value is not a usable number."""
    iters = config.get("num_iters_per_epoch")
    if not is_number(iters) or iters <= 0:
        return None
    max_epoch = config.get("max_epoch", ESPNET_DEFAULT_MAX_EPOCH)
    accum = config.get("accum_grad", ESPNET_DEFAULT_ACCUM_GRAD)
    if not is_number(max_epoch) or not is_number(accum) or accum <= 0:
        return None
    # ESPnet's trainer counts iterations from 1 in every epoch and updates when the count is a
    # multiple of accum_grad: num_iters_per_epoch // accum_grad updates per epoch.
    return PlannedUpdates(int(max_epoch) * (int(iters) // int(accum)), max_epoch, iters, accum)


# ----------------------------------------------------------------------------- scheduler
def _whole_updates(value: Any) -> int | None:
    return int(value) if is_number(value) and value >= 1 else None


def _steps_window(conf: dict[str, Any], key: str = "warmup_steps") -> tuple[int | None, list[int]]:
    """Warmup of ``conf[key]`` updates, no intermediate knots."""
    return _whole_updates(conf.get(key)), []


def _knots_window(conf: dict[str, Any]) -> tuple[int | None, list[int]]:
    """Piecewise linear: the last of ``warmup_steps_list`` is the peak, the inner ones are knots."""
    steps = conf.get("warmup_steps_list")
    if not isinstance(steps, list) or not steps or not all(is_number(s) for s in steps):
        return None, []
    return int(steps[-1]), [int(s) for s in steps[1:-1] if s > 0]


def _tristage_window(conf: dict[str, Any]) -> tuple[int | None, list[int]]:
    """Tri-stage: the warmup is the first ``warmup_ratio`` of ``max_steps``."""
    steps, ratio = conf.get("max_steps"), conf.get("warmup_ratio")
    if not is_number(steps) or not is_number(ratio):
        return None, []
    return _whole_updates(int(steps * ratio)), []


@dataclasses.dataclass(frozen=True)
class EspnetSchedulerFacts:
    """What the tools need to know of one of ESPnet's own schedulers (its class declares nothing)."""

    warmup_key: str | None  # scheduler_conf key that sets the warmup length (named in messages)
    window: Callable[[dict[str, Any]], tuple[int | None, list[int]]]
    closed_form: bool  # get_lr() depends on last_epoch only: evaluate directly instead of stepping


#: ESPnet 202511's schedulers that warm up; the others have no warmup window.
ESPNET_SCHEDULERS: dict[str, EspnetSchedulerFacts] = {
    "warmuplr": EspnetSchedulerFacts("warmup_steps", _steps_window, closed_form=True),
    "noamlr": EspnetSchedulerFacts("warmup_steps", _steps_window, closed_form=True),
    "piecewiselinearwarmuplr": EspnetSchedulerFacts("warmup_steps_list", _knots_window, closed_form=True),
    "tristagelr": EspnetSchedulerFacts("warmup_ratio", _tristage_window, closed_form=True),
    "warmupsteplr": EspnetSchedulerFacts("warmup_steps", _steps_window, closed_form=False),
    "warmupreducelronplateau": EspnetSchedulerFacts("warmup_steps", _steps_window, closed_form=False),
    "cosineannealingwarmuprestarts": EspnetSchedulerFacts("warmup_steps", _steps_window, closed_form=False),
    "exponentialdecaywarmup": EspnetSchedulerFacts("warmup_steps", _steps_window, closed_form=False),
}


@dataclasses.dataclass(frozen=True)
class SchedulerSpec:
    """The scheduler of a config, as ESPnet would build it, and its warmup window."""

    name: str | None  # registry key, lower-case; None when the config has no scheduler
    cls: type | None
    conf: dict  # scheduler_conf with the class's constructor defaults filled in
    warmup_end: int | None  # last warmup update (the peak), None if the schedule has no warmup
    knots: list[int]  # intermediate warmup knots (piecewise), for marking plots
    warmup_key: str | None = None  # the scheduler_conf key that sets warmup_end (for messages)
    closed_form: bool = False  # lr is a function of the update counter only (no chained state)
    decay_marks: list[int] = dataclasses.field(default_factory=list)  # tail changes (WSD decay start, T)


def _is_none(name: Any) -> bool:
    # ESPnet's --scheduler type is str_or_none: none/null/nil (any case) mean no scheduler.
    return name is None or (isinstance(name, str) and name.strip().lower() in ("none", "null", "nil"))


def scheduler_spec(config: dict[str, Any], suffix: str = "") -> SchedulerSpec:
    """The ``scheduler<suffix>`` of a config: class, conf with defaults, warmup window.

    Raises :class:`ConfigError` (naming the key, and the allowed names) for an unknown scheduler
    and for a ``scheduler_conf`` that is not a mapping. Values are not validated here (that is
    check-config's job); a warmup window that cannot be read from bad values is None.
    """
    key, conf_key = f"scheduler{suffix}", f"scheduler{suffix}_conf"
    name = config.get(key)
    if _is_none(name):
        return SchedulerSpec(None, None, {}, None, [])
    scheduler_classes, _ = espnet_registries()
    if not isinstance(name, str) or name.lower() not in scheduler_classes:
        allowed = ", ".join(sorted(scheduler_classes))
        raise ConfigError(f"{key}: unknown scheduler {name!r}; allowed: {allowed}")
    name = name.lower()
    cls = scheduler_classes[name]
    given = config.get(conf_key) or {}
    if not isinstance(given, dict):
        raise ConfigError(f"{conf_key}: must be a mapping of constructor arguments, got {given!r}")
    conf = {**constructor_defaults(cls), **given}

    facts = ESPNET_SCHEDULERS.get(name)
    decay_marks: list[int] = []
    if hasattr(cls, "warmup_key"):  # declared by the class (ours, or a user's family)
        warmup_key, closed_form = cls.warmup_key, bool(getattr(cls, "closed_form", False))
        warmup_end, knots = _steps_window(conf, warmup_key)
        marks = cls.schedule_marks(conf) if hasattr(cls, "schedule_marks") else None
        if marks is not None:  # a shape x tail family: its own window (none: no warmup), and the tail's marks
            warmup_end, knots, decay_marks = marks
    elif facts is not None:
        warmup_key, closed_form = facts.warmup_key, facts.closed_form
        warmup_end, knots = facts.window(conf)
    elif "warmup_steps" in conf:  # another plugin's scheduler, by ESPnet's naming convention
        warmup_key, closed_form = "warmup_steps", False
        warmup_end, knots = _steps_window(conf)
    else:
        warmup_key, closed_form, warmup_end, knots = None, False, None, []
    if warmup_end is None:
        warmup_key = None
    return SchedulerSpec(name, cls, conf, warmup_end, knots, warmup_key, closed_form, decay_marks)
