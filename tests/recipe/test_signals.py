"""Real signals to a running recipe: TERM/INT to ./run.sh (and to asr.sh itself) during training
(stage 11) and during a run.pl job array (stage 10), and the one-trainer-per-exp-dir lock.

What must hold after a signal: the exit status is 128 + N, the console's line names the signal
and what was stopped, no process of the run is left (checked in /proc), no stage marker was
written, and a rerun resumes and finishes, writing the marker once. The runs are started in a
session of their own, as a nohup'd run is, and the signal goes to run.sh's PID only (``kill``),
not to a process group: the recipe must pass it on itself. Every wait is for a condition (a log
line, a file), never a fixed sleep.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from espnet_warmup.recipe.analysis.procs import signal_pids
from tests.recipe.conftest import clone_data, run_recipe

pytestmark = pytest.mark.slow

TINY_EXP = "conf/tuning/train_tiny_exp_warmup.yaml"
EXP = "exp/asr_train_tiny_exp_warmup"
STATS = "exp/asr_stats_raw_word"
#: Two epochs of 40 updates: long enough to be interrupted in the second epoch (after epoch 1's
#: checkpoint.pth), short enough for CI.
TRAIN = ["--stage", "11", "--stop_stage", "11", "--train_config", TINY_EXP,
         "--train_args", "--max_epoch 2 --num_iters_per_epoch 40"]
#: asr.sh called directly, with the options run.sh gives it, and one training at a time.
ASR_SH = ["--ngpu", "0", "--train_jobs", "1", "--nj", "2", "--token_type", "word", "--train_set", "train",
          "--valid_set", "dev", "--test_sets", "test"]


# ----------------------------------------------------------------------------- helpers
def _env() -> dict:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("VIRTUAL_ENV", None)
    return env


def start(recipe: Path, *args: str, script: str = "./run.sh") -> subprocess.Popen:
    """Start the recipe in a session of its own (as nohup/a batch system would); output to a file."""
    out = open(recipe / f"console.{time.monotonic_ns()}.log", "w+")
    proc = subprocess.Popen([script, *args], cwd=recipe, env=_env(), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    proc.console = out  # type: ignore[attr-defined]
    return proc


def console(proc: subprocess.Popen) -> str:
    proc.console.flush()  # type: ignore[attr-defined]
    return Path(proc.console.name).read_text()  # type: ignore[attr-defined]


def wait_for(what: str, condition, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before {what}:\n{console(proc)[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def processes_of(recipe: Path) -> list[str]:
    """Every live process that works in ``recipe`` (cwd) or names it on its command line."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except (OSError, IndexError):
            continue
        if cwd == str(recipe) or cwd.startswith(f"{recipe}/") or str(recipe) in cmd:
            found.append(f"{entry}: {cmd[:160]}")
    return found


def descendants(pid: int) -> list[int]:
    from espnet_warmup.recipe.analysis.procs import descendants as tree
    return tree(pid)


@pytest.fixture(scope="module")
def stats_recipe(tiny_data, tmp_path_factory) -> Path:
    """A recipe dir after stages 1-5 and stage 10 (collect stats for the tiny configs)."""
    recipe = clone_data(tiny_data, tmp_path_factory.mktemp("signals_stats") / "asr1")
    out = run_recipe(recipe, "--stage", "10", "--stop_stage", "10", "--train_config", TINY_EXP)
    assert out.returncode == 0, out.stderr[-3000:]
    return recipe


@pytest.fixture
def recipe(stats_recipe, tmp_path) -> Path:
    """A private copy of ``stats_recipe`` (data, dump and the stats of stage 10)."""
    dst = clone_data(stats_recipe, tmp_path / "asr1")
    (dst / "exp").mkdir()
    subprocess.run(["cp", "-a", str(stats_recipe / STATS), str(dst / STATS)], check=True)
    return dst


def check_stopped(recipe: Path, proc: subprocess.Popen, sig: signal.Signals, during: str) -> str:
    """The common checks after ``sig``: exit 128 + N, one console line naming the signal and what
    was stopped, no process left. Returns that line."""
    proc.wait(timeout=120)
    out = console(proc)
    assert proc.returncode == 128 + sig, out[-3000:]
    lines = [ln for ln in out.splitlines() if f"Got {sig.name} during {during}" in ln]
    assert len(lines) == 1, out[-3000:]
    assert lines[0].endswith(f"nothing was marked done; exit {128 + sig}")
    assert "Successfully finished" not in out
    assert processes_of(recipe) == []
    return lines[0]


# ----------------------------------------------------------------------------- stage 11
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_run_sh_during_training_stops_the_trainer_and_a_rerun_resumes(recipe, sig):
    exp = recipe / EXP
    proc = start(recipe, *TRAIN)  # run.sh's --train_jobs 2: the trainings run in background subshells
    wait_for("epoch 2 started", lambda: "2/2epoch started" in text(exp / "train.log"), proc)
    proc.send_signal(sig)
    line = check_stopped(recipe, proc, sig, "Stage 11")
    # the line names what was stopped: the monitor, run.pl and the trainer among them
    for name in ("monitor (", "run.pl (", "espnet2.bin.asr_train ("):
        assert name in line, line
    assert not (exp / ".done").exists()
    log = text(exp / "train.log")
    assert re.search(r"^# Ended \(code \d+; signal \d+\)", log, re.M), log[-500:]  # run.pl's trailer

    again = run_recipe(recipe, *TRAIN)
    assert again.returncode == 0, again.stderr[-3000:]
    log = text(exp / "train.log")
    assert "The training was resumed using" in log
    assert "1/2epoch started" not in log and "2/2epoch started" in log
    assert again.stderr.count(f"Stage 11: Training: {TINY_EXP} -> {EXP}") == 1
    assert (exp / ".done").is_file()
    third = run_recipe(recipe, *TRAIN)
    assert third.returncode == 0 and f"{EXP} already done, skipped" in third.stderr


def test_term_to_asr_sh_itself_stops_a_foreground_training(recipe):
    """asr.sh called directly, one training at a time: the training is the stage's own unit."""
    exp = recipe / EXP
    proc = start(recipe, *ASR_SH, *TRAIN, script="./asr.sh")
    wait_for("epoch 1 started", lambda: "1/2epoch started" in text(exp / "train.log"), proc)
    proc.send_signal(signal.SIGTERM)
    line = check_stopped(recipe, proc, signal.SIGTERM, f"Stage 11 ({TINY_EXP} -> {EXP}")
    assert "espnet2.bin.asr_train (" in line
    assert not (exp / ".done").exists()
    assert "# Ended (code 143; signal 15)" in text(exp / "train.log")
    again = run_recipe(recipe, *ASR_SH, *TRAIN, script="./asr.sh")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (exp / ".done").is_file()


# ----------------------------------------------------------------------------- a JOB=1:N stage
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_run_pl_job_array_stops_every_task(recipe, sig):
    """Stage 10 (collect stats) runs JOB=1:2 through run.pl: both tasks are stopped, their logs
    get run.pl's trailer, and the stats dir is not marked done."""
    stats = recipe / STATS
    subprocess.run(["rm", "-rf", str(stats)], check=True)  # stage 10 runs again from scratch
    args = ["--stage", "10", "--stop_stage", "10", "--train_config", TINY_EXP]
    proc = start(recipe, *args)
    logs = [stats / "logdir" / f"stats.{i}.log" for i in (1, 2)]
    wait_for("both stats jobs started", lambda: all("# Started at" in text(p) for p in logs), proc)
    proc.send_signal(sig)
    line = check_stopped(recipe, proc, sig, "Stage 10")
    assert "run.pl (" in line and "espnet2.bin.asr_train (" in line
    assert not (stats / ".done").exists()
    for p in logs:
        assert re.search(r"^# Ended \(code \d+; signal \d+\)", text(p), re.M), text(p)[-500:]

    again = run_recipe(recipe, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("Stage 10: Collect stats:") == 1
    assert (stats / ".done").is_file()
    for p in logs:
        assert "# Ended (code 0)" in text(p)


# ----------------------------------------------------------------------------- one trainer per exp dir
def test_a_second_run_on_an_exp_dir_in_training_is_refused_until_the_first_is_gone(recipe):
    exp = recipe / EXP
    first = start(recipe, *TRAIN)
    wait_for("epoch 1 started", lambda: "1/2epoch started" in text(exp / "train.log"), first)
    # The first run's processes are held (SIGSTOP) while the second run looks: its ~10 s of
    # training must not end before the second run's start-up does, on any machine.
    tree = descendants(first.pid)
    signal_pids(tree, signal.SIGSTOP)
    second = run_recipe(recipe, *TRAIN)
    signal_pids(tree, signal.SIGCONT)
    assert second.returncode == 1
    m = re.search(rf"ERROR: {EXP} is being trained by PID (\d+) \(([^,]+), started (\S+)\); stop it or wait",
                  second.stderr)
    assert m, second.stderr[-3000:]
    assert int(m.group(1)) in descendants(first.pid)  # the first run's training subshell holds it
    assert not (exp / ".done").exists()

    # The first run is unaffected: its training goes on into epoch 2 and its log was not rotated.
    wait_for("epoch 2 of the first run", lambda: "2/2epoch started" in text(exp / "train.log"), first)
    assert not (exp / "train.1.log").exists()

    # kill -9 of the first run.sh: its training is orphaned but still runs, and still holds the lock
    holder = int(m.group(1))
    tree = descendants(first.pid)
    signal_pids(tree, signal.SIGSTOP)  # the orphaned training stays alive (and unfinished) while we look
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    orphaned = run_recipe(recipe, *TRAIN)
    assert orphaned.returncode == 1
    assert f"ERROR: {EXP} is being trained by PID {holder} (" in orphaned.stderr, orphaned.stderr[-3000:]

    # kill -9 of everything that is left: the kernel drops the lock with the last holder
    signal_pids(tree, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while processes_of(recipe):
        assert time.monotonic() < deadline, processes_of(recipe)
        time.sleep(0.1)
    again = run_recipe(recipe, *TRAIN)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "is being trained by" not in again.stderr
    assert (exp / ".done").is_file()
    assert "2/2epoch started" in text(exp / "train.log")
