"""``espnet-warmup check-config conf/x.yaml ...``: catch config mistakes before a long run.

Reports, one line per problem as ``<file>: <key>: <what is wrong>``, and exits 1 if any:

* an unknown scheduler name, or an argument the scheduler's constructor does not take;
* ``warmup_steps`` <= 0 or not an integer; ``alpha`` / ``power`` <= 0; non-numeric values;
* a ``piecewiselinearwarmuplr`` whose last ``warmup_lr_list`` value differs from the optimizer's
  lr (ESPnet's tail then decays from the optimizer lr, so the LR jumps at the last knot);
* a warmup longer than the planned number of updates, where the config fixes it:
  ``max_epoch * num_iters_per_epoch // accum_grad`` (``num_iters_per_epoch`` counts mini-batches;
  ESPnet steps batch schedulers once per update).

Works for every ESPnet training config (several optimizers: ``scheduler2``/``scheduler2_conf``...).
"""

from __future__ import annotations

import argparse
import inspect
import math
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from espnet_warmup import schedules

# ESPnet's trainer defaults (espnet2/tasks/abs_task.py, 202511) used when a config omits them.
ESPNET_DEFAULT_OPTIM = "adadelta"
ESPNET_DEFAULT_MAX_EPOCH = 40
ESPNET_DEFAULT_ACCUM_GRAD = 1

#: the argument that holds the number of warmup updates, per scheduler
_WARMUP_KEYS = ("warmup_steps",)


def _registries() -> tuple[dict, dict]:
    from espnet2.tasks import abs_task

    from espnet_warmup import register

    register()
    return abs_task.scheduler_classes, abs_task.optim_classes


def _ctor_params(cls: type) -> dict[str, inspect.Parameter]:
    params = dict(inspect.signature(cls.__init__).parameters)
    for skip in ("self", "optimizer", "last_epoch", "verbose"):
        params.pop(skip, None)
    return {k: p for k, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _optimizer_lr(config: dict, suffix: str, optim_classes: dict) -> float | None:
    name = str(config.get(f"optim{suffix}", ESPNET_DEFAULT_OPTIM)).lower()
    conf = config.get(f"optim{suffix}_conf") or {}
    if "lr" in conf:
        return conf["lr"] if _is_number(conf["lr"]) else None
    cls = optim_classes.get(name)
    if cls is None:
        return None
    default = inspect.signature(cls.__init__).parameters.get("lr")
    if default is None or not _is_number(default.default):
        return None
    return float(default.default)


def _planned_updates(config: dict) -> tuple[int, str] | None:
    iters = config.get("num_iters_per_epoch")
    if not _is_number(iters) or iters <= 0:
        return None
    max_epoch = config.get("max_epoch", ESPNET_DEFAULT_MAX_EPOCH)
    accum = config.get("accum_grad", ESPNET_DEFAULT_ACCUM_GRAD)
    if not _is_number(max_epoch) or not _is_number(accum) or accum <= 0:
        return None
    total = int(max_epoch) * int(iters) // int(accum)
    how = f"max_epoch {max_epoch} x num_iters_per_epoch {iters} / accum_grad {accum}"
    return total, how


def _check_scheduler(
    config: dict, suffix: str, scheduler_classes: dict, optim_classes: dict
) -> list[str]:
    key, conf_key = f"scheduler{suffix}", f"scheduler{suffix}_conf"
    name = config.get(key)
    if name is None:
        return []
    errors: list[str] = []
    if not isinstance(name, str) or name.lower() not in scheduler_classes:
        allowed = ", ".join(sorted(scheduler_classes))
        return [f"{key}: unknown scheduler {name!r}; allowed: {allowed}"]
    name = name.lower()
    cls = scheduler_classes[name]
    conf = config.get(conf_key) or {}
    if not isinstance(conf, dict):
        return [f"{conf_key}: must be a mapping of constructor arguments, got {conf!r}"]
    params = _ctor_params(cls)
    for arg in conf:
        if arg not in params:
            allowed = ", ".join(params) or "(none)"
            errors.append(f"{conf_key}: unknown argument {arg!r} for {name}; allowed: {allowed}")

    # Value checks: ours (and every warmup_steps) by the same validators the classes use.
    validators = {"warmup_steps": schedules.check_warmup_steps}
    if name in ("exponentialwarmuplr",):
        validators["alpha"] = schedules.check_positive
    if name in ("polynomialwarmuplr",):
        validators["power"] = schedules.check_positive
    for arg, check in validators.items():
        if arg in conf and arg in params:
            try:
                check(conf[arg], arg)
            except ValueError as err:
                errors.append(f"{conf_key}.{arg}: {str(err).removeprefix(arg + ' ')}")
    for arg, value in conf.items():
        if arg in validators or arg not in params:
            continue
        default = params[arg].default
        if _is_number(default) and not _is_number(value) and value is not None:
            errors.append(f"{conf_key}.{arg}: must be a number, got {value!r} ({type(value).__name__})")

    lr = _optimizer_lr(config, suffix, optim_classes)
    warmup_end: int | None = None
    if name == "piecewiselinearwarmuplr":
        steps = conf.get("warmup_steps_list", params["warmup_steps_list"].default)
        lrs = conf.get("warmup_lr_list", params["warmup_lr_list"].default)
        errors += _check_piecewise(conf_key, steps, lrs, lr, suffix)
        if isinstance(steps, list) and steps and all(_is_number(s) for s in steps):
            warmup_end = int(steps[-1])
    else:
        for wkey in _WARMUP_KEYS:
            if wkey in params:
                value = conf.get(wkey, params[wkey].default)
                if _is_number(value) and value >= 1:
                    warmup_end = int(value)

    planned = _planned_updates(config)
    if warmup_end is not None and planned is not None and warmup_end > planned[0]:
        wkey = "warmup_steps_list" if name == "piecewiselinearwarmuplr" else "warmup_steps"
        errors.append(
            f"{conf_key}.{wkey}: {warmup_end} warmup updates but the config plans only "
            f"{planned[0]} updates ({planned[1]}); the run ends before reaching the peak LR"
        )

    if not errors and lr is not None:
        errors += _try_build(cls, conf, lr, conf_key, name)
    return errors


def _check_piecewise(conf_key: str, steps: Any, lrs: Any, lr: float | None, suffix: str) -> list[str]:
    if not isinstance(steps, list) or not all(_is_number(s) for s in steps):
        return [f"{conf_key}.warmup_steps_list: must be a list of numbers, got {steps!r}"]
    if not isinstance(lrs, list) or not all(_is_number(x) for x in lrs):
        return [f"{conf_key}.warmup_lr_list: must be a list of numbers, got {lrs!r}"]
    if len(steps) != len(lrs) or len(steps) < 2:
        return [
            f"{conf_key}: warmup_steps_list and warmup_lr_list must have the same length (>= 2), "
            f"got {len(steps)} and {len(lrs)}"
        ]
    if any(b <= a for a, b in zip(steps, steps[1:])):
        return [f"{conf_key}.warmup_steps_list: must be strictly increasing, got {steps!r}"]
    if steps[-1] <= 0:
        return [f"{conf_key}.warmup_steps_list: last knot must be >= 1, got {steps[-1]!r}"]
    if lr is not None and not math.isclose(lrs[-1], lr, rel_tol=1e-9, abs_tol=0.0):
        return [
            f"{conf_key}.warmup_lr_list: last warmup lr {lrs[-1]!r} differs from optim{suffix}_conf.lr "
            f"{lr!r}; after the last knot ESPnet decays from optim{suffix}_conf.lr, so the LR jumps "
            f"x{lr / lrs[-1] if lrs[-1] else float('inf'):.3g} at update {steps[-1]}"
        ]
    return []


def _try_build(cls: type, conf: dict, lr: float, conf_key: str, name: str) -> list[str]:
    """Instantiate the scheduler on a dummy optimizer: catches what no explicit rule does."""
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr)
    try:
        cls(optimizer, **conf)
    except Exception as err:  # noqa: BLE001 - any constructor error is a config error to report
        return [f"{conf_key}: {name}({', '.join(f'{k}={v!r}' for k, v in conf.items())}) fails: {err}"]
    return []


def check_config(path: str | Path) -> list[str]:
    """Return the problems found in one ESPnet training config, each as ``<file>: <message>``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        return [f"{path}: cannot read the config: {err.strerror or err}"]
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        return [f"{path}: not valid YAML: {err}"]
    if config is None:
        config = {}
    if not isinstance(config, dict):
        return [f"{path}: the top level must be a mapping of ESPnet options, got {type(config).__name__}"]
    scheduler_classes, optim_classes = _registries()
    suffixes = sorted({m.group(1) for k in config if (m := re.fullmatch(r"scheduler(\d*)", str(k)))})
    problems: list[str] = []
    for suffix in suffixes:
        problems += [f"{path}: {msg}" for msg in _check_scheduler(config, suffix, scheduler_classes, optim_classes)]
    return problems


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="ESPnet training config YAML files")


def run(args: argparse.Namespace) -> int:
    bad = 0
    for path in args.configs:
        problems = check_config(path)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            bad += 1
        else:
            print(f"{path}: OK")
    if bad:
        print(f"check-config: {bad} of {len(args.configs)} config(s) have problems", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="espnet-warmup check-config", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
