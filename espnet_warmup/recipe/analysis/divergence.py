"""The divergence rules of the live monitor: parsed train.log records in, findings out (no I/O).

:class:`DivergenceDetector` is fed the records of :class:`espnet_warmup.recipe.analysis.logs.TrainLogParser`
in log order; it answers with findings:

* ``warning``: each gradient-norm spike (:mod:`espnet_warmup.spikes`: g_t > k x the
  trailing median of the last W finite norms) and each update ESPnet skipped because its
  gradient norm was nan/inf;
* ``DIVERGENCE`` (each kind announced once), the paper's failure signature, i.e. any of
    - ``sustained_spikes``: >= ``sustained_spikes`` spikes among the last ``sustained_window``
      logged grad norms;
    - ``nonfinite_updates``: >= ``max_nonfinite`` skipped updates within the last
      ``nonfinite_window`` iterations, counted from the first finite update on (under
      ``--use_amp`` the GradScaler skips the first updates while it calibrates its loss
      scale, and later one per scale increase; neither is divergence);
    - ``loss_rising``: the median train loss of the last ``loss_window`` intervals exceeds
      ``loss_rise_factor`` x the lowest such median seen so far;
    - ``all_invalid``: ESPnet's own stop, "The gradients at all steps are invalid in this epoch".

Being pure, the same rules judge a finished log and a live one.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import deque

from espnet_warmup import spikes
from espnet_warmup.recipe.analysis.logs import EpochResult, Interval, SkippedUpdate


@dataclasses.dataclass
class Thresholds:
    """What counts as divergence (see the module docstring)."""

    spike_factor: float = spikes.DEFAULT_FACTOR
    spike_window: int = spikes.DEFAULT_WINDOW
    spike_min_history: int = spikes.DEFAULT_MIN_HISTORY
    sustained_spikes: int = 3
    sustained_window: int = 10
    max_nonfinite: int = 5
    nonfinite_window: int = 100
    loss_rise_factor: float = 2.0
    loss_window: int = 5

    def check(self) -> None:
        """Raise ValueError naming the option (``--key``) of the first value that cannot work."""
        for key in ("sustained_spikes", "sustained_window", "max_nonfinite", "nonfinite_window", "loss_window"):
            v = getattr(self, key)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"--{key} must be an integer >= 1, got {v!r}")
        if self.sustained_spikes > self.sustained_window:
            raise ValueError(f"--sustained_spikes ({self.sustained_spikes}) cannot exceed "
                             f"--sustained_window ({self.sustained_window})")
        if not self.loss_rise_factor > 1:
            raise ValueError(f"--loss_rise_factor must be > 1, got {self.loss_rise_factor!r}")
        spikes.check_parameters(self.spike_factor, self.spike_window, self.spike_min_history)


@dataclasses.dataclass
class Finding:
    """One message of the detector, as the monitor prints it: ``<level>: <message>``."""

    level: str  # "warning" or "DIVERGENCE"
    kind: str  # spike | nonfinite | sustained_spikes | nonfinite_updates | loss_rising | all_invalid
    message: str


class DivergenceDetector:
    """Turns parsed log records into findings. Pure logic (no I/O), so it is testable
    on a finished log and used unchanged live."""

    def __init__(self, th: Thresholds | None = None):
        self.th = th or Thresholds()
        self.th.check()
        self.spikes = spikes.SpikeDetector(self.th.spike_factor, self.th.spike_window,
                                               self.th.spike_min_history)
        self._recent_spike_flags: deque[bool] = deque(maxlen=self.th.sustained_window)
        self._skip_steps: list[int] = []
        self._losses: deque[float] = deque(maxlen=self.th.loss_window)
        self._best_median: float | None = None
        self.step = 0  # last known cumulative iteration
        self.diverged: set[str] = set()
        self.n_spikes = 0
        self.n_skipped = 0
        self._seen_finite = False  # a finite grad norm has been logged (an update succeeded)
        self._live = 0  # counted skips not yet tied to an iteration (no interval line since)

    def _diverge(self, kind: str, message: str) -> list[Finding]:
        if kind in self.diverged:  # each signature is announced once
            return []
        self.diverged.add(kind)
        return [Finding("DIVERGENCE", kind, message)]

    def feed(self, record: object, line: str = "") -> list[Finding]:
        out: list[Finding] = []
        if isinstance(record, Interval):
            self.step = record.step
            g = record.get("grad_norm")
            spike = self.spikes.update(g, record.step)
            self._recent_spike_flags.append(spike is not None)
            if spike is not None:
                self.n_spikes += 1
                out.append(Finding("warning", "spike",
                                   f"grad-norm spike at iteration {spike.step}: {spike.value:.4g} = "
                                   f"{spike.ratio:.1f} x the running median {spike.median:.4g}"))
            n = sum(self._recent_spike_flags)
            if n >= self.th.sustained_spikes:
                out += self._diverge("sustained_spikes",
                                     f"sustained grad-norm spikes: {n} of the last "
                                     f"{len(self._recent_spike_flags)} logged grad norms are spikes "
                                     f"(> {self.th.spike_factor:g} x running median), "
                                     f"latest at iteration {record.step}")
            loss = record.get("loss")
            if loss == loss and abs(loss) != float("inf"):
                self._losses.append(loss)
                if len(self._losses) == self.th.loss_window:
                    med = statistics.median(self._losses)
                    if self._best_median is None or med < self._best_median:
                        self._best_median = med
                    elif med > self.th.loss_rise_factor * self._best_median:
                        out += self._diverge("loss_rising",
                                             f"train loss rising: median of the last {self.th.loss_window} "
                                             f"intervals {med:.4g} > {self.th.loss_rise_factor:g} x the best "
                                             f"median {self._best_median:.4g} (iteration {record.step})")
            self._file_live(record.step)  # skips warned about since the last line happened here
            out += self._check_nonfinite()
            if g == g and abs(g) != float("inf"):
                self._seen_finite = True
        elif isinstance(record, SkippedUpdate):
            self.n_skipped += 1
            if not self._seen_finite:
                out.append(Finding("warning", "nonfinite",
                                   f"non-finite update skipped by ESPnet (grad norm {record.value}) before any "
                                   "finite one; not counted as divergence (under --use_amp the GradScaler "
                                   "skips updates while it calibrates its loss scale)"))
                return out
            out.append(Finding("warning", "nonfinite",
                               f"non-finite update skipped by ESPnet (grad norm {record.value}) "
                               f"in epoch {record.epoch}, after iteration {self.step}"))
            self._live += 1  # counted at once; the next interval line gives it its iteration
            out += self._check_nonfinite()
        elif isinstance(record, EpochResult):
            if record.step is not None:
                self.step = record.step
            self._file_live(self.step)  # skips after the epoch's last interval line
        elif "The gradients at all steps are invalid in this epoch" in line:
            out += self._diverge("all_invalid", "ESPnet stopped training: every update of the epoch was "
                                                "non-finite ('The gradients at all steps are invalid')")
        return out

    def _file_live(self, step: int) -> None:
        self._skip_steps += [step] * self._live
        self._live = 0

    def _check_nonfinite(self) -> list[Finding]:
        lo = self.step - self.th.nonfinite_window
        n = sum(1 for s in self._skip_steps if s > lo) + self._live
        if n >= self.th.max_nonfinite:
            return self._diverge("nonfinite_updates",
                                 f"{n} non-finite (skipped) updates within the last "
                                 f"{self.th.nonfinite_window} iterations (up to iteration {self.step})")
        return []
