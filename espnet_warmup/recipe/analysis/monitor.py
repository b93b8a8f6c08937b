"""Live divergence monitor: follows an ESPnet ``train.log`` beside the training job.

Two ways to run it::

    # run mode: the monitor starts the training command and owns its exit status (what asr.sh uses)
    python -m espnet_warmup.recipe.analysis.monitor --log exp/asr_x/train.log --out exp/asr_x/monitor.log \\
        --stop_on_divergence true|false --child_log exp/asr_x/launch.log -- <command ...>
    # follow mode: beside a job started by someone else
    python -m espnet_warmup.recipe.analysis.monitor --log exp/asr_x/train.log --follow-pid <PID> \\
        [--stop_on_divergence true|false]          # also: espnet-warmup monitor ...

While the job lives, new lines of the log are parsed as ESPnet writes them
(:class:`espnet_warmup.recipe.analysis.logs.TrainLogParser`, read through
:class:`espnet_warmup.recipe.analysis.follow.LogFollower`) and judged by the rules of
:mod:`espnet_warmup.recipe.analysis.divergence` (grad-norm spikes and skipped non-finite updates
are warnings; sustained spikes, repeated non-finite updates, a rising loss and ESPnet's own
"all steps invalid" stop are DIVERGENCE). Every finding is written to stderr *and* appended to
``<log dir>/monitor.log`` (``--out``).

With ``--stop_on_divergence true`` the monitor then stops the run: it sends SIGTERM to the job
and its descendants (so a ``run.pl``/``slurm.pl`` wrapper and DDP workers stop too;
:func:`espnet_warmup.recipe.analysis.procs.signal_tree`). ESPnet writes ``checkpoint.pth`` only
at the end of an epoch, so the last *complete* epoch checkpoint is what is kept; if the
divergence is seen while that checkpoint is being written (after an ``Nepoch results`` line),
the monitor waits for the next line (the save has finished) before signalling, so the
checkpoint is never cut in half. Resume with ``--resume true`` from ``checkpoint.pth`` (e.g.
after lowering the peak LR).

A log last written before the job started (a previous attempt's, e.g. the diverged run being
resumed) is not judged: the monitor waits until the job rewrites it.

Run mode (a command after ``--``, :mod:`espnet_warmup.recipe.analysis.child`): the command runs
with its stdout and stderr in ``--child_log`` (default: the monitor's own), stdin from /dev/null,
in a session of its own (so a Ctrl-C at the terminal reaches the monitor, which passes it on,
not the job directly). A SIGTERM or SIGINT to the monitor is passed on to the command's process tree; the monitor
waits for the command to end and exits 128 + the signal number.

Exit status:

* run mode: 4 divergence seen and the run stopped; else the command's exit status (128 + N
  when it died of signal N; 127/126 when it could not be started); 128 + N after the monitor
  itself got signal N;
* follow mode: 0 no divergence; 3 divergence seen (not stopped); 4 divergence seen and the run
  stopped. Without ``--follow-pid`` the log is checked once, as it is;
* 2 bad thresholds or a log that cannot be followed; a malformed command line exits 1
  (Kaldi's convention, :class:`espnet_warmup.options.KaldiArgumentParser`).

Cost: one ``read()`` of the new bytes of the log per ``--poll`` seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from espnet_warmup.options import KaldiArgumentParser, str_to_bool
from espnet_warmup.recipe.analysis.child import (EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, SignalRelay,
                                                 describe_status, exit_status, start_command)
from espnet_warmup.recipe.analysis.divergence import DivergenceDetector, Finding, Thresholds
from espnet_warmup.recipe.analysis.follow import LogFollower
from espnet_warmup.recipe.analysis.logs import EpochResult, TrainLogParser
from espnet_warmup.recipe.analysis.procs import pid_alive, process_start_time, signal_tree

EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_STOPPED = 0, 2, 3, 4


class Monitor:
    """Follows a log file; writes findings; optionally stops the training process tree.

    The job is ``pid`` (follow mode: a process someone else started; None: check a finished
    log once) or ``child`` (run mode: the command the monitor started; ``pid`` is its PID).
    """

    def __init__(self, log: Path, pid: int | None, stop: bool, out: Path, th: Thresholds,
                 poll: float = 1.0, checkpoint_wait: float = 120.0, stream=None,
                 child: subprocess.Popen | None = None, child_started: float | None = None,
                 relay: SignalRelay | None = None):
        self.log, self.stop, self.out = log, stop, out
        self.child = child
        self.pid = child.pid if child is not None else pid
        self.detector = DivergenceDetector(th)
        self.parser = TrainLogParser(log)
        self.poll, self.checkpoint_wait = poll, checkpoint_wait
        self.stream = stream or sys.stderr
        self.findings: list[Finding] = []
        self.stopped = False
        self.relay = relay  # run mode: signals to the monitor, passed on to the child
        self._last_record: object | None = None
        self._stop_pending_since: float | None = None
        # asr.sh starts the monitor while run.pl is only about to rewrite train.log; a previous
        # attempt's log (say, the diverged run being resumed) must not be judged again.
        started = child_started if child is not None else (
            process_start_time(self.pid) if self.pid is not None else None)
        self.follower = LogFollower(log, written_after=started)

    # -- output ------------------------------------------------------------------
    def say(self, level: str, message: str) -> None:
        line = f"{datetime.now():%Y-%m-%d %H:%M:%S} (monitor) {level}: {message}"
        print(line, file=self.stream, flush=True)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with open(self.out, "a") as f:
            f.write(line + "\n")

    # -- the log -----------------------------------------------------------------
    def _feed_line(self, line: str, complete: bool = True) -> None:
        rec = self.parser.feed(line, complete=complete)
        if rec is not None:
            self._last_record = rec
        elif "epoch started" in line or "The training was finished" in line:
            self._last_record = None  # the epoch-end checkpoint has been written
        for f in self.detector.feed(rec, line):
            self.findings.append(f)
            self.say(f.level, f.message)

    def _read_log(self) -> None:
        restarted, lines = self.follower.read()
        if restarted:  # the job rewrote the log: judge the new one from its start
            self.parser = TrainLogParser(self.log)
            self.detector = DivergenceDetector(self.detector.th)
            self._last_record = None
        for line in lines:
            self._feed_line(line)

    def _saving_checkpoint(self) -> bool:
        return isinstance(self._last_record, EpochResult)

    # -- the job -----------------------------------------------------------------
    def _job_alive(self) -> bool:
        if self.child is not None:
            return self.child.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    @property
    def signalled(self) -> int | None:
        """The signal the monitor got and passed on to the child (run mode), if any."""
        return self.relay.received if self.relay is not None else None

    def _stop_when_safe(self) -> None:
        """Stop the diverged run, but not in the middle of an epoch-checkpoint save (waits up
        to ``checkpoint_wait`` seconds for the line that follows the save)."""
        if self._saving_checkpoint():
            now = time.monotonic()
            if self._stop_pending_since is None:
                self._stop_pending_since = now
                self.say("INFO", "an epoch checkpoint is being written; stopping once it is saved")
                return
            if now - self._stop_pending_since < self.checkpoint_wait:
                return
        self._stop_training()

    def _stop_training(self) -> None:
        assert self.pid is not None
        tree = signal_tree(self.pid, signal.SIGTERM)
        self.stopped = True
        epochs = self.parser.log.epochs
        ckpt = self.log.parent / "checkpoint.pth"
        if epochs:
            kept = (f"the last complete epoch checkpoint is kept: {ckpt} (epoch {epochs[-1].epoch}); "
                    "resume from it with --resume true")
        else:
            kept = "no epoch had completed, so there is no checkpoint to keep"
        self.say("DIVERGENCE", f"stopping the training: sent SIGTERM to PID {self.pid}"
                               + (f" and its descendants {tree}" if tree else "") + f"; {kept}")
        deadline = time.monotonic() + 30
        while pid_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    # -- the loop ----------------------------------------------------------------
    def run(self) -> int:
        if self.child is not None:
            who = f"PID {self.pid}: {shlex.join(self.child.args)}"
        else:
            who = f"PID {self.pid}" if self.pid is not None else "a finished run"
        self.say("INFO", f"following {self.log} ({who}); stop_on_divergence={str(self.stop).lower()}; "
                         f"findings also go to {self.out}")
        if self.follower.stale:
            self.say("INFO", f"{self.log} predates PID {self.pid} (an earlier job's log); "
                             "waiting for the job to rewrite it")
        try:
            while True:
                alive = self._job_alive()
                self._read_log()
                if self.relay is not None and self.relay.note:
                    note, self.relay.note = self.relay.note, None
                    self.say("INFO", note)
                # Once a signal has been passed on, the run is ending anyway: no stop of our own.
                if self.stop and self.detector.diverged and not self.stopped and self.signalled is None and alive:
                    self._stop_when_safe()
                if not alive:
                    if rest := self.follower.rest():  # cut mid-line by the job's end: not a record
                        self._feed_line(rest, complete=False)
                    break
                time.sleep(self.poll)
        finally:
            self.follower.close()
        return self._finish()

    def _status(self) -> int:
        # A stop of ours comes before any signal (none is made after one), so it wins.
        if self.stopped:
            return EXIT_STOPPED
        if self.signalled is not None:
            return 128 + self.signalled
        if self.child is not None:
            return exit_status(self.child.wait())
        return EXIT_DIVERGED if self.detector.diverged else EXIT_OK

    def _finish(self) -> int:
        d = self.detector
        status = self._status()
        diverged = EXIT_STOPPED if self.stopped else EXIT_DIVERGED if d.diverged else EXIT_OK
        verdict = {EXIT_OK: "no divergence", EXIT_DIVERGED: "DIVERGED (run not stopped)",
                   EXIT_STOPPED: "DIVERGED (run stopped)"}[diverged]
        kinds = f" [{', '.join(sorted(d.diverged))}]" if d.diverged else ""
        job = f"; the command {describe_status(self.child.wait())}" if self.child is not None else ""
        self.say("INFO", f"done: {verdict}{kinds}; {d.n_spikes} spikes, {d.n_skipped} skipped updates, "
                         f"{d.step} iterations seen{job}; exit {status}")
        return status


# ----------------------------------------------------------------------------- run mode
def run_command(command: list[str], log: Path, out: Path, stop: bool, th: Thresholds,
                child_log: Path | None = None, poll: float = 1.0, checkpoint_wait: float = 120.0) -> int:
    """Run mode: start ``command``, follow ``log`` while it runs; return the exit status
    (see the module docstring)."""
    with SignalRelay() as relay:
        started = time.time()
        try:
            child = start_command(command, child_log)
        except OSError as err:
            print(f"monitor: cannot run {command[0]!r}: {err.strerror or err}", file=sys.stderr)
            return EXIT_NOT_FOUND if isinstance(err, FileNotFoundError) else EXIT_NOT_EXECUTABLE
        relay.attach(child)
        return Monitor(log, None, stop, out, th, poll, checkpoint_wait, child=child, child_started=started,
                       relay=relay).run()


# ----------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    th = Thresholds()
    parser.add_argument("--log", required=True, help="the ESPnet train.log to follow")
    parser.add_argument("--follow_pid", dest="follow_pid", type=int, default=None,
                        help="training process: follow the log while it lives (default: check the log once)")
    parser.add_argument("--stop_on_divergence", type=str_to_bool, default=False,
                        metavar="true|false", help="SIGTERM the training on divergence (default false)")
    parser.add_argument("--out", default=None, help="findings file (default: <log dir>/monitor.log)")
    parser.add_argument("--child_log", default=None,
                        help="run mode: the command's stdout and stderr (default: the monitor's)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between reads (default 1)")
    parser.add_argument("--checkpoint_wait", type=float, default=120.0,
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
        parser.add_argument(f"--{key}", dest=key, type=type(default), default=default,
                            help=f"{help_text} (default {default})")
    # dest is not "command": espnet_warmup.cli keeps the subcommand's name there
    parser.add_argument("child_command", nargs="*", metavar="-- COMMAND",
                        help="run mode: the training command to start and follow (after --)")


def run(args: argparse.Namespace) -> int:
    th = Thresholds(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Thresholds)})
    try:
        th.check()
    except ValueError as err:
        print(f"monitor: {err}", file=sys.stderr)
        return EXIT_USAGE
    log = Path(args.log)
    out = Path(args.out) if args.out else log.parent / "monitor.log"
    if args.child_command:
        if args.follow_pid is not None:
            print("monitor: give either --follow_pid PID or a command after --, not both", file=sys.stderr)
            return EXIT_USAGE
        return run_command(args.child_command, log, out, args.stop_on_divergence, th,
                           Path(args.child_log) if args.child_log else None, args.poll, args.checkpoint_wait)
    if args.child_log is not None:
        print("monitor: --child_log needs a command to run (after --)", file=sys.stderr)
        return EXIT_USAGE
    if args.follow_pid is None and not log.is_file():
        print(f"monitor: {log}: no such file (without --follow-pid the log must exist)", file=sys.stderr)
        return EXIT_USAGE
    if args.follow_pid is not None and not pid_alive(args.follow_pid) and not log.is_file():
        print(f"monitor: process {args.follow_pid} is not running and {log} does not exist", file=sys.stderr)
        return EXIT_USAGE
    return Monitor(log, args.follow_pid, args.stop_on_divergence, out, th, args.poll,
                   args.checkpoint_wait).run()


def main(argv: list[str] | None = None) -> int:
    parser = KaldiArgumentParser(prog="python -m espnet_warmup.recipe.analysis.monitor",
                                 description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
