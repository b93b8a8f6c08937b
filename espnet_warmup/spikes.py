"""Gradient-norm spike detection.

Definition (used by ``curves``, ``report`` and the live ``monitor`` alike)::

    A point t of a gradient-norm series g_1, g_2, ... is a *spike* when
        g_t > factor * median(H_t)
    where H_t is the trailing history: the last ``window`` *finite* values before t
    (spikes included, so a sustained rise becomes the new normal after ~window/2 points),
    and H_t holds at least ``min_history`` values (earlier points are never spikes).

Why a trailing median: the gradient norm of a healthy run drifts by orders of magnitude
(large at the start, shrinking as the loss falls), so a fixed threshold either fires
all through the first updates or misses a late explosion; the median of the recent past
follows the drift and ignores isolated outliers. Only the past is used, so the live
monitor and the offline plots mark exactly the same points.

Non-finite values (nan/inf: updates ESPnet skipped) are neither spikes nor history; they
are counted separately (the "skipped non-finite updates" of the reports).

The series is whatever ESPnet logged: per-interval means of the per-update norm (before
clipping). With ``--log_interval 1`` each point is one update; with larger intervals a
spike must be large enough to lift the interval mean, so short spikes are damped.

Defaults: factor 5, window 50, min_history 5 -- a 5x jump over the recent median is far
outside the interval-to-interval noise of stable runs (typically < 2x), while the
explosions that precede divergence are 10x-1000x.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections import deque
from collections.abc import Iterable, Sequence

DEFAULT_FACTOR = 5.0
DEFAULT_WINDOW = 50
DEFAULT_MIN_HISTORY = 5


@dataclasses.dataclass(frozen=True)
class Spike:
    """One spike: position in the series, its x (step), value, the median it beat, ratio."""

    index: int
    step: int
    value: float
    median: float

    @property
    def ratio(self) -> float:
        return self.value / self.median if self.median > 0 else math.inf


def check_parameters(factor: float, window: int, min_history: int) -> None:
    """Raise ValueError naming the parameter when (factor, window, min_history) cannot define spikes:
    factor a finite number > 1, window an integer >= 1, min_history an integer in [1, window]."""
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1):
        raise ValueError(f"spike factor must be a finite number > 1, got {factor!r}")
    if not (isinstance(window, int) and window >= 1):
        raise ValueError(f"spike window must be an integer >= 1, got {window!r}")
    if not (isinstance(min_history, int) and 1 <= min_history <= window):
        raise ValueError(f"spike min_history must be an integer in [1, window={window}], got {min_history!r}")


class SpikeDetector:
    """Streaming form of the definition above: :meth:`update` one value at a time."""

    def __init__(self, factor: float = DEFAULT_FACTOR, window: int = DEFAULT_WINDOW,
                 min_history: int = DEFAULT_MIN_HISTORY):
        check_parameters(factor, window, min_history)
        self.factor, self.window, self.min_history = float(factor), window, min_history
        self._history: deque[float] = deque(maxlen=window)
        self._sorted: list[float] = []  # the same values, sorted (O(window) updates, no numpy)
        self._index = -1

    def median(self) -> float:
        n = len(self._sorted)
        if n == 0:
            return math.nan
        mid = n // 2
        return self._sorted[mid] if n % 2 else 0.5 * (self._sorted[mid - 1] + self._sorted[mid])

    @property
    def index(self) -> int:
        """Position of the last value fed (-1 before the first), as :attr:`Spike.index` counts."""
        return self._index

    def history(self) -> list[float]:
        """The trailing history, oldest first (to save the detector's state)."""
        return list(self._history)

    def restore(self, history: Iterable[float], index: int = -1) -> None:
        """Continue from a saved :meth:`history` (the last ``window`` values are kept)."""
        values = [float(v) for v in history if math.isfinite(float(v))][-self.window:]
        self._history = deque(values, maxlen=self.window)
        self._sorted = sorted(values)
        self._index = int(index)

    def update(self, value: float, step: int | None = None) -> Spike | None:
        """Feed the next value; return a :class:`Spike` if it is one (non-finite: None)."""
        self._index += 1
        if not math.isfinite(value):
            return None
        spike = None
        if len(self._history) >= self.min_history:
            med = self.median()
            if value > self.factor * med:
                spike = Spike(self._index, self._index if step is None else step, value, med)
        if len(self._history) == self.window:
            old = self._history[0]
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._history.append(value)
        bisect.insort(self._sorted, value)
        return spike


def detect_spikes(values: Sequence[float], steps: Iterable[int] | None = None,
                  factor: float = DEFAULT_FACTOR, window: int = DEFAULT_WINDOW,
                  min_history: int = DEFAULT_MIN_HISTORY) -> list[Spike]:
    """All spikes of a series (see the module docstring for the definition).

    ``steps`` are the x values reported in :attr:`Spike.step` (default: the indices).
    """
    det = SpikeDetector(factor, window, min_history)
    steps = list(range(len(values))) if steps is None else list(steps)
    if len(steps) != len(values):
        raise ValueError(f"steps and values differ in length: {len(steps)} != {len(values)}")
    out = []
    for step, value in zip(steps, values):
        s = det.update(float(value), step)
        if s is not None:
            out.append(s)
    return out
