"""Stage 11's fine-tuning check: ``--init_param`` and ``freeze_param`` are checked before a training starts.

ESPnet's trainer takes ``--init_param <file>[:<src_key>[:<dst_key>[:<exclude_keys>]]]`` (repeatable) and
``freeze_param: [<name>, ...]`` as they are: a shape mismatch surfaces as a ``load_state_dict`` traceback
once the job has started, a ``src_key`` that matches nothing initialises nothing without a word, and a
``freeze_param`` entry that matches no parameter freezes nothing without a word (the trainer only freezes
the parameters whose name is the entry or starts with ``<entry>.``). This check builds the model exactly
as the training will (ESPnet's own parser and ``ASRTask.build_model``, or ``S2TTask``'s, on the same arguments, our
schedulers registered), applies ESPnet's documented ``init_param`` semantics to it without loading
anything into it, and refuses, listing every problem:

* a checkpoint file that does not exist or does not load, or that is ESPnet's resume checkpoint
  (``checkpoint.pth``: model, optimizers, scheduler, reporter) instead of a model state dict;
* a ``dst_key`` that names no sub-module of the model;
* a parameter whose shape differs between the checkpoint and the model (its name and both shapes;
  ``--ignore_init_mismatch true`` skips such tensors, as ESPnet does);
* checkpoint tensors that the model does not have (unless ``--ignore_init_mismatch true``);
* an ``init_param`` that would initialise nothing (every tensor filtered out), e.g. ``model.pth:encoder:encoder:``:
  ESPnet reads the empty exclude key after the last ``:`` as a prefix of every key and drops them all;
* a ``freeze_param`` entry that matches no parameter (the model's top-level modules are listed).

ESPnet's rules, as its ``--init_param`` help and loader apply them: the exclude keys (comma-separated)
drop every checkpoint key that *starts with* one of them (a plain prefix, no dot needed), then a
``src_key`` keeps the keys that start with it and strips ``<src_key>.``, and ``dst_key`` loads them
into that sub-module; a checkpoint saved with a ``module`` entry (DDP wrappers) is unwrapped.

On success it writes one line per ``init_param`` and for the frozen parameters to stderr
(how many tensors and parameters are initialised / frozen, of how many).

CLI (asr.sh; the arguments after ``--`` are the training's own)::

    python3 -m espnet_warmup.recipe.stages.init_check -- <espnet2.bin.asr_train arguments>
    python3 -m espnet_warmup.recipe.stages.init_check --task s2t -- <espnet2.bin.s2t_train arguments>  # OWSM's

Without ``init_param`` or ``freeze_param`` in the arguments or the ``--config`` it exits at once
(ESPnet is not imported). Exit 0: fine; 1: refused (every problem on stderr); 2: bad usage.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class InitError(Exception):
    """A refusal; the message names the option, the file and the parameter."""


@dataclass
class InitSpec:
    """One ``--init_param`` value, split as ESPnet splits it."""

    text: str
    path: str
    src_key: str | None = None
    dst_key: str | None = None
    excludes: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "InitSpec":
        parts = text.split(":", 4)
        path, src, dst, exc = (parts + [None] * 4)[:4]
        return cls(text=text, path=path, src_key=src or None, dst_key=dst or None,
                   excludes=exc.split(",") if exc is not None else [])


@dataclass
class InitPlan:
    """What an ``init_param`` does to the model: the tensors it sets, and what it leaves out."""

    spec: InitSpec
    loaded: dict[str, tuple[int, ...]]          # model key (as in the model's state dict) -> shape
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]]  # key, checkpoint shape, model shape
    unexpected: list[str]                       # checkpoint keys (after src/dst mapping) the model lacks


def _shape(value: Any) -> tuple[int, ...] | None:
    return tuple(value.shape) if hasattr(value, "shape") else None


def _fmt(shape: tuple[int, ...] | None) -> str:
    return "[" + ", ".join(map(str, shape or ())) + "]"


def load_state(path: str) -> dict[str, Any]:
    """The checkpoint's state dict as ESPnet's loader reads it (``module`` unwrapped)."""
    import torch

    if not os.path.isfile(path):
        raise InitError(f"init_param: {path}: file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated or foreign file: say which and why
        raise InitError(f"init_param: {path}: cannot be loaded as a PyTorch checkpoint ({type(e).__name__}: {e})")
    if isinstance(state, dict) and "module" in state:
        state = state["module"]
    if not isinstance(state, dict):
        raise InitError(f"init_param: {path}: holds a {type(state).__name__}, not a model state dict")
    if "model" in state and isinstance(state["model"], dict) and {"optimizers", "reporter"} & set(state):
        raise InitError(f"init_param: {path}: is ESPnet's resume checkpoint (model, optimizers, reporter), not a "
                        f"model; pass one of its exp dir's model files instead (<N>epoch.pth, valid.acc.ave.pth, "
                        f"valid.acc.best.pth)")
    return state


def _submodule(model, dst_key: str | None):
    obj = model
    if not dst_key:
        return obj
    for name in dst_key.split("."):
        if not hasattr(obj, name):
            children = ", ".join(n for n, _ in model.named_children())
            raise InitError(f"init_param: dst_key {dst_key!r} names no sub-module of the model "
                            f"({type(model).__name__}: {children})")
        obj = getattr(obj, name)
    return obj


def plan(spec: InitSpec, model, state: dict[str, Any] | None = None) -> InitPlan:
    """ESPnet's ``init_param`` rules applied to ``model`` (nothing is loaded into it)."""
    state = load_state(spec.path) if state is None else state
    for e in spec.excludes:
        state = {k: v for k, v in state.items() if not k.startswith(e)}
    if spec.src_key is not None:
        cut = len(spec.src_key) + 1
        state = {k[cut:]: v for k, v in state.items() if k.startswith(spec.src_key)}
    target = _submodule(model, spec.dst_key)
    dst = target.state_dict()
    prefix = f"{spec.dst_key}." if spec.dst_key else ""
    loaded, mismatched, unexpected = {}, [], []
    for k, v in state.items():
        if k not in dst:
            unexpected.append(prefix + k)
        elif _shape(v) != _shape(dst[k]):
            mismatched.append((prefix + k, _shape(v), _shape(dst[k])))
        else:
            loaded[prefix + k] = _shape(v) or ()
    return InitPlan(spec, loaded, mismatched, unexpected)


def plan_problems(p: InitPlan, ignore_init_mismatch: bool) -> list[str]:
    """The refusals of one plan (empty: ESPnet would load it as intended)."""
    out = []
    where = f"init_param {p.spec.text}"
    if not ignore_init_mismatch:
        for k, src, dst in p.mismatched:
            out.append(f"{where}: {k}: checkpoint shape {_fmt(src)}, model shape {_fmt(dst)} "
                       f"(--ignore_init_mismatch true skips such tensors)")
        if p.unexpected:
            shown = ", ".join(p.unexpected[:5]) + (f" ... ({len(p.unexpected)} in all)" if len(p.unexpected) > 5 else "")
            out.append(f"{where}: the model has no {shown} (check src_key/dst_key, or --ignore_init_mismatch true "
                       f"skips them)")
    if "" in p.spec.excludes:
        out.append(f"{where}: an empty exclude key (a trailing ':' or ',,') drops every checkpoint tensor in "
                   f"ESPnet's loader (every key starts with ''); drop the trailing ':' or name the keys to exclude")
    elif not p.loaded:
        why = ("every tensor is filtered out" if (p.mismatched or p.unexpected)
               else "no checkpoint key is left after src_key/exclude_keys")
        out.append(f"{where}: initialises nothing ({why}); check the src_key/dst_key/exclude_keys of the spec "
                   f"<file>:<src_key>:<dst_key>:<exclude_keys>")
    return out


def freeze_matches(model, patterns: list[str]) -> dict[str, list[str]]:
    """The parameters each ``freeze_param`` entry freezes, by the trainer's rule (name == entry or
    name starts with ``<entry>.``)."""
    names = [n for n, _ in model.named_parameters()]
    return {t: [n for n in names if n == t or n.startswith(t + ".")] for t in patterns}


def freeze_problems(model, patterns: list[str]) -> list[str]:
    children = ", ".join(n for n, _ in model.named_children())
    return [f"freeze_param: {t!r} matches no parameter of the model (an entry freezes the parameters named "
            f"<entry> or <entry>.*; top-level modules: {children})"
            for t, hits in freeze_matches(model, patterns).items() if not hits]


# ----------------------------------------------------------------------------- the training's arguments
def _wanted(argv: list[str]) -> bool:
    """Whether the arguments (or their --config) mention init_param or freeze_param at all."""
    if any(a in ("--init_param", "--freeze_param") for a in argv):
        return True
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            try:
                conf = yaml.safe_load(Path(argv[i + 1]).read_text()) or {}
            except (OSError, yaml.YAMLError):
                return True  # let ESPnet's parser report it
            if isinstance(conf, dict) and (conf.get("init_param") or conf.get("freeze_param")):
                return True
    return False


#: ``--task`` -> (module, class) of the ESPnet task whose training the arguments are for
TASKS = {
    "asr": ("espnet2.tasks.asr", "ASRTask"),  # espnet2.bin.asr_train (the recipe's stage 11)
    "s2t": ("espnet2.tasks.s2t", "S2TTask"),  # espnet2.bin.s2t_train (OWSM's)
}


def build(argv: list[str], task: str = "asr"):
    """ESPnet's parsed arguments and the model, as ``espnet2.bin.<task>_train`` would build them."""
    import importlib

    from espnet_warmup.espnet_config import espnet_registries

    espnet_registries()  # our schedulers registered; under the recipe, without ESPnet's import notices
    module, name = TASKS[task]
    task_class = getattr(importlib.import_module(module), name)
    args = task_class.get_parser().parse_args(argv)
    return args, task_class.build_model(args)


def check(argv: list[str], task: str = "asr") -> tuple[list[str], list[str]]:
    """(problems, info lines) for a training's arguments."""
    args, model = build(argv, task)
    problems, info = [], []
    total = sum(p.numel() for p in model.parameters())
    for text in args.init_param or []:
        try:
            p = plan(InitSpec.parse(text), model)
        except InitError as e:
            problems.append(str(e))
            continue
        problems += plan_problems(p, args.ignore_init_mismatch)
        params = dict(model.named_parameters())
        n = sum(params[k].numel() for k in p.loaded if k in params)
        skipped = len(p.mismatched) + len(p.unexpected)
        info.append(f"init_param {text}: {len(p.loaded)} tensors, {n} of {total} parameters initialised"
                    + (f"; {skipped} checkpoint tensors skipped (--ignore_init_mismatch)" if skipped else ""))
    patterns = list(args.freeze_param or [])
    problems += freeze_problems(model, patterns)
    if patterns:
        params = dict(model.named_parameters())
        frozen = {n for hits in freeze_matches(model, patterns).values() for n in hits}
        n = sum(params[k].numel() for k in frozen)
        info.append(f"freeze_param {' '.join(patterns)}: {n} of {total} parameters frozen ({100 * n / total:.1f}%)")
    return problems, info


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (f"usage: python3 -m espnet_warmup.recipe.stages.init_check [--task {{{','.join(TASKS)}}}] "
             "-- <the training's arguments>")
    task = "asr"
    if len(argv) >= 2 and argv[0] == "--task":
        task, argv = argv[1], argv[2:]
        if task not in TASKS:
            print(f"init_check: --task {task!r}: allowed: {', '.join(TASKS)}\n{usage}", file=sys.stderr)
            return 2
    if not argv or argv[0] != "--":
        print(usage, file=sys.stderr)
        return 2
    train_argv = argv[1:]
    if not _wanted(train_argv):
        return 0
    os.environ.setdefault("ESPNET_WARMUP_QUIET_IMPORTS", "1")  # our own process: ESPnet's import notices kept out
    try:
        problems, info = check(train_argv, task)
    except SystemExit as e:  # ESPnet's parser already printed why
        return 2 if e.code else 0
    for line in problems:
        print(f"ERROR: {line}", file=sys.stderr)
    if problems:
        return 1
    for line in info:
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
