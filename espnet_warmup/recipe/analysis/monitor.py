"""Live divergence monitor: follows an ESPnet ``train.log`` beside the training job.

    python -m espnet_warmup.recipe.analysis.monitor --log exp/asr_x/train.log --follow-pid <PID> \\
        [--stop_on_divergence true|false]          # also: espnet-warmup monitor ...

While process PID lives, new lines of the log are parsed as ESPnet writes them
(:class:`espnet_warmup.recipe.analysis.logs.TrainLogParser`). Every finding is written to stderr
*and* appended to ``<log dir>/monitor.log`` (``--out``):

* ``warning``: each gradient-norm spike (:mod:`espnet_warmup.recipe.analysis.spikes`) and each
  update ESPnet skipped because its gradient norm was nan/inf;
* ``DIVERGENCE``: the paper's failure signature, i.e. any of
    - sustained spikes: >= ``--sustained_spikes`` spikes among the last
      ``--sustained_window`` logged grad norms;
    - non-finite updates: >= ``--max_nonfinite`` skipped updates within the last
      ``--nonfinite_window`` iterations, counted from the first finite update on (under
      ``--use_amp`` the GradScaler skips the first updates while it calibrates its loss
      scale, and later one per scale increase; neither is divergence);
    - loss rising: the median train loss of the last ``--loss_window`` intervals exceeds
      ``--loss_rise_factor`` x the lowest such median seen so far;
    - ESPnet's own stop: "The gradients at all steps are invalid in this epoch".

With ``--stop_on_divergence true`` the monitor then stops the run: it sends SIGTERM to
PID and its descendants (so a ``run.pl``/``slurm.pl`` wrapper and DDP workers stop too).
ESPnet writes ``checkpoint.pth`` only at the end of an epoch, so the last *complete*
epoch checkpoint is what is kept; if the divergence is seen while that checkpoint is
being written (after an ``Nepoch results`` line), the monitor waits for the next line
(the save has finished) before signalling, so the checkpoint is never cut in half.
Resume with ``--resume true`` from ``checkpoint.pth`` (e.g. after lowering the peak LR).

A log last written before PID started (a previous attempt's, e.g. the diverged run
being resumed) is not judged: the monitor waits until the job rewrites it.

Exit status: 0 no divergence; 3 divergence seen (not stopped); 4 divergence seen and the
run stopped; 2 bad usage. Without ``--follow-pid`` the log is checked once, as it is.
Cost: one ``read()`` of the new bytes of the log per ``--poll`` seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import statistics
import sys
import time
from collections import deque
from datetime import datetime
from pathlib import Path

from espnet_warmup.recipe.analysis import spikes as spikes_mod
from espnet_warmup.recipe.analysis.logs import EpochResult, Interval, SkippedUpdate, TrainLogParser

EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_STOPPED = 0, 2, 3, 4


@dataclasses.dataclass
class Thresholds:
    """What counts as divergence (see the module docstring)."""

    spike_factor: float = spikes_mod.DEFAULT_FACTOR
    spike_window: int = spikes_mod.DEFAULT_WINDOW
    spike_min_history: int = spikes_mod.DEFAULT_MIN_HISTORY
    sustained_spikes: int = 3
    sustained_window: int = 10
    max_nonfinite: int = 5
    nonfinite_window: int = 100
    loss_rise_factor: float = 2.0
    loss_window: int = 5

    def check(self) -> None:
        for key in ("sustained_spikes", "sustained_window", "max_nonfinite", "nonfinite_window", "loss_window"):
            v = getattr(self, key)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"--{key} must be an integer >= 1, got {v!r}")
        if self.sustained_spikes > self.sustained_window:
            raise ValueError(f"--sustained_spikes ({self.sustained_spikes}) cannot exceed "
                             f"--sustained_window ({self.sustained_window})")
        if not self.loss_rise_factor > 1:
            raise ValueError(f"--loss_rise_factor must be > 1, got {self.loss_rise_factor!r}")


@dataclasses.dataclass
class Finding:
    level: str  # "warning" or "DIVERGENCE"
    kind: str  # spike | nonfinite | sustained_spikes | nonfinite_updates | loss_rising | all_invalid
    message: str


class DivergenceDetector:
    """Turns parsed log records into findings. Pure logic (no I/O), so it is testable
    on a finished log and used unchanged live."""

    def __init__(self, th: Thresholds | None = None):
        self.th = th or Thresholds()
        self.th.check()
        self.spikes = spikes_mod.SpikeDetector(self.th.spike_factor, self.th.spike_window,
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


# ----------------------------------------------------------------------------- processes
def _proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped, counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def process_start_time(pid: int) -> float | None:
    """Start of ``pid`` as a Unix timestamp (from /proc), None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None


def descendants(pid: int) -> list[int]:
    """All descendant PIDs of ``pid`` (from /proc), children before grandchildren."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(0), []):
            out.append(c)
            todo.append(c)
    return out


# ----------------------------------------------------------------------------- the loop
class Monitor:
    """Follows a log file; writes findings; optionally stops the training process tree."""

    def __init__(self, log: Path, pid: int | None, stop: bool, out: Path, th: Thresholds,
                 poll: float = 1.0, checkpoint_wait: float = 120.0, stream=None):
        self.log, self.pid, self.stop, self.out = log, pid, stop, out
        self.detector = DivergenceDetector(th)
        self.parser = TrainLogParser(log)
        self.poll, self.checkpoint_wait = poll, checkpoint_wait
        self.stream = stream or sys.stderr
        self.findings: list[Finding] = []
        self.stopped = False
        self._last_record: object | None = None

    def say(self, level: str, message: str) -> None:
        line = f"{datetime.now():%Y-%m-%d %H:%M:%S} (monitor) {level}: {message}"
        print(line, file=self.stream, flush=True)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with open(self.out, "a") as f:
            f.write(line + "\n")

    def _feed_line(self, line: str) -> None:
        rec = self.parser.feed(line)
        if rec is not None:
            self._last_record = rec
        elif "epoch started" in line or "The training was finished" in line:
            self._last_record = None  # the epoch-end checkpoint has been written
        for f in self.detector.feed(rec, line):
            self.findings.append(f)
            self.say(f.level, f.message)

    def _saving_checkpoint(self) -> bool:
        return isinstance(self._last_record, EpochResult)

    def _stale_log(self) -> os.stat_result | None:
        """The stat of a log left by an *earlier* job (last written before PID started).

        asr.sh starts the monitor while run.pl is only about to rewrite train.log; a
        previous attempt's log (say, the diverged run being resumed) must not be judged
        again. Such a log is ignored until it is rewritten (modified, truncated, replaced).
        """
        if self.pid is None or not self.log.is_file():
            return None
        st = os.stat(self.log)
        started = process_start_time(self.pid)
        return st if started is not None and st.st_mtime < started - 1.0 else None

    def _reset(self) -> None:
        self.parser = TrainLogParser(self.log)
        self.detector = DivergenceDetector(self.detector.th)
        self._last_record = None

    def run(self) -> int:
        who = f"PID {self.pid}" if self.pid is not None else "a finished run"
        self.say("INFO", f"following {self.log} ({who}); stop_on_divergence={str(self.stop).lower()}; "
                         f"findings also go to {self.out}")
        fh = None
        pos, buf = 0, ""
        stop_pending_since: float | None = None
        stale = self._stale_log()
        if stale is not None:
            self.say("INFO", f"{self.log} predates PID {self.pid} (an earlier job's log); "
                             "waiting for the job to rewrite it")
        while True:
            alive = self.pid is not None and pid_alive(self.pid)
            if stale is not None and self.log.is_file():
                st = os.stat(self.log)
                if (st.st_ino, st.st_size, st.st_mtime) != (stale.st_ino, stale.st_size, stale.st_mtime):
                    stale = None  # rewritten by the new job: read it from the start
            if fh is None and stale is None and self.log.is_file():
                fh = open(self.log, errors="replace")
            if fh is not None:
                st = os.stat(self.log) if self.log.exists() else None
                replaced = st is not None and st.st_ino != os.fstat(fh.fileno()).st_ino
                if replaced:
                    fh.close()
                    fh = open(self.log, errors="replace")
                if replaced or os.fstat(fh.fileno()).st_size < pos:  # rewritten: start over
                    fh.seek(0)
                    pos, buf = 0, ""
                    self._reset()
                chunk = fh.read()
                pos = fh.tell()
                buf += chunk
                *lines, buf = buf.split("\n")
                for line in lines:
                    self._feed_line(line)
            if self.stop and self.detector.diverged and not self.stopped and alive:
                if self._saving_checkpoint() and (
                    stop_pending_since is None or time.monotonic() - stop_pending_since < self.checkpoint_wait
                ):
                    if stop_pending_since is None:
                        stop_pending_since = time.monotonic()
                        self.say("INFO", "an epoch checkpoint is being written; stopping once it is saved")
                else:
                    self._stop_training()
            if not alive:
                if buf:
                    self._feed_line(buf)
                break
            time.sleep(self.poll)
        if fh is not None:
            fh.close()
        return self._finish()

    def _stop_training(self) -> None:
        assert self.pid is not None
        tree = descendants(self.pid)
        for p in [self.pid, *tree]:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.stopped = True
        done = [e for e in self.parser.log.epochs]
        ckpt = self.log.parent / "checkpoint.pth"
        if done:
            kept = (f"the last complete epoch checkpoint is kept: {ckpt} (epoch {done[-1].epoch}); "
                    "resume from it with --resume true")
        else:
            kept = "no epoch had completed, so there is no checkpoint to keep"
        self.say("DIVERGENCE", f"stopping the training: sent SIGTERM to PID {self.pid}"
                               + (f" and its descendants {tree}" if tree else "") + f"; {kept}")
        deadline = time.monotonic() + 30
        while pid_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def _finish(self) -> int:
        d = self.detector
        status = EXIT_STOPPED if self.stopped else EXIT_DIVERGED if d.diverged else EXIT_OK
        verdict = {EXIT_OK: "no divergence", EXIT_DIVERGED: "DIVERGED (run not stopped)",
                   EXIT_STOPPED: "DIVERGED (run stopped)"}[status]
        kinds = f" [{', '.join(sorted(d.diverged))}]" if d.diverged else ""
        self.say("INFO", f"done: {verdict}{kinds}; {d.n_spikes} spikes, {d.n_skipped} skipped updates, "
                         f"{d.step} iterations seen; exit {status}")
        return status


# ----------------------------------------------------------------------------- CLI
def str2bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    th = Thresholds()
    parser.add_argument("--log", required=True, help="the ESPnet train.log to follow")
    parser.add_argument("--follow-pid", "--follow_pid", dest="follow_pid", type=int, default=None,
                        help="training process: follow the log while it lives (default: check the log once)")
    parser.add_argument("--stop_on_divergence", "--stop-on-divergence", type=str2bool, default=False,
                        metavar="true|false", help="SIGTERM the training on divergence (default false)")
    parser.add_argument("--out", default=None, help="findings file (default: <log dir>/monitor.log)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between reads (default 1)")
    parser.add_argument("--checkpoint_wait", "--checkpoint-wait", type=float, default=120.0,
                        help="max seconds to wait for an epoch checkpoint save before stopping")
    for key, help_text in (
        ("spike_factor", "spike: grad norm > k x trailing median"),
        ("spike_window", "trailing median window (logged points)"),
        ("spike_min_history", "points before spikes can be flagged"),
        ("sustained_spikes", "spikes within --sustained_window that mean divergence"),
        ("sustained_window", "logged grad norms considered for sustained spikes"),
        ("max_nonfinite", "skipped updates within --nonfinite_window that mean divergence"),
        ("nonfinite_window", "iterations considered for non-finite updates"),
        ("loss_rise_factor", "loss median rising above this x its best means divergence"),
        ("loss_window", "intervals in the trailing loss median"),
    ):
        default = getattr(th, key)
        parser.add_argument(f"--{key}", f"--{key.replace('_', '-')}", dest=key, type=type(default),
                            default=default, help=f"{help_text} (default {default})")


def run(args: argparse.Namespace) -> int:
    th = Thresholds(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Thresholds)})
    try:
        th.check()
        spikes_mod._check(th.spike_factor, th.spike_window, th.spike_min_history)
    except ValueError as err:
        print(f"monitor: {err}", file=sys.stderr)
        return EXIT_USAGE
    log = Path(args.log)
    if args.follow_pid is None and not log.is_file():
        print(f"monitor: {log}: no such file (without --follow-pid the log must exist)", file=sys.stderr)
        return EXIT_USAGE
    if args.follow_pid is not None and not pid_alive(args.follow_pid) and not log.is_file():
        print(f"monitor: process {args.follow_pid} is not running and {log} does not exist", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out) if args.out else log.parent / "monitor.log"
    return Monitor(log, args.follow_pid, args.stop_on_divergence, out, th, args.poll,
                   args.checkpoint_wait).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.analysis.monitor",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
