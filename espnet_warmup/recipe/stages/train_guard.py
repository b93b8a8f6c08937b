"""Stage 11's guard: one exp dir holds one training, of one config, and is never relabelled.

ESPnet trains with ``--resume true``: a rerun continues from ``<exp>/checkpoint.pth``. Given a
*changed* config, that resume would either run 0 updates (the checkpoint is at ``max_epoch``)
and label the old weights with the new config, rewriting ``<exp>/config.yaml`` with values the
model was never trained with, or continue an interrupted training under other settings. So:

* ``record``: when stage 11 starts a training, ``<exp>/train_record.yaml`` records what trains
  it: the config path (relative to the recipe dir), the config as loaded, ``--train_args`` and
  the stage-10 statistics it reads.
* ``check``: before any training starts, each config is compared with its exp dir's record
  (or, for an exp dir trained before records existed, with ESPnet's ``<exp>/config.yaml``).
  A finished (``.done``) or interrupted (``checkpoint.pth``) training whose config differs is
  refused, naming each differing key (dotted: ``scheduler_conf.warmup_steps: 250 -> 100``) and
  what to do; nothing in the exp dir is touched. Differences ESPnet cannot see do not count:
  comments and formatting, key order, a key set to ESPnet's default (the trainer's option
  defaults and the chosen classes' constructor defaults), ``1.0e-3`` vs ``0.001``, a value
  moved between the config and ``--train_args``.
* ``names``: exp dirs are named after the config's file name (``<expdir>/asr_<basename>``),
  so two configs of the same name from different folders would share one. Refused up front:
  two configs of one run that map to one exp dir, and a config whose exp dir records another
  config path.

CLI (asr.sh)::

    python3 -m espnet_warmup.recipe.stages.train_guard names  <config> <exp> [<config> <exp> ...]
    python3 -m espnet_warmup.recipe.stages.train_guard check  --train_args A --stats S <config> <exp> ...
    python3 -m espnet_warmup.recipe.stages.train_guard record --train_args A --stats S <config> <exp>

Exit 0: fine; 1: refused (every problem on stderr, one block each); 2: bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from espnet_warmup.espnet_config import ConfigError, constructor_defaults, load_config

RECORD = "train_record.yaml"
_MISSING = object()
_FLOAT_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class GuardError(Exception):
    """A refusal: the message says what differs and what to do."""


# ----------------------------------------------------------------------------- paths
def config_key(path: str | Path) -> str:
    """A config path as recorded: relative to the current dir (the recipe dir) when inside it,
    normalised (``./conf//x.yaml`` -> ``conf/x.yaml``), symlinks kept (the recipe's conf/ may link)."""
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute)
    return absolute if rel.startswith(os.pardir + os.sep) else rel


def same_config(a: str, b: str) -> bool:
    """Two spellings of one config: the same recorded path, or the same file on disk."""
    if config_key(a) == config_key(b):
        return True
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def recorded_owner(exp: Path) -> str | None:
    """The config path an exp dir was trained from: its record, else ESPnet's config.yaml ``config``."""
    record = exp / RECORD
    if record.is_file():
        return str(_read_record(record).get("config_path"))
    espnet = exp / "config.yaml"
    if espnet.is_file():
        try:
            owner = load_config(espnet).get("config")
        except ConfigError:
            return None
        return str(owner) if owner else None
    return None


def check_names(pairs: list[tuple[str, str]]) -> list[str]:
    """Configs of one run that share an exp dir, and configs whose exp dir another config trained."""
    problems = []
    by_exp: dict[str, str] = {}
    for config, exp in pairs:
        other = by_exp.get(exp)
        if other is not None and not same_config(other, config):
            problems.append(
                f"--train_config: {other} and {config} both map to the exp dir {exp} (exp dirs are named after "
                f"the config's file name), so their trainings would overwrite each other. Rename one of them, "
                f"or train them in separate runs with different --asr_tag (exp dir {exp}_<tag>)")
        by_exp.setdefault(exp, config)
        owner = recorded_owner(Path(exp))
        if owner is not None and not same_config(owner, config):
            problems.append(
                f"--train_config {config}: its exp dir {exp} was trained from another config, {owner} (the same "
                f"file name); refusing to train or evaluate {config} there. Use --asr_tag <tag> to give {config} "
                f"its own exp dir ({exp}_<tag>), rename it, or remove {exp} if {owner}'s training is not needed")
    return problems


# ----------------------------------------------------------------------------- --train_args
def _scalar(text: str) -> Any:
    """A command-line value as ESPnet's argparse types would read it (int, float, bool, None, str)."""
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _nested(text: str) -> Any:
    """``--x_conf a=1,b.c=2`` or ``--x_conf '{a: 1}'`` (ESPnet's NestedDictAction)."""
    if "=" not in text:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        return value
    out: dict[str, Any] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _scalar(value)
    return out


def _merge(base: Any, update: Any) -> Any:
    if isinstance(base, dict) and isinstance(update, dict):
        out = dict(base)
        for k, v in update.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return update


def parse_train_args(train_args: str) -> dict[str, Any]:
    """``--key value`` options of espnet2.bin.asr_train as a config overlay (later ones win;
    ``*_conf`` values merge into the config's mapping, as ESPnet does)."""
    tokens = shlex.split(train_args)
    out: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if not tok.startswith("--"):
            continue  # a stray value: ESPnet's parser reports it
        key, eq, value = tok[2:].partition("=")
        key = key.replace("-", "_")
        values = [value] if eq else []
        while not eq and i < len(tokens) and not tokens[i].startswith("--"):
            values.append(tokens[i])
            i += 1
        if key.endswith("_conf"):
            for v in values:
                out[key] = _merge(out.get(key, {}), _nested(v))
        elif len(values) == 1:
            out[key] = _scalar(values[0])
        else:
            out[key] = [_scalar(v) for v in values] if values else True
    return out


def effective_config(config: dict[str, Any], train_args: str) -> dict[str, Any]:
    """The config as ESPnet trains it: the file with ``--train_args`` on top."""
    out = dict(config)
    for key, value in parse_train_args(train_args).items():
        out[key] = _merge(out[key], value) if key.endswith("_conf") and key in out else value
    return out


# ----------------------------------------------------------------------------- comparison
def _coerce(value: Any) -> Any:
    """PyYAML reads ``1e-3`` as a string; ESPnet's argparse types make it a float."""
    if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
        return float(value)
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_coerce(v) for v in value]
    return value


class EspnetDefaults:
    """ESPnet's defaults: the ASR trainer's options, and the constructor defaults of the class each
    ``<name>_conf`` configures (encoder, frontend, optimizer, scheduler ...). Imports ESPnet: only
    built when two configs differ as loaded."""

    def __init__(self):
        from espnet_warmup import lazy_registration

        lazy_registration.install()  # quiet imports under the recipe's path.sh, as the launcher
        from espnet2.tasks.asr import ASRTask

        from espnet_warmup.espnet_config import espnet_registries

        parser = ASRTask.get_parser()
        self.options = {a.dest: a.default for a in parser._actions if a.dest != "help"}
        self.choices = {c.name: c for c in ASRTask.class_choices_list}
        self.schedulers, self.optims = espnet_registries()

    def option(self, key: str) -> Any:
        return self.options.get(key, _MISSING)

    def conf_defaults(self, conf_key: str, config: dict[str, Any]) -> dict[str, Any]:
        name = conf_key[: -len("_conf")]
        chosen = config.get(name, self.option(name))
        if not isinstance(chosen, str):
            return {}
        base = re.sub(r"\d+$", "", name)  # optim2 -> optim, scheduler2 -> scheduler
        try:
            if base == "optim":
                cls = self.optims.get(chosen.lower())
            elif base == "scheduler":
                cls = self.schedulers.get(chosen.lower())
            elif name in self.choices:
                cls = self.choices[name].get_class(chosen)
            else:
                cls = None
            return constructor_defaults(cls) if cls is not None else {}
        except Exception:  # noqa: BLE001 - an unknown class: ESPnet will say so; compare as given
            return {}


def _filled(config: dict[str, Any], defaults: EspnetDefaults | None) -> dict[str, Any]:
    config = _coerce(config)
    if defaults is None:
        return config
    out = dict(config)
    for key in {k for k in defaults.options if k.endswith("_conf")} | {k for k in config if str(k).endswith("_conf")}:
        given = config.get(key, defaults.option(key))
        given = given if isinstance(given, dict) else ({} if given in (None, _MISSING) else given)
        if isinstance(given, dict):
            out[key] = {**_coerce(defaults.conf_defaults(key, config)), **given}
    return out


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(not set)"
    return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip().removesuffix("...").strip()


def diff(old: dict[str, Any], new: dict[str, Any], defaults: EspnetDefaults | None = None,
         one_sided: bool = False, prefix: str = "") -> list[str]:
    """``key.sub: old -> new`` for every leaf that differs. Missing keys count as ESPnet's default
    (with ``defaults``). ``one_sided``: only the keys of ``new`` (``old`` is ESPnet's full dump)."""
    lines = []
    keys = list(new) if one_sided else list(dict.fromkeys([*old, *new]))
    for key in keys:
        top = defaults.option(key) if (defaults is not None and not prefix) else _MISSING
        a, b = old.get(key, top), new.get(key, top)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += diff(a, b, None, one_sided, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: {_show(a)} -> {_show(b)}")
    return lines


def config_differences(old: dict[str, Any], new: dict[str, Any], one_sided: bool = False) -> list[str]:
    """The differences that matter to ESPnet (see the module docstring); [] if none."""
    if not one_sided and _coerce(old) == _coerce(new):
        return []  # the common case, without importing ESPnet
    defaults = EspnetDefaults()
    if one_sided:  # only what the new config sets: ESPnet's dump also holds the recipe's own options
        return diff(_filled(old, defaults), _coerce(new), defaults, one_sided=True)
    return diff(_filled(old, defaults), _filled(new, defaults), defaults)


# ----------------------------------------------------------------------------- record / check
@dataclasses.dataclass
class Training:
    config: str
    exp: Path
    train_args: str
    stats: str


def _read_record(path: Path) -> dict[str, Any]:
    try:
        rec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise GuardError(f"{path}: cannot read this training record ({err}); remove it to train "
                         f"{path.parent} from its config again") from None
    if not isinstance(rec, dict) or "config" not in rec:
        raise GuardError(f"{path}: not a training record (no 'config'); remove it to train {path.parent} again")
    return rec


def record(t: Training) -> Path:
    """Write ``<exp>/train_record.yaml`` (atomically) for a training about to start."""
    t.exp.mkdir(parents=True, exist_ok=True)
    body = {"config_path": config_key(t.config), "train_args": t.train_args, "stats": t.stats,
            "config": load_config(t.config)}
    path = t.exp / RECORD
    tmp = path.with_name(f".{RECORD}.tmp{os.getpid()}")
    tmp.write_text("# What trained this exp dir (espnet_warmup.recipe.stages.train_guard); stage 11 refuses\n"
                   "# to resume or relabel it with another config.\n"
                   + yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def check(t: Training) -> str | None:
    """None if ``t`` may train into its exp dir; else the refusal message."""
    exp = t.exp
    finished, checkpoint = (exp / ".done").is_file(), (exp / "checkpoint.pth").is_file()
    if not (finished or checkpoint):
        return None  # nothing trained there to lose or relabel
    new = effective_config(load_config(t.config), t.train_args)
    rec_path = exp / RECORD
    settings = []
    if rec_path.is_file():
        rec = _read_record(rec_path)
        old = effective_config(rec.get("config") or {}, str(rec.get("train_args") or ""))
        lines = config_differences(old, new)
        source = f"its record {rec_path} (config {rec.get('config_path')})"
        if lines and str(rec.get("train_args") or "") != t.train_args:  # context, not a difference by itself
            lines.append(f"--train_args: {rec.get('train_args') or ''!r} -> {t.train_args!r}")
        if rec.get("stats") and t.stats and rec.get("stats") != t.stats:
            settings.append("the stage-10 statistics (feats_stats.npz, shapes) were collected again since")
    elif (exp / "config.yaml").is_file():
        lines = config_differences(load_config(exp / "config.yaml"), new, one_sided=True)
        source = f"{exp / 'config.yaml'} (ESPnet's record of the training)"
    else:
        return None
    if not lines and not settings:
        return None
    state = (f"finished ({exp}/.done)" if finished else
             f"interrupted, resumable from {exp}/checkpoint.pth")
    what = "\n".join(f"    {line}" for line in [*lines, *settings])
    return (f"{exp}: its training is {state}, and {t.config} now differs from what trained it, per {source}:\n"
            f"{what}\n"
            f"  Resuming would label that model with settings it was not trained with; refused, nothing in {exp} "
            f"was changed. To train the new config, give it a new exp dir with --asr_tag <tag> "
            f"({exp}_<tag>), or remove {exp} to retrain it from scratch (or restore the old config"
            f"{' and --train_args' if '--train_args' in what else ''}).")


# ----------------------------------------------------------------------------- CLI
def _pairs(items: list[str]) -> list[tuple[str, str]]:
    if not items or len(items) % 2:
        raise SystemExit("train_guard: expected <config> <exp dir> pairs")
    return list(zip(items[::2], items[1::2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m espnet_warmup.recipe.stages.train_guard",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("names", "check", "record"):
        p = sub.add_parser(name)
        if name != "names":
            p.add_argument("--train_args", default="")
            p.add_argument("--stats", default="", help="signature of the stage-10 statistics")
        p.add_argument("pairs", nargs="+", metavar="CONFIG EXP")
    args = parser.parse_args(argv)
    pairs = _pairs(args.pairs)
    try:
        if args.command == "names":
            problems = check_names(pairs)
        elif args.command == "record":
            for config, exp in pairs:
                record(Training(config, Path(exp), args.train_args, args.stats))
            return 0
        else:
            problems = [p for c, e in pairs if (p := check(Training(c, Path(e), args.train_args, args.stats)))]
    except (GuardError, ConfigError) as err:
        problems = [str(err)]
    for p in problems:
        print(f"ERROR: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
