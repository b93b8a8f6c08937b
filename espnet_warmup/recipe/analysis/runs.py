"""One ESPnet experiment as curves: :class:`RunCurves`, read from ``train.log`` or tensorboard.

A *source* is whatever ESPnet wrote that holds the curves; both kinds answer the same
questions (:class:`Source`), so :func:`load_run` reads either the same way:

* ``series(key)``: per-interval means of a training statistic, x = cumulative iteration;
* ``epoch_series(split, key)``: per-epoch means, x = the iteration at the epoch's end;
* ``interval_updates()``: the finite updates behind each interval mean (the weights of % clipped);
* ``skipped_steps()``: the iterations of updates ESPnet skipped as non-finite;
* ``epoch_steps()``, ``wall_seconds``.

``train.log`` (:class:`TrainLogSource`) is preferred: it is the only place where ESPnet records
skipped updates (tensorboard shows them only as non-finite interval means, a lower bound), and
its Kaldi trailer gives the wall time. The curves keep ESPnet's iteration axis;
updates = iterations / ``accum_grad``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Protocol

from espnet_warmup.espnet_config import load_config
from espnet_warmup import spikes
from espnet_warmup.recipe.analysis.logs import (LogFormatError, TensorboardLog, TrainLog, parse_train_log,
                                                read_tensorboard)
from espnet_warmup.recipe.analysis.metrics import Series, perplexity, tokens_per_utterance

SOURCES = ("auto", "log", "tensorboard")
#: curve name -> ESPnet's per-interval statistic
INTERVAL_KEYS = {"train_loss": "loss", "train_acc": "acc", "train_loss_att": "loss_att", "lr": "optim0_lr0",
                 "grad_norm": "grad_norm", "clip": "clip"}
#: curve name -> (split, ESPnet's per-epoch statistic)
EPOCH_KEYS = {"valid_loss": ("valid", "loss"), "valid_acc": ("valid", "acc"),
              "valid_loss_att": ("valid", "loss_att")}


class Source(Protocol):
    """What a training record answers (see the module docstring)."""

    name: str  # "train.log" or "tensorboard"
    wall_seconds: float | None

    def series(self, key: str) -> Series: ...

    def epoch_series(self, split: str, key: str) -> Series: ...

    def interval_updates(self) -> dict[int, int]: ...

    def skipped_steps(self) -> list[int]: ...

    def epoch_steps(self) -> list[int]: ...


class TrainLogSource:
    """A parsed ``train.log``."""

    name = "train.log"

    def __init__(self, log: TrainLog):
        self.log = log
        self.wall_seconds = log.wall_seconds

    def series(self, key: str) -> Series:
        return self.log.series(key)

    def epoch_series(self, split: str, key: str) -> Series:
        return self.log.epoch_series(split, key)

    def interval_updates(self) -> dict[int, int]:
        # iterations of the interval minus the updates skipped in it
        return {it.step: max(0, (it.end - it.start + 1) - it.skipped) for it in self.log.intervals}

    def skipped_steps(self) -> list[int]:
        return [sk.step for sk in self.log.skipped if sk.step is not None]

    def epoch_steps(self) -> list[int]:
        return [ep.step for ep in self.log.epochs if ep.step is not None]


class TensorboardSource:
    """ESPnet's ``tensorboard/{train,valid}`` event files."""

    name = "tensorboard"
    wall_seconds = None

    def __init__(self, tb: TensorboardLog):
        self.tb = tb

    def series(self, key: str) -> Series:
        return self.tb.series(key)

    def epoch_series(self, split: str, key: str) -> Series:
        pts = (self.tb.valid if split == "valid" else self.tb.train_epoch).get(key, [])
        return [s for s, _ in pts], [v for _, v in pts]

    def interval_updates(self) -> dict[int, int]:
        # no skip warnings here: every iteration since the previous point counts
        steps = self.series("grad_norm")[0]
        return {st: st - prev for prev, st in zip([0, *steps], steps)}

    def skipped_steps(self) -> list[int]:
        # an interval whose mean grad norm is non-finite (log_interval 1, or every update of the
        # interval skipped) is the best tensorboard can show
        return [st for st, v in zip(*self.series("grad_norm")) if not math.isfinite(v)]

    def epoch_steps(self) -> list[int]:
        return self.epoch_series("train", "loss")[0]


@dataclasses.dataclass
class RunCurves:
    """Every curve of one experiment, read from train.log or tensorboard."""

    name: str
    path: Path
    source: str  # "train.log" or "tensorboard"
    config: dict[str, Any]
    series: dict[str, Series]  # train_loss, valid_loss, train_acc, valid_acc, train_ppl, valid_ppl, lr, grad_norm, clip
    interval_sizes: list[int]  # finite updates per grad-norm/clip interval (weights for clip %)
    skipped_steps: list[int]
    epoch_steps: list[int]
    spikes: list[spikes.Spike]
    wall_seconds: float | None
    ppl_note: str
    #: train.log lines not read as data (cut mid-number, unterminated), as ``<file>:<line>: <why>``
    warnings: list[str] = dataclasses.field(default_factory=list)
    #: the warmup guard's interventions (``<exp>/warmup_guard.log``, :mod:`espnet_warmup.guard`), one dict each
    guard: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def accum_grad(self) -> int:
        return int(self.config.get("accum_grad", 1) or 1)

    @property
    def iterations(self) -> int:
        xs = [s for key in ("train_loss", "grad_norm") for s in self.series[key][0]] + self.epoch_steps
        return max(xs) if xs else 0


def read_exp_config(expdir: Path) -> dict[str, Any]:
    """``<exp>/config.yaml`` (ESPnet writes it at the start of training), or {} if there is none."""
    path = expdir / "config.yaml"
    return load_config(path) if path.is_file() else {}


def open_source(expdir: Path, source: str = "auto") -> Source:
    """The record to read: ``log``, ``tensorboard`` or ``auto`` (train.log if present, else
    tensorboard). Raises LogFormatError naming what is missing."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    use_log = source == "log" or (source == "auto" and (expdir / "train.log").is_file())
    if source == "auto" and not use_log and not (expdir / "tensorboard").is_dir():
        raise LogFormatError(f"{expdir}: neither train.log nor tensorboard/ found")
    if use_log:
        return TrainLogSource(parse_train_log(expdir / "train.log"))
    return TensorboardSource(read_tensorboard(expdir))


def _perplexity_series(config: dict[str, Any], loss_att: dict[str, Series], base: Path
                       ) -> tuple[dict[str, Series], str]:
    """``{split}_ppl`` curves from the ``loss_att`` ones, and a note on what could not be computed."""
    lnorm = bool((config.get("model_conf") or {}).get("length_normalized_loss", False))
    out, notes = {}, []
    for split, (xs, ys) in loss_att.items():
        tpu = None if lnorm else tokens_per_utterance(config, split, base)
        out[f"{split}_ppl"] = (xs, [perplexity(v, tpu, lnorm) for v in ys])
        if not lnorm and tpu is None and xs:
            notes.append(f"{split} perplexity unavailable: no text_shape file in {split}_shape_file "
                         "and token_type is not char")
    return out, "; ".join(notes)


def read_guard_log(expdir: Path) -> list[dict[str, Any]]:
    """The entries of ``<exp>/warmup_guard.log`` (one JSON object per line; a line cut by a crash is left out)."""
    import json

    path = expdir / "warmup_guard.log"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("update"), int):
            out.append(entry)
    return out


def load_run(expdir: str | Path, source: str = "auto", name: str | None = None,
             spike_factor: float = spikes.DEFAULT_FACTOR, spike_window: int = spikes.DEFAULT_WINDOW,
             min_history: int = spikes.DEFAULT_MIN_HISTORY) -> RunCurves:
    """Read one exp dir. ``source``: ``auto`` (train.log if present, else tensorboard),
    ``log`` or ``tensorboard``. Raises LogFormatError naming what is missing."""
    expdir = Path(expdir)
    if not expdir.is_dir():
        raise LogFormatError(f"{expdir}: no such experiment directory")
    config = read_exp_config(expdir)
    src = open_source(expdir, source)
    series = {name: src.series(key) for name, key in INTERVAL_KEYS.items()}
    series |= {name: src.epoch_series(split, key) for name, (split, key) in EPOCH_KEYS.items()}
    # config.yaml's data paths are relative to where training ran: the recipe dir, guessed as
    # the exp dir's grand-parent (<recipe>/exp/<exp>)
    ppl, note = _perplexity_series(
        config, {split: series.pop(f"{split}_loss_att") for split in ("train", "valid")},
        expdir.resolve().parent.parent)
    series |= ppl
    sizes = src.interval_updates()
    gx, gy = series["grad_norm"]
    return RunCurves(
        name=name or expdir.name, path=expdir, source=src.name, config=config, series=series,
        interval_sizes=[sizes.get(st, 1) for st in series["clip"][0]], skipped_steps=src.skipped_steps(),
        epoch_steps=src.epoch_steps(), spikes=spikes.detect_spikes(gy, gx, spike_factor, spike_window, min_history),
        wall_seconds=src.wall_seconds, ppl_note=note,
        warnings=list(src.log.warnings) if isinstance(src, TrainLogSource) else [],
        guard=read_guard_log(expdir),
    )
