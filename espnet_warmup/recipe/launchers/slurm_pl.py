"""``slurm.pl``: run a Kaldi-style job (or job array) on a Slurm cluster and wait for it.

Usage::

    slurm.pl [options] [JOB=a:b] <log> <command...>

Options (mapped to sbatch flags through the conf file, see :mod:`.slurm_conf`):
  --config FILE            default conf/slurm.conf (relative to the current directory);
                           if that does not exist, a built-in conf is used
  --mem SIZE               e.g. 4G (per CPU with the usual ``--mem-per-cpu $0`` mapping)
  --num_threads N          CPUs per task (``-pe smp N`` is accepted too)
  --gpu N                  GPUs per task (the conf picks the partition and --gres)
  --time T, --name NAME, --num_nodes N, and any other option the conf describes
  --max-jobs-run N, -tc N  at most N array tasks at a time (sbatch --array a-b%N)
An option the conf does not describe is an error naming the option and the conf file.

What happens:
1. ONE job array is submitted with sbatch (``--array a-b[%N]``; a single job is an array of
   one task). The job script is written to ``<logdir>/q/<name>.sh`` (``.../log/q`` collapses
   to ``.../q``, as in Kaldi); Slurm's own output per task goes to ``<logdir>/q/<name>.<id>.log``.
2. Each task ``cd``s to the submit directory, sources ``./path.sh`` if present (Kaldi/ESPnet
   convention), writes Kaldi's log header (plus the SLURM_* variables), runs the command with
   JOB replaced by its id, writes the trailer and a sync file ``q/done.<jobid>.<id>``.
3. slurm.pl waits: it polls the sync files with backoff (0.1 s, x1.2, up to 3 s) and asks
   ``squeue`` every few seconds whether tasks without a sync file still exist.
4. Each task's status is read from its log trailer. A task without one (killed by Slurm) is
   explained from ``scontrol show job`` and Slurm's output; a task killed for exceeding its
   memory (Slurm OUT_OF_MEMORY, slurmstepd "exceeded memory limit", or exit 137) is reported
   as such. Failures: ``slurm.pl: k / n failed, log is in <log with JOB -> *>``, exit 1.
SIGTERM/SIGINT/SIGHUP while waiting cancel the job array with ``scancel`` (Slurm then sends SIGTERM
to every process of each task, SIGKILL after its KillWait), wait (at most
:data:`CANCEL_WAIT_S`) until ``squeue`` no longer lists it, and exit 128 + the signal number.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import subprocess
import sys
import time

from espnet_warmup.recipe.atomic import atomic_output
from espnet_warmup.recipe.launchers.common import (
    Interrupted,
    JobRequest,
    UsageError,
    exit_status,
    ignore_stop_signals,
    launcher_main,
    positive_int,
    read_exit_status,
    signals_interrupt,
)
from espnet_warmup.recipe.launchers.slurm_conf import SlurmConf, load_conf

PROG = "slurm.pl"
#: Seconds between squeue checks while waiting (sync files are polled more often).
SQUEUE_INTERVAL_S = 5.0
#: A task gone from squeue gets this long for its sync file/trailer to appear (NFS lag).
VANISHED_GRACE_S = 3.0
#: After scancel, how long slurm.pl waits for squeue to stop listing the job before it exits.
CANCEL_WAIT_S = 30.0
#: Options slurm.pl handles itself instead of through the conf.
_OWN_OPTIONS = {"config", "max_jobs_run", "pe"}
#: Words in Slurm's own task output that mean the memory limit killed the task.
_OOM_PATTERNS = re.compile(r"exceeded (job )?memory limit|oom[-_ ]kill|out of memory", re.I)


@dataclasses.dataclass
class Submission:
    """Everything needed to submit one job array: the sbatch argv and the job script."""

    argv: list[str]
    script_path: str
    script_text: str
    queue_dir: str
    slurm_output: str  # Slurm's own stdout/stderr per task ("%a" = task id)
    threads: int


def queue_dir_for(log: str) -> str:
    """``exp/x/log/a.JOB.log`` -> ``exp/x/q``; ``exp/x/a.JOB.log`` -> ``exp/x/q`` (Kaldi)."""
    log_dir = os.path.dirname(log) or "."
    if os.path.basename(log_dir) == "log":
        return os.path.join(os.path.dirname(log_dir) or ".", "q")
    return os.path.join(log_dir, "q")


def _base_name(request: JobRequest) -> str:
    """The log's file name without the JOB identifier: ``stats.JOB.log`` -> ``stats.log``."""
    base = os.path.basename(request.log)
    if request.job is not None:
        base = base.replace("." + request.job.name, "").replace(request.job.name, "")
    return base or "job.log"


def split_options(request: JobRequest) -> tuple[dict[str, str], str | None, int | None]:
    """(options for the conf, --config, --max-jobs-run) from the command line."""
    given: dict[str, str] = {}
    for name, value in request.options:
        if name == "pe":  # SGE style "-pe smp N"
            value = value.split()[-1]
            name = "num_threads"
        if name not in _OWN_OPTIONS:
            given[name] = value
    limits = [positive_int("--max-jobs-run", v) for v in request.values("max_jobs_run")]
    return given, request.option("config"), (min(limits) if limits else None)


def build_submission(request: JobRequest, conf: SlurmConf, given: dict[str, str],
                     max_jobs: int | None, cwd: str) -> Submission:
    """The sbatch command line and job script for ``request`` (pure: writes nothing)."""
    threads = positive_int("--num_threads", conf.value("num_threads", given) or "1")
    flags = conf.resolve(given)
    queue_dir = queue_dir_for(request.log)
    base = _base_name(request)
    stem = base[:-4] if base.endswith(".log") else base
    script_path = os.path.join(queue_dir, stem + ".sh")
    slurm_output = os.path.join(queue_dir, stem + ".%a.log")
    ids = request.ids
    array = f"{ids.start}-{ids.stop - 1}"
    if max_jobs is not None and request.job is not None and request.job.is_array:
        array += f"%{max_jobs}"
    argv = [*conf.command, *flags, "--open-mode=append", "-o", slurm_output, "-e", slurm_output,
            "--array", array, script_path]
    script_text = job_script(request, cwd=cwd, queue_dir=queue_dir, threads=threads,
                             submit_line=shlex.join(argv))
    return Submission(argv=argv, script_path=script_path, script_text=script_text,
                      queue_dir=queue_dir, slurm_output=slurm_output, threads=threads)


def job_script(request: JobRequest, *, cwd: str, queue_dir: str, threads: int,
               submit_line: str) -> str:
    """The bash script every array task runs (see the module docstring, step 2)."""
    job_name = request.job.name if request.job else "JOB"
    # Without a JOB range there is nothing to substitute: use a name that cannot occur.
    placeholder = job_name if request.job else "__SLURM_PL_NO_JOB__"
    q = shlex.quote
    return f"""#!/bin/bash
# Job script written by slurm.pl (espnet_warmup.recipe.launchers.slurm_pl); every Slurm array task
# runs it with its id in SLURM_ARRAY_TASK_ID, which replaces {job_name} below.
# Submitted with: {submit_line}
cd {q(os.path.abspath(cwd))} || exit 1
if [ -f ./path.sh ]; then . ./path.sh; fi
task=${{SLURM_ARRAY_TASK_ID:?not running as a Slurm array task}}
cmd_template={q(request.command_string())}
log_template={q(request.log)}
cmd=${{cmd_template//{placeholder}/$task}}
log=${{log_template//{placeholder}/$task}}
mkdir -p "$(dirname "$log")"
start=$(date +%s)
{{
  printf '# %s\\n' "$cmd"
  echo "# Started at $(date)"
  echo "# Running on $(hostname)"
  env | grep '^SLURM' | sort | sed 's/^/# /'
  echo "#"
}} > "$log"
# Some Slurm set-ups export this for jobs without GPUs; it confuses CUDA.
if [ "${{CUDA_VISIBLE_DEVICES:-}}" = NoDevFiles ]; then unset CUDA_VISIBLE_DEVICES; fi
# scancel/time limit send SIGTERM to every process of the task: let the command die, then
# still write the trailer (before Slurm's SIGKILL after KillWait).
trap 'echo "# slurm.pl: SIGTERM received (job cancelled or over its time limit)" >> "$log"' TERM
( eval "$cmd" ) >> "$log" 2>&1
ret=$?
end=$(date +%s)
echo "# Accounting: time=$((end - start)) threads={threads}" >> "$log"
echo "# Ended (code $ret) at $(date), elapsed time $((end - start)) seconds" >> "$log"
sync={q(os.path.abspath(queue_dir))}/done.${{SLURM_ARRAY_JOB_ID}}.$task
echo "$ret" > "$sync.tmp" && mv "$sync.tmp" "$sync"
exit $ret
"""


def write_script(path: str, text: str) -> None:
    """Write the job script atomically (:func:`espnet_warmup.recipe.atomic.atomic_output`: a
    resubmission never finds half a script) and make it executable (0755), before sbatch reads it."""
    with atomic_output(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def submit(sub: Submission) -> str:
    """Run sbatch; return the job id. Raises UsageError with sbatch's output on failure."""
    os.makedirs(sub.queue_dir, exist_ok=True)
    write_script(sub.script_path, sub.script_text)
    try:
        res = subprocess.run(sub.argv, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as err:
        raise UsageError(f"error submitting jobs to queue ({shlex.join(sub.argv)}): {err}") from None
    match = re.search(r"(?:Submitted batch job |^)(\d+)", res.stdout.strip(), re.M)
    if res.returncode != 0 or not match:
        raise UsageError(
            f"error submitting jobs to queue (return status was {res.returncode})\n"
            f"  command: {shlex.join(sub.argv)}\n  output: {(res.stdout + res.stderr).strip()}"
        )
    return match.group(1)


def _parse_task_ids(field: str) -> set[int]:
    """squeue's %K: ``3``, or for still-pending tasks ``3-5%2`` / ``[3-5,7]``."""
    ids: set[int] = set()
    for part in field.strip("[]").split("%")[0].split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            if lo.isdigit() and hi.isdigit():
                ids.update(range(int(lo), int(hi) + 1))
        elif part.isdigit():
            ids.add(int(part))
    return ids


def active_tasks(job_id: str) -> set[int] | None:
    """Task ids of ``job_id`` still pending or running; None if squeue could not answer."""
    try:
        res = subprocess.run(["squeue", "-h", "-r", "-j", job_id, "-o", "%K"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0:
        # An old, purged job id: nothing of it is left.
        return set() if "Invalid job id" in res.stderr else None
    ids: set[int] = set()
    for line in res.stdout.split():
        ids |= _parse_task_ids(line)
    return ids


def sync_file(queue_dir: str, job_id: str, task_id: int) -> str:
    return os.path.join(queue_dir, f"done.{job_id}.{task_id}")


def wait_for_tasks(job_id: str, ids: range, queue_dir: str) -> None:
    """Block until every task wrote its sync file or vanished from squeue."""
    pending = set(ids)
    vanished_at: dict[int, float] = {}
    delay, last_squeue = 0.1, time.time()
    while pending:
        pending = {t for t in pending if not os.path.exists(sync_file(queue_dir, job_id, t))}
        if not pending:
            return
        now = time.time()
        if now - last_squeue >= SQUEUE_INTERVAL_S or vanished_at:
            last_squeue = now
            active = active_tasks(job_id)
            if active is not None:
                for t in pending - active:
                    vanished_at.setdefault(t, now)
                for t in list(vanished_at):
                    if t in active:  # listed again (e.g. requeued)
                        del vanished_at[t]
                    elif now - vanished_at[t] >= VANISHED_GRACE_S:
                        pending.discard(t)
                        del vanished_at[t]
        time.sleep(delay)
        delay = min(delay * 1.2, 3.0)


def cancel_and_wait(job_id: str, timeout: float = CANCEL_WAIT_S) -> bool:
    """``scancel`` the job array, then wait until ``squeue`` lists none of its tasks (True) or
    ``timeout`` seconds have passed (False)."""
    try:
        subprocess.run(["scancel", job_id], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pass
    deadline = time.time() + timeout
    delay = 0.1
    while time.time() < deadline:
        if active_tasks(job_id) == set():
            return True
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    return False


def slurm_task_states(job_id: str) -> dict[int, dict[str, str]]:
    """``scontrol show job`` fields per array task id (empty if Slurm forgot the job)."""
    try:
        res = subprocess.run(["scontrol", "-o", "show", "job", job_id],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return {}
    states: dict[int, dict[str, str]] = {}
    for line in res.stdout.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("ArrayTaskId", "").isdigit():
            states[int(fields["ArrayTaskId"])] = fields
    return states


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def explain_failure(task_id: int, code: int | None, log: str, slurm_output: str,
                    state: dict[str, str], mem: str | None) -> str | None:
    """One line saying why a task was killed (memory made explicit), or None for a task that
    just exited non-zero (the summary line covers those, as in Kaldi)."""
    slurm_text = _read_text(slurm_output)
    job_state = state.get("JobState", "unknown")
    oom_line = next((line.strip() for line in slurm_text.splitlines()
                     if _OOM_PATTERNS.search(line)), None)
    limit = f" (--mem {mem})" if mem else " (no --mem given: the cluster's default memory per CPU)"
    if job_state == "OUT_OF_MEMORY" or oom_line:
        evidence = oom_line or f"Slurm state {job_state}"
        return (f"{PROG}: task {task_id} was killed for exceeding its memory limit{limit}: "
                f"{evidence}; log is in {log}; rerun with a larger --mem")
    if code == 137:
        return (f"{PROG}: task {task_id} was killed by SIGKILL (exit code 137), most likely for "
                f"exceeding its memory limit{limit}; log is in {log}; rerun with a larger --mem")
    if code is None:
        return (f"{PROG}: task {task_id} ended without writing its status to {log} "
                f"(Slurm state {job_state}, reason {state.get('Reason', 'unknown')}, "
                f"exit code {state.get('ExitCode', 'unknown')}); Slurm's output is in {slurm_output}")
    return None  # an ordinary failure: the summary line names the logs


def collect_failures(request: JobRequest, job_id: str, sub: Submission,
                     mem: str | None) -> list[int]:
    """Read each task's status from its log; explain and return the failed ids."""
    failed: list[int] = []
    codes: dict[int, int | None] = {}
    for task_id in request.ids:
        log = request.for_task(request.log, task_id)
        code = read_exit_status(log)
        if code is None and os.path.exists(sync_file(sub.queue_dir, job_id, task_id)):
            # The sync file is written after the trailer: on NFS the log may lag behind.
            deadline = time.time() + 30
            while code is None and time.time() < deadline:
                time.sleep(1)
                code = read_exit_status(log)
        codes[task_id] = code
    states = slurm_task_states(job_id) if any(c != 0 for c in codes.values()) else {}
    for task_id, code in codes.items():
        if code == 0:
            continue
        failed.append(task_id)
        log = request.for_task(request.log, task_id)
        slurm_output = sub.slurm_output.replace("%a", str(task_id))
        message = explain_failure(task_id, code, log, slurm_output, states.get(task_id, {}), mem)
        if message is None:
            continue
        print(message, file=sys.stderr)
        if code is None and os.path.exists(log):
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"# {message}\n")
    for task_id in request.ids:
        try:
            os.remove(sync_file(sub.queue_dir, job_id, task_id))
        except FileNotFoundError:
            pass
    return failed


def run(request: JobRequest, cwd: str | None = None) -> int:
    """Submit, wait, report; return the launcher's exit status."""
    cwd = cwd or os.getcwd()
    given, config, max_jobs = split_options(request)
    conf = load_conf(config)
    sub = build_submission(request, conf, given, max_jobs, cwd)

    job_id = None
    with signals_interrupt() as caught:
        try:
            # A signal during sbatch must not lose the job id: hold signals until we have it.
            signal.pthread_sigmask(signal.SIG_BLOCK, caught)
            try:
                job_id = submit(sub)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, caught)  # pending ones fire here
            wait_for_tasks(job_id, request.ids, sub.queue_dir)
        except Interrupted as stop:
            ignore_stop_signals()  # so that the job is always cancelled
            if job_id is not None:
                gone = cancel_and_wait(job_id)
                print(f"{PROG}: interrupted by signal {stop.signum}; cancelled Slurm job {job_id} "
                      f"(scancel {job_id})", file=sys.stderr)
                if not gone:
                    print(f"{PROG}: warning: squeue still lists job {job_id} {CANCEL_WAIT_S:.0f} s after "
                          f"scancel; check it with: squeue -j {job_id}", file=sys.stderr)
            else:
                print(f"{PROG}: interrupted by signal {stop.signum} before submission", file=sys.stderr)
            return 128 + stop.signum
    return exit_status(PROG, request, collect_failures(request, job_id, sub, conf.value("mem", given)))


def main(argv: list[str] | None = None) -> int:
    return launcher_main(PROG, __doc__, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
