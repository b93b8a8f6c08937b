"""The adaptive warmup guard: ``scheduler: warmupguardlr`` holds a warmup on gradient-norm spikes.

The paper's remedy for a warmup that blows up the gradients is to "reduce the LR in that window".
:class:`WarmupGuardLR` does it automatically around any of our warmup schedules (the closed-form
families: ``exponentialwarmuplr``, ``polynomialwarmuplr``, ``warmupschedulelr`` and its presets)::

    scheduler: warmupguardlr
    scheduler_conf:
        schedule: polynomialwarmuplr           # the guarded schedule, by its registry name
        schedule_conf: {warmup_steps: 50000, power: 1.5}
        spike_factor: 5.0    # a spike: pre-clip grad norm > spike_factor x median of the last `window` updates
        window: 50
        min_history: 5       # no spike before this many updates were seen
        hold_steps: 50       # a spike freezes the warmup's progress for this many updates
        backoff: 1.0         # and sets it back to backoff x its value (1: hold only)
        max_delay: null      # the warmup ends at most this many updates late (default: warmup_steps)

How it acts. The guard keeps the warmup's *progress* v, the update index the schedule is read at;
unguarded, v is the real update index i. A spike during the warmup (v < w) freezes v for
``hold_steps`` updates and, with ``backoff`` < 1, first sets it back to ceil(backoff * v); the
LR of update i is eta * min(f(v), f(i)), f being the guarded schedule's factor. So the LR never
exceeds the unguarded schedule, the warmup resumes where it stopped, and once v reaches w the LR
is exactly f(i) again (every tail is non-increasing). After the warmup the guard does nothing;
``max_delay`` bounds the total lag i - v, so the warmup always ends. The spike rule is the
divergence monitor's (:mod:`espnet_warmup.spikes`), applied to every update's norm.

The seam. ESPnet's trainer computes the gradient norm with ``torch.nn.utils.clip_grad_norm_``
once per optimizer update (after ``accum_grad`` micro-batches, after AMP's ``unscale_``, after DDP
averaged the gradients) and then calls ``optimizer.step()`` and ``scheduler.step()``; a
scheduler's ``step()`` cannot see that norm (the gradients it could read are clipped by then).
Constructing this scheduler wraps ``torch.nn.utils.clip_grad_norm_`` in the process with a
function that returns the same value and remembers it; ``step()`` reads it. So the guard sees
exactly the norm ESPnet logs as ``grad_norm`` (unscaled under AMP, once per update under
accum_grad, the same on every DDP rank, whose gradients are the same after the all-reduce), with
no ESPnet code changed. A non-finite norm makes ESPnet skip the update and its ``step()``: the
guard never sees it (ESPnet's own skip handles it; the monitor counts it).

Every intervention is logged (a WARNING ``warmup guard: ...`` line, which ESPnet writes to
train.log) and, on rank 0, appended to ``<output_dir>/warmup_guard.log`` (one JSON object per
line; ``log_file`` names another file, ``none`` none; the output dir is the trainer's
``--output_dir``). The guard's state (progress, hold, spike history) is in ``state_dict()``, as
plain numbers, so a resumed run continues exactly; a resume drops the file's entries of updates
the checkpoint does not have.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
from typing import Any, ClassVar

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler
from torch.optim.lr_scheduler import LRScheduler

from espnet_warmup import spikes
from espnet_warmup.schedulers import ClosedFormWarmupLR

logger = logging.getLogger(__name__)
LOG_NAME = "warmup_guard.log"

# --------------------------------------------------------------------------- the norm tap
_last_norm: list[float | None] = [None]


def install_norm_tap() -> None:
    """Wrap ``torch.nn.utils.clip_grad_norm_`` (once per process) so the guard sees each norm it returns."""
    utils = torch.nn.utils
    if getattr(utils.clip_grad_norm_, "_espnet_warmup_tap", False):
        return
    original = utils.clip_grad_norm_

    @functools.wraps(original)
    def clip_grad_norm_(*args: Any, **kwargs: Any):
        total = original(*args, **kwargs)
        try:
            _last_norm[0] = float(total)
        except (TypeError, ValueError, RuntimeError):
            _last_norm[0] = None
        return total

    clip_grad_norm_._espnet_warmup_tap = True  # type: ignore[attr-defined]
    clip_grad_norm_._espnet_warmup_original = original  # type: ignore[attr-defined]
    utils.clip_grad_norm_ = clip_grad_norm_


def take_norm() -> float | None:
    """The norm ``clip_grad_norm_`` returned last, once (None if none since the last call)."""
    value, _last_norm[0] = _last_norm[0], None
    return value


# --------------------------------------------------------------------------- parameters
def _schedule_class(name: Any) -> type:
    from espnet_warmup.registry import SCHEDULERS

    ours = {k: v for k, v in SCHEDULERS.items() if isinstance(v, type) and issubclass(v, ClosedFormWarmupLR)}
    if not isinstance(name, str) or name.lower() not in ours:
        raise ValueError(f"schedule: {name!r} is not a warmup schedule of ours; allowed: {', '.join(ours)}")
    return ours[name.lower()]


def _dummy_optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)


def build_schedule(name: Any, conf: Any) -> ClosedFormWarmupLR:
    """The guarded schedule, on a private optimizer of LR 1 (only its ``factor`` is used)."""
    cls = _schedule_class(name)
    if conf is None:
        conf = {}
    if not isinstance(conf, dict):
        raise ValueError(f"schedule_conf: must be a mapping of {cls.__name__}'s arguments, got {conf!r}")
    try:
        return cls(_dummy_optimizer(), **conf)
    except TypeError as err:
        raise ValueError(f"schedule_conf: {err}") from None
    except ValueError as err:  # the family's message starts with the key it names
        first = str(err).split(" ")[0]
        raise ValueError(f"schedule_conf.{err}" if first in conf or first in cls.params
                         else f"schedule_conf: {err}") from None


def warmup_end_of(schedule: ClosedFormWarmupLR) -> int:
    inner = getattr(schedule, "_schedule", None)
    end = getattr(inner, "warmup_end", None) if inner is not None else schedule.warmup_steps
    return int(end or 0)


def check_guard(spike_factor: Any, window: Any, min_history: Any, hold_steps: Any, backoff: Any,
                max_delay: Any) -> None:
    """Raise ValueError naming the key of the first bad guard parameter."""
    for key, value in (("window", window), ("min_history", min_history), ("hold_steps", hold_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
    if isinstance(spike_factor, bool) or not isinstance(spike_factor, (int, float)) or not (
            math.isfinite(spike_factor) and spike_factor > 1):
        raise ValueError(f"spike_factor must be a finite number > 1, got {spike_factor!r}")
    if min_history > window:
        raise ValueError(f"min_history must be <= window ({window}), got {min_history!r}")
    if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or not 0 < backoff <= 1:
        raise ValueError(f"backoff must be a number in (0, 1] (1: hold only), got {backoff!r}")
    if max_delay is not None and (isinstance(max_delay, bool) or not isinstance(max_delay, int) or max_delay < 0):
        raise ValueError(f"max_delay must be an integer >= 0 or null (warmup_steps), got {max_delay!r}")


def _output_dir() -> str | None:
    argv = sys.argv
    for k, arg in enumerate(argv):
        if arg == "--output_dir" and k + 1 < len(argv):
            return argv[k + 1]
        if arg.startswith("--output_dir="):
            return arg.split("=", 1)[1]
    return None


def _rank() -> int:
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


# --------------------------------------------------------------------------- the scheduler
class WarmupGuardLR(LRScheduler, AbsBatchStepScheduler):
    """Any of our warmup schedules, with a warmup that holds (or backs off) on gradient-norm spikes.

    Args:
        optimizer: the wrapped optimizer; its ``lr`` is the peak.
        schedule: the guarded schedule's registry name (one of our closed-form families).
        schedule_conf: its arguments (as its own ``scheduler_conf``).
        spike_factor, window, min_history: the spike rule (norm > spike_factor x median of the last
            ``window`` norms, once ``min_history`` were seen), as the divergence monitor's.
        hold_steps: updates the warmup's progress stays frozen after a spike (>= 1).
        backoff: on a spike the progress is first set back to ceil(backoff x progress); 1: hold only.
        max_delay: the most updates the warmup may end late in all (default: its warmup_steps).
        log_file: the interventions file: ``auto`` (``<--output_dir>/warmup_guard.log``), a path, or none.
        log_all_ranks: under DDP, rank k > 0 writes its own ``<log_file>.rank<k>`` too (to check that
            every rank took the same decisions; rank 0's file is the record).
        last_epoch: index of the last update, -1 to start (torch convention).
    """

    closed_form: ClassVar[bool] = False  # the LR depends on the run's gradients
    warmup_key: ClassVar[str] = "schedule_conf"

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: str = "exponentialwarmuplr",
        schedule_conf: dict | None = None,
        spike_factor: float = spikes.DEFAULT_FACTOR,
        window: int = spikes.DEFAULT_WINDOW,
        min_history: int = spikes.DEFAULT_MIN_HISTORY,
        hold_steps: int = 50,
        backoff: float = 1.0,
        max_delay: int | None = None,
        log_file: str | None = "auto",
        log_all_ranks: bool = False,
        last_epoch: int = -1,
    ):
        self._schedule = build_schedule(schedule, schedule_conf)
        check_guard(spike_factor, window, min_history, hold_steps, backoff, max_delay)
        self.schedule, self.schedule_conf = schedule.lower(), dict(schedule_conf or {})
        self.spike_factor, self.window, self.min_history = float(spike_factor), window, min_history
        self.hold_steps, self.backoff = hold_steps, float(backoff)
        self.warmup_end = warmup_end_of(self._schedule)
        self.max_delay = self.warmup_end if max_delay is None else max_delay
        self._detector = spikes.SpikeDetector(self.spike_factor, window, min_history)
        self.progress = last_epoch + 1 if last_epoch >= 0 else 0  # virtual index of the update about to run
        self.hold_left = 0
        self.interventions = 0
        if not isinstance(log_all_ranks, bool):
            raise ValueError(f"log_all_ranks must be true or false, got {log_all_ranks!r}")
        self.log_all_ranks = log_all_ranks
        self._log_path = self._resolve_log(log_file)
        self._ready = False
        self._warned_blind = False
        install_norm_tap()
        take_norm()
        super().__init__(optimizer, last_epoch)
        self._ready = True

    @staticmethod
    def _resolve_log(log_file: str | None) -> str | None:
        if log_file is None or str(log_file).lower() in ("", "none", "null"):
            return None
        if log_file == "auto":
            out = _output_dir()
            return os.path.join(out, LOG_NAME) if out else None
        return str(log_file)

    # ------------------------------------------------------------ LR
    def factors(self, progress: int, real: int) -> tuple[float, float]:
        """(guarded, unguarded) factor of update ``real`` read at warmup progress ``progress``."""
        unguarded = self._schedule.factor(real)
        if progress >= self.warmup_end:
            return unguarded, unguarded
        return min(self._schedule.factor(progress), unguarded), unguarded

    def get_lr(self) -> list[float]:
        real = self.last_epoch + 1
        if not self._ready:  # the constructor's initial step: update 1
            self.progress = real
        f, _ = self.factors(self.progress, real)
        return [float(base_lr) * f for base_lr in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:  # noqa: D102 -- once per optimizer update
        if self._ready:
            norm = take_norm()
            if norm is None and not self._warned_blind and self._has_gradients():
                # a trainer that computes the norm some other way (or imported clip_grad_norm_ by name
                # before the tap): the guard cannot see spikes, so it must say so, once
                self._warned_blind = True
                logger.warning("warmup guard: an update ran without torch.nn.utils.clip_grad_norm_ being called; "
                               "the guard sees no gradient norms and will not act (the schedule runs unguarded)")
            self._observe(norm)
        super().step()

    def _has_gradients(self) -> bool:
        return any(p.grad is not None for g in self.optimizer.param_groups for p in g["params"])

    def _observe(self, norm: float | None) -> None:
        """Account for the update that just ran (its pre-clip norm) and move the progress on."""
        done = self.last_epoch + 1  # real index of the update that just ran
        nxt = done + 1
        seen = len(self._detector.history())  # the norms the spike is judged against
        spike = self._detector.update(norm, done) if norm is not None else None
        if spike is not None and self._may_hold(nxt):
            before = self.progress
            if self.backoff < 1:
                self.progress = max(1, nxt - self.max_delay, math.ceil(self.backoff * self.progress))
            self.hold_left = self.hold_steps
            self.interventions += 1
            self._report(done, spike, before, seen)
        if self.hold_left > 0 and self._may_hold(nxt):
            self.hold_left -= 1
        else:
            self.hold_left = 0
            self.progress += 1

    def _may_hold(self, nxt: int) -> bool:
        """Whether update ``nxt`` may still read the warmup behind the real count: the warmup is not
        finished and the lag stays within max_delay."""
        return self.progress < self.warmup_end and nxt - self.progress <= self.max_delay

    def _report(self, update: int, spike: spikes.Spike, before: int, seen: int) -> None:
        lr_now, unguarded = self.factors(self.progress, update + 1)
        peak = float(self.base_lrs[0])
        logger.warning(
            "warmup guard: update %d: grad norm %.4g > %.4g x median %.4g of the last %d updates: warmup "
            "progress %d/%d%s, held for %d updates (next LR %.4g, unguarded %.4g)",
            update, spike.value, self.spike_factor, spike.median, seen,
            before, self.warmup_end, f", set back to {self.progress}" if self.progress != before else "",
            self.hold_steps, peak * lr_now, peak * unguarded)
        path = self._rank_log_path()
        if path is None:
            return
        entry = {"update": update, "grad_norm": spike.value, "median": spike.median,
                 "spike_factor": self.spike_factor, "progress_before": before, "progress": self.progress,
                 "warmup_steps": self.warmup_end, "hold_steps": self.hold_steps,
                 "next_lr": peak * lr_now, "next_lr_unguarded": peak * unguarded}
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        except OSError as err:
            logger.warning("warmup guard: could not write %s (%s)", path, err)

    def _rank_log_path(self) -> str | None:
        """This rank's interventions file: the log file on rank 0, ``.rank<k>`` with log_all_ranks, else None."""
        if self._log_path is None:
            return None
        rank = _rank()
        if rank == 0:
            return self._log_path
        return f"{self._log_path}.rank{rank}" if self.log_all_ranks else None

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "last_epoch": int(self.last_epoch), "_step_count": int(self._step_count),
            "base_lrs": [float(x) for x in self.base_lrs], "progress": int(self.progress),
            "hold_left": int(self.hold_left), "interventions": int(self.interventions),
            "history": self._detector.history(), "detector_index": self._detector.index,
            "schedule": self.schedule,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict.get("_step_count", self.last_epoch + 1))
        self.progress = int(state_dict.get("progress", self.last_epoch + 1))
        self.hold_left = int(state_dict.get("hold_left", 0))
        self.interventions = int(state_dict.get("interventions", 0))
        self._detector.restore(state_dict.get("history", []), int(state_dict.get("detector_index", -1)))
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs
        self._forget_logged_after(self.last_epoch)

    def _forget_logged_after(self, last_update: int) -> None:
        """A resumed run redoes the updates after its checkpoint: drop their entries from the file."""
        path = self._rank_log_path()
        if path is None or not os.path.isfile(path):
            return
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
        keep = []
        for line in lines:
            try:
                if json.loads(line)["update"] <= last_update:
                    keep.append(line)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash
        if keep != lines:
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                f.writelines(keep)
            os.replace(tmp, path)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(schedule={self._schedule!r}, spike_factor={self.spike_factor}, "
                f"window={self.window}, min_history={self.min_history}, hold_steps={self.hold_steps}, "
                f"backoff={self.backoff}, max_delay={self.max_delay})")

    # ------------------------------------------------------------ for the config tools
    @classmethod
    def schedule_marks(cls, conf: dict[str, Any]) -> tuple[int | None, list[int], list[int]] | None:
        """The guarded schedule's (warmup end, knots, tail marks): the unguarded upper bound."""
        try:
            inner_cls = _schedule_class(conf.get("schedule"))
        except ValueError:
            return None
        inner_conf = {**_defaults(inner_cls), **(conf.get("schedule_conf") or {})}
        if hasattr(inner_cls, "schedule_marks"):
            return inner_cls.schedule_marks(inner_conf)
        w = inner_conf.get(inner_cls.warmup_key)
        return (w if isinstance(w, int) and w > 0 else None), [], []

    @classmethod
    def config_problems(cls, conf: dict[str, Any], planned: Any = None) -> list[str]:
        """check-config's hook: the guard's parameters and the guarded schedule's, as ``"<key>: <message>"``."""
        problems = []
        try:
            inner = build_schedule(conf.get("schedule"), conf.get("schedule_conf"))
        except ValueError as err:
            key, _, rest = str(err).partition(" ")
            problems.append(f"{key.rstrip(':')}: {rest}")
            inner = None
        try:
            check_guard(conf.get("spike_factor"), conf.get("window"), conf.get("min_history"),
                        conf.get("hold_steps"), conf.get("backoff"), conf.get("max_delay"))
        except ValueError as err:
            key, _, rest = str(err).partition(" ")
            problems.append(f"{key}: {rest}")
        if inner is not None and hasattr(type(inner), "config_problems"):
            inner_conf = {**_defaults(type(inner)), **(conf.get("schedule_conf") or {})}
            problems += [f"schedule_conf.{p}" for p in type(inner).config_problems(inner_conf, planned)]
        return problems


def _defaults(cls: type) -> dict[str, Any]:
    from espnet_warmup.espnet_config import constructor_defaults

    return constructor_defaults(cls)
