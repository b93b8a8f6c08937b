"""``run.pl``: run a Kaldi-style job (or job array) on this machine.

Usage::

    run.pl [options] [JOB=a:b] <log> <command...>

Each task runs ``bash -c <command>`` with JOB replaced by its id, stdout and stderr appended
to its own log between Kaldi's header and trailer (see :mod:`.common`). Up to
``--max-jobs-run`` tasks run at once (default: the number of CPUs; as in Kaldi, if the
array is at most 1.4x that, all tasks start at once). Exit status 0 iff every task
succeeded; else ``run.pl: k / n failed, log is in <log with JOB -> *>`` and exit 1.

Options:
  --max-jobs-run N, -tc N  at most N tasks at a time (repeated: the smallest wins)
  --gpu N                  with N > 0 the default concurrency is the number of GPUs
                           (``nvidia-smi -L``; 1 if that fails), as in Kaldi
  --num_nodes N            only 1 is possible: run.pl cannot submit to other nodes
  any other ``--opt value`` (``--mem``, ``--num_threads``, ``--name``, ``--time``,
  ``--config``...) is accepted and ignored, so one cmd.sh line works with every launcher.

SIGTERM/SIGINT/SIGHUP are passed on to every running task's whole tree (its process group and
any descendant that left it); after a grace of a few seconds what is left is killed (SIGKILL).
Each task's log gets its trailer (``# Ended (code 143; signal 15)``), tasks not yet started are
not started, and run.pl exits 128 + the signal number.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from espnet_warmup.recipe.analysis.procs import descendants, ignores_signal, pid_alive, start_ticks
from espnet_warmup.recipe.launchers.common import (
    JobRequest,
    UsageError,
    exit_status,
    ignore_stop_signals,
    launcher_main,
    log_header,
    log_trailer,
    positive_int,
    stop_requests,
)

PROG = "run.pl"
#: Seconds a task gets to exit after SIGTERM before it is killed.
_KILL_GRACE_S = 5.0


def _gpu_count() -> int:
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
        count = sum(1 for line in out.stdout.splitlines() if line.strip())
        return count if out.returncode == 0 and count > 0 else 1
    except (OSError, subprocess.SubprocessError):
        return 1


def max_concurrency(request: JobRequest) -> int:
    """How many tasks may run at once, from the options (Kaldi run.pl's rules)."""
    limits = [positive_int("--max-jobs-run", v) for v in request.values("max_jobs_run")]
    if limits:
        return min(limits)
    gpu = request.option("gpu", "0")
    if gpu not in ("", "0"):
        return _gpu_count()
    cpus = os.cpu_count() or 10
    n_jobs = len(request.ids)
    # Kaldi: an array only slightly larger than the CPU count runs all at once
    # (it finishes sooner than a second, nearly empty wave would).
    return n_jobs if cpus < n_jobs <= 1.4 * cpus else cpus


def check_options(request: JobRequest) -> None:
    """Refuse what run.pl cannot do; every other option is ignored by design."""
    for value in request.values("num_nodes"):
        if positive_int("--num_nodes", value) > 1:
            raise UsageError(
                f"--num_nodes {value}: run.pl runs jobs on this machine only and cannot "
                "submit to other nodes; use slurm.pl (cmd_backend=slurm in cmd.sh) for "
                "multi-node jobs"
            )


class _Task:
    """One running task: its process, log and start time."""

    def __init__(self, task_id: int, command: str, log: str):
        self.task_id, self.command, self.log = task_id, command, log
        log_dir = os.path.dirname(log)
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        self.started = time.time()
        #: PID -> start time (clock ticks) of every descendant seen when signalling the task
        self.tree: dict[int, str | None] = {}
        with open(log, "w", encoding="utf-8") as f:
            f.write(log_header(command, self.started))
        with open(log, "ab") as out:
            # Own session: a terminal's Ctrl-C reaches only run.pl, which then kills
            # each task's whole process group (pipelines included).
            self.proc = subprocess.Popen(
                ["bash", "-c", command], stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def finish(self, wait_status: int) -> int:
        """Write the trailer for a raw wait() status; return the exit code."""
        signum = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None
        code = 128 + signum if signum else os.WEXITSTATUS(wait_status)
        self.proc.returncode = code  # reaped by os.wait(); keep Popen from waiting again
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(log_trailer(code, time.time() - self.started, signal=signum))
        return code

    def signal_tree(self, signum: int) -> None:
        """Send ``signum`` to the task's process group and to every descendant (one that started
        a session of its own, e.g. a nested run.pl's task, is not in the group); a process that
        ignores ``signum`` (SIGINT, in a shell's background job) gets SIGTERM. The descendants
        are remembered, so that a SIGKILL later still reaches the ones their parent left behind."""
        for pid in descendants(self.proc.pid):
            self.tree.setdefault(pid, start_ticks(pid))
        try:
            os.killpg(self.proc.pid, signum)
        except ProcessLookupError:
            pass
        for pid, ticks in self.tree.items():
            if start_ticks(pid) != ticks:  # ended (its PID may be another process's now)
                continue
            try:
                os.kill(pid, signal.SIGTERM if signum != signal.SIGKILL and ignores_signal(pid, signum)
                        else signum)
            except ProcessLookupError:
                pass


def _reap_one(running: dict[int, _Task], block: bool) -> tuple[_Task, int] | None:
    pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
    if pid == 0 or pid not in running:
        return None
    task = running.pop(pid)
    return task, task.finish(status)


def _kill_all(running: dict[int, _Task], signum: int = signal.SIGTERM) -> list[_Task]:
    """Pass ``signum`` on to every running task's tree, wait (at most :data:`_KILL_GRACE_S`) for the
    tasks to end, SIGKILL what is left (descendants included) and reap every task; return them."""
    tasks = list(running.values())
    for task in tasks:
        task.signal_tree(signum)
    deadline = time.time() + _KILL_GRACE_S
    while running and time.time() < deadline:
        if _reap_one(running, block=False) is None:
            time.sleep(0.05)
    for task in running.values():
        task.signal_tree(signal.SIGKILL)
    while running:
        _reap_one(running, block=True)
    # A descendant the task's death left to init (it ignored the signal) must not outlive run.pl.
    for task in tasks:
        for pid, ticks in task.tree.items():
            if pid_alive(pid) and start_ticks(pid) == ticks:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    return tasks


#: Seconds between checks for finished tasks (and for a signal to act on).
_POLL_S = 0.1


def run(request: JobRequest) -> int:
    """Run all tasks; return the launcher's exit status."""
    check_options(request)
    limit = max_concurrency(request)
    command = request.command_string()
    pending = list(request.ids)
    running: dict[int, _Task] = {}
    failed: list[int] = []
    with stop_requests() as stop:
        while (pending or running) and stop.signum is None:
            while pending and len(running) < limit and stop.signum is None:
                task_id = pending.pop(0)
                log = request.for_task(request.log, task_id)
                try:
                    task = _Task(task_id, request.for_task(command, task_id), log)
                except OSError as err:
                    _kill_all(running)
                    print(f"{PROG}: cannot start job {task_id} with log {log}: {err}",
                          file=sys.stderr)
                    return 1
                running[task.proc.pid] = task
            reaped = _reap_one(running, block=False) if running else None
            if reaped is None:
                time.sleep(_POLL_S)
            elif reaped[1] != 0:
                failed.append(reaped[0].task_id)
        if stop.signum is not None:
            ignore_stop_signals()  # so that the children are always reaped
            n_running = len(running)
            _kill_all(running, stop.signum)
            print(f"{PROG}: interrupted by signal {stop.signum}; killed {n_running} running "
                  f"job(s), {len(pending)} not started", file=sys.stderr)
            return 128 + stop.signum
    return exit_status(PROG, request, failed)


def main(argv: list[str] | None = None) -> int:
    return launcher_main(PROG, __doc__, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
