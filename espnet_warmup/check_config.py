"""``espnet-warmup check-config conf/x.yaml ...``: catch config mistakes before a long run.

Reports, one line per problem as ``<file>: <key>: <what is wrong>``, and exits 1 if any:

* an unknown scheduler name, or an argument the scheduler's constructor does not take;
* ``warmup_steps`` <= 0 or not an integer; a bad value of a hyper-parameter of one of our
  families (each family declares its validators: ``ExponentialWarmupLR.params`` ...); non-numeric values;
* a ``piecewiselinearwarmuplr`` whose last ``warmup_lr_list`` value differs from the optimizer's
  lr (ESPnet's tail then decays from the optimizer lr, so the LR jumps at the last knot);
* a warmup longer than the planned number of updates, where the config fixes it:
  ``max_epoch * num_iters_per_epoch // accum_grad`` (``num_iters_per_epoch`` counts mini-batches;
  ESPnet steps batch schedulers once per update). An error, not a warning: such a run never
  reaches the peak LR the config names. It is a property of the file; ``--train_args`` that
  shorten a run (smoke tests) are not seen here;
* an optimizer ``lr`` that is not a finite number > 0 (e.g. ``1e-3``, which YAML reads as a string);
* ``*_list`` arguments of different lengths (piecewise knots: ``warmup_steps_list`` vs
  ``warmup_lr_list``), naming both keys and their lengths.

A config that names one of our schedulers gets a note on stderr saying how to make plain ESPnet
know it (the launcher, or ``espnet-warmup hook install``), unless this environment has the hook.

Works for every ESPnet training config (several optimizers: ``scheduler2``/``scheduler2_conf``...).
The config facts (optimizer lr and ESPnet's defaults, scheduler class and its warmup window, the
planned number of updates) come from :mod:`espnet_warmup.espnet_config`.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from espnet_warmup import schedules
from espnet_warmup.espnet_config import (
    ConfigError,
    constructor_params,
    is_number,
    load_config,
    optimizer_lr,
    planned_updates,
    scheduler_spec,
)


def _validators(cls: type) -> dict[str, Callable[[Any, str], Any]]:
    """Value checks of a scheduler's arguments: ``warmup_steps`` (the same meaning in every
    scheduler that has it) and the hyper-parameters a family of ours declares (``cls.params``)."""
    from espnet_warmup.schedulers import ClosedFormWarmupLR

    declared = cls.params if issubclass(cls, ClosedFormWarmupLR) else {}
    return {"warmup_steps": schedules.check_warmup_steps, **declared}


def _check_scheduler(config: dict, suffix: str) -> list[str]:
    conf_key = f"scheduler{suffix}_conf"
    try:
        spec = scheduler_spec(config, suffix)
    except ConfigError as err:  # unknown scheduler, scheduler_conf not a mapping
        return [str(err)]
    if spec.cls is None:
        return []
    name, cls = spec.name, spec.cls
    conf = config.get(conf_key) or {}
    errors: list[str] = []
    params = constructor_params(cls)
    for arg in conf:
        if arg not in params:
            allowed = ", ".join(params) or "(none)"
            errors.append(f"{conf_key}: unknown argument {arg!r} for {name}; allowed: {allowed}")

    # Value checks by the same validators the classes use.
    validators = _validators(cls)
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
        if is_number(default) and not is_number(value) and value is not None:
            errors.append(f"{conf_key}.{arg}: must be a number, got {value!r} ({type(value).__name__})")

    lr = optimizer_lr(config, suffix)
    lengths = _check_list_lengths(conf_key, spec.conf)
    errors += lengths
    if name == "piecewiselinearwarmuplr" and not lengths:
        errors += _check_piecewise(conf_key, spec.conf["warmup_steps_list"], spec.conf["warmup_lr_list"],
                                   lr, suffix)

    planned = planned_updates(config)
    if spec.warmup_end is not None and planned is not None and spec.warmup_end > planned.total:
        errors.append(
            f"{conf_key}.{spec.warmup_key}: {spec.warmup_end} warmup updates but the config plans only "
            f"{planned.total} updates ({planned.formula}); the run ends before reaching the peak LR"
        )

    # Family-specific rules (a shape x tail family: T, the combination), declared by the class.
    if not errors and hasattr(cls, "config_problems"):
        errors += [f"{conf_key}.{msg}" for msg in cls.config_problems(spec.conf, planned)]

    if not errors and lr is not None:
        errors += _try_build(cls, conf, lr, conf_key, name)
    return errors


def _check_list_lengths(conf_key: str, conf: dict) -> list[str]:
    """The ``*_list`` arguments of a scheduler (piecewise knots: ``warmup_steps_list`` and
    ``warmup_lr_list``) hold one entry per knot, so they must be equally long; ESPnet itself
    only fails at the first update, inside numpy ("fp and xp are not of the same length")."""
    lists = [(k, v) for k, v in conf.items() if str(k).endswith("_list") and isinstance(v, list)]
    (first, ref), *rest = lists or [(None, None)]
    return [
        f"{conf_key}: {first} has {len(ref)} entries but {key} has {len(value)}; they must be equally long "
        f"(one entry per knot)"
        for key, value in rest if len(value) != len(ref)
    ]


def _check_piecewise(conf_key: str, steps: Any, lrs: Any, lr: float | None, suffix: str) -> list[str]:
    if not isinstance(steps, list) or not all(is_number(s) for s in steps):
        return [f"{conf_key}.warmup_steps_list: must be a list of numbers, got {steps!r}"]
    if not isinstance(lrs, list) or not all(is_number(x) for x in lrs):
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


def _check_optimizer_lrs(config: dict) -> list[str]:
    """``optim<n>_conf.lr`` is the peak LR of every warmup: a number > 0 (PyYAML reads ``1e-3``,
    without a dot, as a string, which the optimizer then refuses at the start of training)."""
    errors = []
    for key in sorted(k for k in config if re.fullmatch(r"optim\d*_conf", str(k))):
        conf = config[key]
        if not isinstance(conf, dict) or "lr" not in conf:
            continue
        lr = conf["lr"]
        if not is_number(lr) or not math.isfinite(lr) or lr <= 0:
            hint = (" (YAML reads a number without a dot before the exponent as a string: write 1.0e-3)"
                    if isinstance(lr, str) and re.fullmatch(r"[-+]?\d+[eE][-+]?\d+", lr.strip()) else "")
            errors.append(f"{key}.lr: must be a finite number > 0, got {lr!r} ({type(lr).__name__}){hint}")
    return errors


def check_config(path: str | Path) -> list[str]:
    """Return the problems found in one ESPnet training config, each as ``<file>: <message>``."""
    try:
        config = load_config(path)
    except ConfigError as err:
        return [str(err)]
    suffixes = sorted({m.group(1) for k in config if (m := re.fullmatch(r"scheduler(\d*)", str(k)))})
    problems: list[str] = [f"{path}: {msg}" for msg in _check_optimizer_lrs(config)]
    for suffix in suffixes:
        problems += [f"{path}: {msg}" for msg in _check_scheduler(config, suffix)]
    return problems


def plugin_schedulers(path: str | Path) -> list[str]:
    """The names of our schedulers (:data:`espnet_warmup.registry.SCHEDULERS`) a config uses."""
    from espnet_warmup.registry import SCHEDULERS

    try:
        config = load_config(path)
    except ConfigError:
        return []
    names = [config[k] for k in config if re.fullmatch(r"scheduler\d*", str(k))]
    return sorted({n.lower() for n in names if isinstance(n, str) and n.lower() in SCHEDULERS})


def registration_note(names: list[str]) -> str | None:
    """How to make plain ESPnet know ``names``, unless this environment's startup hook does it."""
    from espnet_warmup import hook

    if not names or hook.status(hook.default_site())[1] == "installed":
        return None
    quoted = ", ".join(names)
    return (
        f"check-config: note: {quoted} come(s) from espnet-warmup; plain ESPnet does not know them and stops "
        f"(from asr.sh stage 10, collect stats, on) with \"--scheduler: invalid choice\". Run ESPnet through "
        f"the launcher (python -m espnet_warmup -m espnet2.bin.asr_train ..., or asr.sh --python "
        f"\"python3 -m espnet_warmup\"), or install the startup hook once: espnet-warmup hook install"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="ESPnet training config YAML files")
    parser.add_argument("--no_registration_note", action="store_true",
                        help="no note on how plain ESPnet finds our schedulers (the caller, e.g. asr.sh, runs "
                             "ESPnet through the launcher)")


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
    note = None if getattr(args, "no_registration_note", False) else registration_note(
        sorted({n for path in args.configs for n in plugin_schedulers(path)}))
    if note:
        print(note, file=sys.stderr)
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
