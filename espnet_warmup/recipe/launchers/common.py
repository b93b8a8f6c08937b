"""The Kaldi job-launcher interface shared by ``run.pl`` and ``slurm.pl``.

Command line (Kaldi's ``utils/run.pl``/``queue.pl``/``slurm.pl``)::

    <launcher> [options] [JOB=a:b | JOB=n] <log> <command...>

- Options and the ``JOB=`` range may be interleaved. An option is ``--name value``
  (or ``--name=value``); ``--foo-bar`` and ``--foo_bar`` are the same option. ``-tc N`` is
  ``--max-jobs-run N``; ``-V`` takes no value and ``-pe ENV N`` takes two.
- ``JOB`` may be any identifier. Ids are 1-based: both bounds must be >= 1 and a <= b.
- The identifier is replaced by the task id (a plain global substitution, as in Kaldi)
  in the command and in the log path. An array (b > a) whose log path lacks the
  identifier would make all tasks write one file: that is an error.
- Command words are joined with spaces and the string is run by bash, so quoted
  pipes (``\\|``) work. A word containing whitespace is quoted: ``'...'`` if it
  contains ``"``, otherwise ``"..."`` (Kaldi's rule, so ``$VAR`` inside such a word is
  still expanded by bash, as users of Kaldi expect).

Every task's log gets Kaldi's header and trailer::

    # <command after JOB substitution>
    # Started at <date>
    #
    <stdout and stderr of the command>
    # Accounting: time=<s> threads=<n>
    # Ended (code <exit>) at <date>, elapsed time <s> seconds

The launcher exits 0 only if every task succeeded; otherwise it prints
``<launcher>: k / n failed, log is in <log with JOB -> *>`` and exits 1.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from espnet_warmup.recipe.analysis.procs import STOP_SIGNALS as _STOP_SIGNALS
from espnet_warmup.recipe.analysis.procs import catchable_stop_signals

#: ``JOB=a:b`` or ``JOB=n``; the identifier is Kaldi's (letters, digits, underscore).
_JOB_RANGE = re.compile(r"^([A-Za-z_]\w*)=(\d+)(?::(\d+))?$")
#: The last line of a finished task's log. Kaldi's run.pl writes "Ended (code N)";
#: Kaldi's queue.pl/slurm.pl write "... with status N": accept both.
_ENDED = re.compile(r"^# Ended \(code (-?\d+)(?:; signal (\d+))?\)")
_FINISHED = re.compile(r"^# Finished at .* with status (-?\d+)")

#: Options that take no value, and ones that take two (SGE's "-pe smp N").
_FLAG_OPTIONS = {"-V"}
_TWO_VALUE_OPTIONS = {"-pe"}
#: Short aliases, as in Kaldi.
_ALIASES = {"tc": "max_jobs_run"}


class UsageError(Exception):
    """A bad command line or configuration: printed as ``<launcher>: <message>``, exit 1."""


@dataclasses.dataclass(frozen=True)
class JobRange:
    """``JOB=a:b``: the identifier and the inclusive, 1-based task-id range."""

    name: str
    start: int
    end: int

    @property
    def ids(self) -> range:
        return range(self.start, self.end + 1)

    @property
    def is_array(self) -> bool:
        return self.end > self.start


@dataclasses.dataclass
class JobRequest:
    """A parsed launcher command line.

    ``options`` keeps the order given (name normalised: no dashes, ``-`` -> ``_``);
    ``flags`` holds value-less single-dash options such as ``-V``.
    """

    options: list[tuple[str, str]]
    flags: list[str]
    job: JobRange | None
    log: str
    command: list[str]

    def option(self, name: str, default: str | None = None) -> str | None:
        """The last value given for ``name`` (or ``default``)."""
        value = default
        for key, val in self.options:
            if key == name:
                value = val
        return value

    def values(self, name: str) -> list[str]:
        return [val for key, val in self.options if key == name]

    @property
    def ids(self) -> range:
        return self.job.ids if self.job else range(1, 2)

    def command_string(self) -> str:
        return quote_command(self.command)

    def for_task(self, text: str, task_id: int) -> str:
        """``text`` with the JOB identifier replaced by ``task_id`` (unchanged without a range)."""
        return substitute(text, self.job.name, str(task_id)) if self.job else text

    def log_pattern(self) -> str:
        """The log path with the JOB identifier turned into ``*``, for failure messages."""
        return substitute(self.log, self.job.name, "*") if self.job else self.log


def parse_job_range(text: str) -> JobRange | None:
    """Parse ``JOB=a:b`` / ``JOB=n``; None if ``text`` is not a range at all.

    Raises UsageError for a range with bounds < 1 or a > b.
    """
    match = _JOB_RANGE.match(text)
    if not match:
        return None
    name, start = match.group(1), int(match.group(2))
    end = int(match.group(3)) if match.group(3) is not None else start
    if start < 1 or end < 1:
        raise UsageError(f"invalid job range '{text}': job ids start at 1")
    if start > end:
        raise UsageError(f"invalid job range '{text}': the first id is larger than the last")
    return JobRange(name, start, end)


def normalise_option(switch: str) -> str:
    """``--max-jobs-run`` -> ``max_jobs_run``; ``-tc`` -> ``max_jobs_run``."""
    name = switch.lstrip("-").replace("-", "_")
    return _ALIASES.get(name, name)


def parse_command_line(argv: list[str]) -> JobRequest:
    """Split ``[options] [JOB=a:b] <log> <command...>`` (options and JOB= interleaved).

    Parsing stops at the first word that is neither an option nor (the first) JOB range:
    that word is the log, everything after it the command.
    """
    options: list[tuple[str, str]] = []
    flags: list[str] = []
    job: JobRange | None = None
    i = 0
    while i < len(argv):
        word = argv[i]
        if job is None:
            maybe_job = parse_job_range(word)
            if maybe_job is not None:
                job = maybe_job
                i += 1
                continue
        if len(word) < 2 or not word.startswith("-"):
            break
        if word in _FLAG_OPTIONS:
            flags.append(word)
            i += 1
        elif word in _TWO_VALUE_OPTIONS:
            if i + 2 >= len(argv):
                raise UsageError(f"option {word} needs two values")
            options.append((normalise_option(word), f"{argv[i + 1]} {argv[i + 2]}"))
            i += 3
        elif word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
            options.append((normalise_option(name), value))
            i += 1
        else:
            if i + 1 >= len(argv):
                raise UsageError(f"option {word} needs a value")
            options.append((normalise_option(word), argv[i + 1]))
            i += 2
    rest = argv[i:]
    if len(rest) < 2:
        raise UsageError("expected a log file and a command after the options")
    log, command = rest[0], rest[1:]
    if job is not None and job.is_array and job.name not in log:
        raise UsageError(
            "you are trying to run a parallel job but you are putting the output into just "
            f"one log file ({log}): the log name must contain {job.name}"
        )
    return JobRequest(options=options, flags=flags, job=job, log=log, command=command)


def quote_command(words: list[str]) -> str:
    """Join command words for bash as Kaldi does (see the module docstring)."""
    parts = []
    for word in words:
        if word and not re.search(r"\s", word):
            parts.append(word)
        elif '"' in word:
            parts.append(f"'{word}'")
        else:
            parts.append(f'"{word}"')
    return " ".join(parts)


def substitute(text: str, name: str, value: str) -> str:
    """Replace every occurrence of the JOB identifier ``name`` in ``text`` (Kaldi: s/JOB/id/g)."""
    return text.replace(name, value)


def date_string(when: float | None = None) -> str:
    """The time as ``date`` prints it (e.g. ``Sun Nov 22 22:34:49 UTC 2026``)."""
    return time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(when))


def log_header(command: str, started: float | None = None) -> str:
    return f"# {command}\n# Started at {date_string(started)}\n#\n"


def log_trailer(code: int, elapsed: float, *, threads: int = 1, signal: int | None = None,
                ended: float | None = None) -> str:
    """Kaldi's run.pl trailer. ``code`` is the command's exit status; ``signal`` is set
    when the task was killed by a signal."""
    seconds = int(round(elapsed))
    status = f"code {code}" + (f"; signal {signal}" if signal else "")
    return (
        f"# Accounting: time={seconds} threads={threads}\n"
        f"# Ended ({status}) at {date_string(ended)}, elapsed time {seconds} seconds\n"
    )


def read_exit_status(log_path: str, tail_bytes: int = 4096) -> int | None:
    """The exit status recorded in a log's trailer, or None if the log has none (yet)."""
    try:
        with open(log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - tail_bytes))
            tail = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    for line in reversed(tail.splitlines()):
        match = _ENDED.match(line) or _FINISHED.match(line)
        if match:
            return int(match.group(1))
    return None


def failure_message(prog: str, request: JobRequest, failed: list[int]) -> str:
    """``run.pl: 2 / 4 failed, log is in exp/log/x.*.log`` (or the single-job form)."""
    total = len(request.ids)
    if request.job is not None and total > 1:
        return f"{prog}: {len(failed)} / {total} failed, log is in {request.log_pattern()}"
    log = request.for_task(request.log, failed[0]) if failed else request.log
    message = f"{prog}: job failed, log is in {log}"
    if request.job is None and "JOB" in log:
        message += (
            f"\n{prog}: note: the log name contains JOB but no JOB=a:b range was given, "
            "so JOB was not replaced"
        )
    return message


def positive_int(prog_option: str, value: str) -> int:
    """Parse a positive integer option value or raise UsageError naming the option."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise UsageError(f"{prog_option} must be a positive integer, got '{value}'")
    return number


#: What stops a launcher early: Ctrl-C, kill, scancel of the launcher's own job, a closed terminal
#: (the same set the monitor and asr.sh pass on).
STOP_SIGNALS = _STOP_SIGNALS


class Interrupted(Exception):
    """The launcher got ``signum`` (one of :data:`STOP_SIGNALS`) while its jobs ran."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def signals_interrupt() -> Iterator[tuple[int, ...]]:
    """While the block runs, the first of :data:`STOP_SIGNALS` raises :class:`Interrupted` (so the
    launcher can stop its jobs before it exits 128 + N); the previous handlers are restored
    afterwards. Later ones are swallowed: asr.sh signals a whole tree, so a launcher may get the
    same signal twice (from asr.sh and from the monitor above it), and a second raise would
    break off the clean-up of the first."""
    raised: list[int] = []

    def handler(signum, _frame):
        if not raised:
            raised.append(signum)
            raise Interrupted(signum)

    caught = catchable_stop_signals()  # SIGHUP stays ignored under nohup
    previous = {s: signal.signal(s, handler) for s in caught}
    try:
        yield caught
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


class StopRequest:
    """The first of :data:`STOP_SIGNALS` that arrived while :func:`stop_requests` was active
    (``signum``; None while none has). Recording it, instead of raising, keeps the bookkeeping
    between two system calls whole: a task reaped just before the signal still gets its trailer."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def _handle(self, signum, _frame) -> None:
        if self.signum is None:
            self.signum = signum


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """While the block runs, :data:`STOP_SIGNALS` are recorded in the yielded :class:`StopRequest`
    for the caller's loop to act on (it polls; a handler that returns lets a blocking call go
    on, PEP 475); the previous handlers are restored afterwards."""
    request = StopRequest()
    previous = {s: signal.signal(s, request._handle) for s in catchable_stop_signals()}
    try:
        yield request
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def ignore_stop_signals() -> None:
    """Ignore further :data:`STOP_SIGNALS` (while cleaning up after one, so the cleanup finishes)."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def exit_status(prog: str, request: JobRequest, failed: list[int]) -> int:
    """The launcher's exit status: 0 when every task succeeded, else 1 after Kaldi's failure
    line (:func:`failure_message`) on stderr."""
    if failed:
        print(failure_message(prog, request, sorted(failed)), file=sys.stderr)
        return 1
    return 0


def launcher_main(prog: str, usage: str, run, argv: list[str] | None) -> int:
    """Shared ``main`` of run.pl/slurm.pl: usage on no args or --help, UsageError -> exit 1."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage, file=sys.stderr)
        return 1 if not argv else 0
    try:
        return run(parse_command_line(argv))
    except UsageError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
