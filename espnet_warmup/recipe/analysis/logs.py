"""Parsers for what an ESPnet training writes: ``train.log`` and tensorboard event files.

ESPnet 202511's trainer (espnet2/train/trainer.py) writes, per training run:

* one *interval line* every ``log_interval`` iterations, e.g.
  ``... (trainer:811) INFO: 3epoch:train:101-200batch: iter_time=0.1, ..., loss=42.1,
  grad_norm=14.3, clip=100.000, loss_scale=1.000, optim0_lr0=2.0e-04, train_time=0.3``.
  Each value is the mean over the interval's iterations (``clip`` is 100 for a clipped
  update and 0 otherwise, so its mean is the percentage of clipped updates;
  ``grad_norm`` is the norm *before* clipping). ESPnet drops the comma before the last
  key of a line now and then (``grad_norm=8.187clip=100.000``); the parser does not
  rely on separators.
* one *epoch line* ``... INFO: 3epoch results: [train] k=v, ..., total_count=N, [valid] k=v, ...``
  with per-epoch means; ``total_count`` is the cumulative number of iterations
  (train) or validation batches (valid).
* ``WARNING: The grad norm is nan. Skipping updating the model.`` for every update with
  a non-finite gradient norm (no optimizer step, no scheduler step; its grad_norm and
  clip are not registered).
* ``--use_tensorboard true``: ``<exp>/tensorboard/{train,valid}/events.*`` with the same
  interval means at x = the cumulative iteration count, plus per-epoch means.

Iterations vs updates: ESPnet logs per *iteration* (mini-batch); with ``accum_grad`` = A
there is one optimizer update every A iterations. The parsers keep ESPnet's iteration
axis (the one tensorboard uses); :func:`espnet_warmup.recipe.analysis.metrics.to_updates` converts.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from datetime import datetime
from pathlib import Path

# A value as ESPnet formats it: f"{v:.3f}" or f"{v:.3e}" (always a signed exponent), nan, inf.
_NUMBER = r"[-+]?(?:\d+\.\d+(?:e[+-]\d+)?|\d+|nan|inf)"
_PAIR_RE = re.compile(rf"([A-Za-z_][A-Za-z0-9_]*)=({_NUMBER})")
_INTERVAL_RE = re.compile(r"(\d+)epoch:train:(\d+)-(\d+)batch:\s*(.*)$")
_EPOCH_RE = re.compile(r"(\d+)epoch results:\s*(.*)$")
_SKIP_RE = re.compile(r"The grad norm is (\S+)\. Skipping updating the model")
_ALL_INVALID_RE = re.compile(r"The gradients at all steps are invalid in this epoch")
_FINISHED_RE = re.compile(r"The training was finished at (\d+) epochs")
_EPOCH_START_RE = re.compile(r"(\d+)/(\d+)epoch started")
_TIME_RE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})")
_ACCOUNTING_RE = re.compile(r"^# Accounting: time=(\d+)")

# A complete record, as ESPnet's reporter writes it (espnet2/train/reporter.py): every float is
# f"{v:.3f}" or f"{v:.3e}" (nan, inf, -inf as such), counts are ints; epoch results also carry
# timedeltas in humanfriendly's words ("time=1 minute and 2.5 seconds"). A line cut mid-number
# ("optim0_lr0=6.1" of 6.100e-04) or mid-key does not match, so it is not taken as data.
_STRICT_NUMBER = r"[-+]?(?:\d+\.\d{3}(?:e[+-]\d{2,})?|\d+|nan|inf)"
_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
# ESPnet drops the comma before a key now and then ("grad_norm=8.187clip=100.000").
_SEP = r"(?:,\s*|\s+|(?=[A-Za-z_])|$)"
_INTERVAL_BODY_RE = re.compile(rf"\s*(?:{_KEY}={_STRICT_NUMBER}{_SEP})+")
_UNIT = r"(?:nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?|years?)"
_TIMESPAN = rf"\d+(?:\.\d+)? {_UNIT}(?:(?:, | and )\d+(?:\.\d+)? {_UNIT})*"
_RESULTS_BODY_RE = re.compile(
    rf"\s*(?:\[\w+\]\s*(?:{_KEY}=(?:{_TIMESPAN}|{_STRICT_NUMBER}){_SEP})+)+")


def _complete(body: str, kind: str) -> bool:
    """Does the text after ``batch:`` / ``epoch results:`` parse fully as ESPnet writes it?"""
    pattern = _INTERVAL_BODY_RE if kind == "interval" else _RESULTS_BODY_RE
    return pattern.fullmatch(body.rstrip()) is not None


_logger = logging.getLogger(__name__)


class LogFormatError(ValueError):
    """A file is not an ESPnet training log (or tensorboard dir) that we can read."""


def parse_values(text: str) -> dict[str, float]:
    """``key=value`` pairs of an ESPnet stats message as floats (nan/inf kept)."""
    return {k: float(v) for k, v in _PAIR_RE.findall(text)}


@dataclasses.dataclass
class Interval:
    """One interval line: means over iterations ``start..end`` of ``epoch``.

    ``step`` is the cumulative iteration count at the end of the interval (tensorboard's
    x axis); ``skipped`` counts the non-finite updates warned about inside the interval.
    """

    epoch: int
    start: int
    end: int
    step: int
    stats: dict[str, float]
    skipped: int = 0
    time: datetime | None = None

    def get(self, key: str) -> float:
        return self.stats.get(key, math.nan)


@dataclasses.dataclass
class EpochResult:
    """One ``Nepoch results`` line: per-epoch means of every split (``train``, ``valid`` ...)."""

    epoch: int
    splits: dict[str, dict[str, float]]
    time: datetime | None = None

    @property
    def step(self) -> int | None:
        """Cumulative training iterations at the end of this epoch (``total_count``)."""
        tc = self.splits.get("train", {}).get("total_count")
        return None if tc is None or not math.isfinite(tc) else int(tc)

    def get(self, split: str, key: str) -> float:
        return self.splits.get(split, {}).get(key, math.nan)


@dataclasses.dataclass
class SkippedUpdate:
    """A ``The grad norm is nan/inf. Skipping updating the model.`` warning."""

    epoch: int
    value: str  # "nan", "inf" or "-inf" as ESPnet printed it
    line_no: int
    step: int | None = None  # cumulative iteration of the interval it belongs to, once known


@dataclasses.dataclass
class TrainLog:
    """Everything parsed from one train.log."""

    path: Path | None = None
    intervals: list[Interval] = dataclasses.field(default_factory=list)
    epochs: list[EpochResult] = dataclasses.field(default_factory=list)
    skipped: list[SkippedUpdate] = dataclasses.field(default_factory=list)
    max_epoch: int | None = None
    finished: bool = False
    stopped_all_invalid: bool = False
    first_time: datetime | None = None
    last_time: datetime | None = None
    accounting_seconds: float | None = None
    #: lines not taken as data, each as ``<file>:<line>: <why>`` (also logged as warnings)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one interval statistic, intervals lacking it left out."""
        steps, values = [], []
        for it in self.intervals:
            if key in it.stats:
                steps.append(it.step)
                values.append(it.stats[key])
        return steps, values

    def epoch_series(self, split: str, key: str) -> tuple[list[int], list[float]]:
        """(end-of-epoch cumulative iteration, value) of one per-epoch statistic."""
        steps, values = [], []
        for ep in self.epochs:
            if key in ep.splits.get(split, {}) and ep.step is not None:
                steps.append(ep.step)
                values.append(ep.splits[split][key])
        return steps, values

    @property
    def wall_seconds(self) -> float | None:
        """Wall time of the job: the Kaldi log trailer if present, else first to last timestamp."""
        if self.accounting_seconds is not None:
            return self.accounting_seconds
        if self.first_time and self.last_time:
            return (self.last_time - self.first_time).total_seconds()
        return None

    @property
    def iterations(self) -> int:
        """Cumulative training iterations logged (epoch total_count or last interval)."""
        last = [ep.step for ep in self.epochs if ep.step is not None]
        candidates = last + [it.step for it in self.intervals]
        return max(candidates) if candidates else 0


class TrainLogParser:
    """Incremental train.log parser: :meth:`feed` lines as they are written (the monitor
    follows a live log), read :attr:`log` at any time. :func:`parse_train_log` is the
    one-shot form.

    The cumulative iteration of an interval line is ``offset(epoch) + end``, where
    ``offset(epoch)`` is the previous epoch's train ``total_count``. For a resumed run whose
    log starts at epoch e > 1 the offset is taken from this epoch's own ``total_count``
    once its results line arrives (until then, ``(e - 1) x`` the largest batch index seen
    in the epoch, which is exact with ``num_iters_per_epoch``).
    """

    def __init__(self, path: Path | None = None):
        self.log = TrainLog(path=path)
        self._line_no = 0
        self._offset: dict[int, int] = {}
        self._pending: list[SkippedUpdate] = []  # skip warnings not yet tied to an interval
        self._epoch = 0

    # -- offsets -----------------------------------------------------------------
    def _offset_for(self, epoch: int, end: int) -> int:
        if epoch in self._offset:
            return self._offset[epoch]
        prev = [e for e in self.log.epochs if e.epoch == epoch - 1 and e.step is not None]
        if prev:
            off = prev[0].step
        elif epoch == 1:
            off = 0
        else:  # resumed log: estimate from equal-length epochs, corrected at the results line
            return (epoch - 1) * end
        self._offset[epoch] = off
        return off

    def _fix_resumed_offsets(self, result: EpochResult) -> None:
        mine = [it for it in self.log.intervals if it.epoch == result.epoch]
        if result.epoch in self._offset or result.step is None or not mine:
            return
        # Without the previous epoch in the log: this epoch had (step - offset) iterations,
        # and the last interval ends at or before that; assume it ends exactly there when
        # log_interval divides the epoch (the common case), else keep the estimate.
        last_end = max(it.end for it in mine)
        off = result.step - last_end
        if off >= 0:
            self._offset[result.epoch] = off
            for it in mine:
                it.step = off + it.end
            for sk in self.log.skipped:
                if sk.epoch == result.epoch and sk.step is not None:
                    sk.step = off + max(it.end for it in mine if off + it.end >= sk.step)

    # -- lines -------------------------------------------------------------------
    def _skip(self, why: str) -> None:
        where = f"{self.log.path if self.log.path is not None else '<train.log>'}:{self._line_no}"
        message = f"{where}: {why}; not read as data"
        self.log.warnings.append(message)
        _logger.warning("warning: %s", message)

    def feed(self, line: str, complete: bool = True) -> object | None:
        """Parse one line; return the record it produced (Interval, EpochResult,
        SkippedUpdate) or None.

        ``complete=False``: the line has no newline yet (the last line of a log that a job is
        still writing, or was killed while writing): it is counted, warned about and not read.
        A record line that does not parse fully (cut mid-number) is skipped the same way.
        """
        self._line_no += 1
        line = line.rstrip("\n")
        if not complete:
            if line.strip():
                self._skip("the last line is incomplete (no newline: the job is still writing it, "
                           "or was stopped mid-line)")
            return None
        m = _ACCOUNTING_RE.match(line)
        if m:
            self.log.accounting_seconds = float(m.group(1))
            return None
        tm = _TIME_RE.search(line)
        t = None
        if tm:
            t = datetime.strptime(f"{tm.group(1)}.{tm.group(2)}", "%Y-%m-%d %H:%M:%S.%f")
            self.log.first_time = self.log.first_time or t
            self.log.last_time = t
        m = _INTERVAL_RE.search(line)
        if m and not _complete(m.group(4), "interval"):
            self._skip("an interval line that does not parse fully (cut or garbled)")
            return None
        if m:
            epoch, start, end = int(m.group(1)), int(m.group(2)), int(m.group(3))
            self._epoch = epoch
            step = self._offset_for(epoch, end) + end
            rec = Interval(epoch, start, end, step, parse_values(m.group(4)), time=t)
            rec.skipped = len(self._pending)
            for sk in self._pending:
                sk.step = step
            self._pending = []
            self.log.intervals.append(rec)
            return rec
        m = _EPOCH_RE.search(line)
        if m and not _complete(m.group(2), "results"):
            self._skip("an epoch results line that does not parse fully (cut or garbled)")
            return None
        if m:
            rec = EpochResult(int(m.group(1)), _split_results(m.group(2)), time=t)
            for sk in self._pending:  # warnings after the last interval line of the epoch
                sk.step = rec.step
            self._pending = []
            self.log.epochs.append(rec)
            self._fix_resumed_offsets(rec)
            return rec
        m = _SKIP_RE.search(line)
        if m:
            rec = SkippedUpdate(self._epoch, m.group(1), self._line_no)
            self._pending.append(rec)
            self.log.skipped.append(rec)
            return rec
        m = _EPOCH_START_RE.search(line)
        if m:
            self._epoch = int(m.group(1))
            self.log.max_epoch = int(m.group(2))
            return None
        if _ALL_INVALID_RE.search(line):
            self.log.stopped_all_invalid = True
        elif _FINISHED_RE.search(line):
            self.log.finished = True
        return None

    def finish(self) -> TrainLog:
        """End of the log: skip warnings after the last interval line (a run that was
        killed or crashed mid-interval) are filed at the iteration after the last one logged."""
        if self._pending:
            last = self.log.intervals[-1].step if self.log.intervals else 0
            for sk in self._pending:
                sk.step = last + 1
            self._pending = []
        return self.log


def _split_results(text: str) -> dict[str, dict[str, float]]:
    """``[train] a=1, b=2, [valid] a=3`` -> {"train": {...}, "valid": {...}}."""
    out: dict[str, dict[str, float]] = {}
    for name, body in re.findall(r"\[(\w+)\]\s*(.*?)(?=,?\s*\[\w+\]|$)", text):
        out[name] = parse_values(body)
    return out


def parse_train_log(path: str | Path) -> TrainLog:
    """Parse a whole ESPnet ``train.log``.

    Raises :class:`LogFormatError` if the file is missing or holds no ESPnet training
    record at all (neither interval nor epoch lines), naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise LogFormatError(f"{path}: no such file (expected an ESPnet train.log)")
    parser = TrainLogParser(path)
    with open(path, errors="replace") as f:
        for line in f:
            parser.feed(line, complete=line.endswith("\n"))
    log = parser.finish()
    if not log.intervals and not log.epochs:
        raise LogFormatError(
            f"{path}: no ESPnet training lines found (neither 'Nepoch:train:a-bbatch:' "
            "interval lines nor 'Nepoch results:' lines); is this an ESPnet train.log?"
        )
    return log


@dataclasses.dataclass
class TensorboardLog:
    """ESPnet's tensorboard scalars, split the way the trainer wrote them.

    ``intervals``: per-interval means of the training stats (x = cumulative iteration);
    ``train_epoch`` / ``valid``: per-epoch means (x = train ``total_count`` at epoch end).
    ESPnet writes the epoch means of ``train`` into the same tags as the interval means
    (right after an ``iter_epoch`` scalar, at the same step), so the reader tells them
    apart by write order.
    """

    intervals: dict[str, list[tuple[int, float]]]
    train_epoch: dict[str, list[tuple[int, float]]]
    valid: dict[str, list[tuple[int, float]]]

    def series(self, key: str) -> tuple[list[int], list[float]]:
        pts = self.intervals.get(key, [])
        return [s for s, _ in pts], [v for _, v in pts]


def _events(split_dir: Path):
    """(tag, step, value) of every scalar in a split dir, in write order (files by name)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    for ev in sorted(split_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(ev)).Load():
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    v = float(value.simple_value)
                elif value.HasField("tensor") and value.tensor.float_val:
                    v = float(value.tensor.float_val[0])
                else:
                    continue
                yield value.tag, int(event.step), v


def read_tensorboard(expdir_or_tbdir: str | Path) -> TensorboardLog:
    """Read ``<exp>/tensorboard/{train,valid}`` (accepts the exp dir or its tensorboard dir).

    Raises :class:`LogFormatError` naming the directory when it holds no event file.
    """
    root = Path(expdir_or_tbdir)
    if (root / "tensorboard").is_dir():
        root = root / "tensorboard"
    train_dir, valid_dir = root / "train", root / "valid"
    if not list(train_dir.glob("events.out.tfevents.*")):
        raise LogFormatError(f"{root}: no tensorboard event files (train/events.out.tfevents.*) found")
    intervals: dict[str, dict[int, float]] = {}
    epoch: dict[str, dict[int, float]] = {}
    epoch_step = None  # the step of the last iter_epoch scalar: the epoch-mean block
    for tag, step, value in _events(train_dir):
        if tag == "iter_epoch":
            epoch_step = step
            continue
        if step != epoch_step:
            epoch_step = None
        target = epoch if epoch_step is not None else intervals
        target.setdefault(tag, {})[step] = value
    valid: dict[str, dict[int, float]] = {}
    if valid_dir.is_dir():
        for tag, step, value in _events(valid_dir):
            valid.setdefault(tag, {})[step] = value

    def _sorted(d: dict[str, dict[int, float]]) -> dict[str, list[tuple[int, float]]]:
        return {tag: sorted(pts.items()) for tag, pts in d.items()}

    return TensorboardLog(_sorted(intervals), _sorted(epoch), _sorted(valid))
