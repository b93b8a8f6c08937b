"""Fault-battery cases: signals to a running recipe, a trainer killed with SIGKILL, and a second run on
an exp dir that is being trained (contract: base.py).

Each case runs ./run.sh in its private copy of the stage-1-5 recipe dir and, from ``during``, waits
for a condition (a log line, a file; never a fixed sleep) and then sends the signal to run.sh's
PID only, as ``kill`` or a cluster's preemption does. What must hold (``after``): no process of
the run is left, the interrupted unit has no marker, and where the case reruns, the rerun
resumed and finished.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from bench.faults.base import Case, Command
from espnet_warmup.recipe.analysis.procs import descendants, signal_pids

TINY = "conf/tuning/train_tiny_exp_warmup.yaml"
TINY_DECODE = "conf/tuning/decode_tiny.yaml"
EXP = "exp/asr_train_tiny_exp_warmup"
STATS = "exp/asr_stats_raw_word"
ENV = {"PYTHONWARNINGS": "ignore"}
#: Stages 10-11 with two epochs of 40 updates: time to be interrupted in training.
TRAIN = ["./run.sh", "--stage", "10", "--stop_stage", "11", "--train_config", TINY,
         "--train_args", "--max_epoch 2 --num_iters_per_epoch 40"]
WAIT_S = 600.0


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _wait(what: str, condition, proc: subprocess.Popen | None = None, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def processes_of(recipe: Path) -> list[str]:
    """Live processes working in ``recipe`` (cwd) or naming it on their command line."""
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
            found.append(f"{entry}: {cmd[:120]}")
    return found


def _check_nothing_left(recipe: Path) -> None:
    left = processes_of(recipe)
    assert not left, f"processes of the run are left: {left}"


def _kill_all_of(recipe: Path) -> None:
    for _ in range(50):
        left = processes_of(recipe)
        if not left:
            return
        for line in left:
            try:
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


# ----------------------------------------------------------------------------- a signal in a stage
def _names(sig: signal.Signals) -> str:
    """The first error line names the signal: asr.sh's "Got SIGTERM during ...", run.pl's
    "interrupted by signal 15" or the monitor's "killed by SIGTERM"."""
    return rf"Got {sig.name} during|interrupted by signal {int(sig)}\b|killed by {sig.name}"


def _signal_when(sig: signal.Signals, ready) -> callable:
    """``during``: send ``sig`` to run.sh once ``ready()`` holds."""
    def during(proc: subprocess.Popen) -> None:
        _wait(f"the moment to send {sig.name}", ready, proc)
        proc.send_signal(sig)
    return during


def signal_in_training(sig: signal.Signals) -> Case:
    state: dict[str, Path] = {}

    def setup(tmp: Path, recipe: Path | None) -> Command:
        state["recipe"] = recipe
        log = recipe / EXP / "train.log"
        return Command(TRAIN, recipe, ENV, timeout=WAIT_S,
                       during=_signal_when(sig, lambda: "epoch started" in _text(log)))

    def after(tmp: Path, recipe: Path | None) -> None:
        _check_nothing_left(recipe)
        assert not (recipe / EXP / ".done").exists(), f"{EXP}/.done was written after {sig.name}"
        assert "Successfully finished" not in _text(tmp / "output.log")

    return Case(f"{sig.name} to run.sh during stage 11 (training)", "signals", setup, 128 + sig,
                _names(sig), needs_recipe=True, after=after)


def signal_in_format_audio(sig: signal.Signals) -> Case:
    """Stage 3 (a JOB=1:2 run.pl array): one wav.scp entry is a pipe that blocks until the test
    lets it go, so the signal lands while the array runs."""
    out_dir = "dump/raw/org/train"

    def setup(tmp: Path, recipe: Path | None) -> Command:
        gate, waiting = tmp / "gate.sh", tmp / "waiting"
        # Passes through outside the stage (the checks before it read every entry too).
        gate.write_text(f'if [ -e {out_dir}/.done ]; then exec cat "$1"; fi\n'
                        f'touch {waiting}\nwhile :; do sleep 0.2; done\n')
        scp = recipe / "data/train/wav.scp"
        lines = scp.read_text().splitlines()
        utt, wav = lines[0].split(maxsplit=1)
        scp.write_text("\n".join([f"{utt} sh {gate} {wav} |", *lines[1:]]) + "\n")
        return Command(["./run.sh", "--stage", "3", "--stop_stage", "3"], recipe, ENV, timeout=WAIT_S,
                       during=_signal_when(sig, waiting.exists))

    def after(tmp: Path, recipe: Path | None) -> None:
        _check_nothing_left(recipe)
        assert not (recipe / out_dir / ".done").exists(), f"{out_dir}/.done was written after {sig.name}"

    return Case(f"{sig.name} to run.sh during stage 3 (format audio, run.pl JOB=1:2)", "signals", setup,
                128 + sig, _names(sig), needs_recipe=True, after=after)


def signal_in_collect_stats(sig: signal.Signals) -> Case:
    def setup(tmp: Path, recipe: Path | None) -> Command:
        logs = [recipe / STATS / "logdir" / f"stats.{i}.log" for i in (1, 2)]
        return Command(["./run.sh", "--stage", "10", "--stop_stage", "10", "--train_config", TINY], recipe,
                       ENV, timeout=WAIT_S,
                       during=_signal_when(sig, lambda: all("# Started at" in _text(p) for p in logs)))

    def after(tmp: Path, recipe: Path | None) -> None:
        _check_nothing_left(recipe)
        assert not (recipe / STATS / ".done").exists(), f"{STATS}/.done was written after {sig.name}"
        for i in (1, 2):
            log = _text(recipe / STATS / "logdir" / f"stats.{i}.log")
            assert "# Ended (code" in log and "signal" in log.splitlines()[-1], f"stats.{i}.log has no trailer"

    return Case(f"{sig.name} to run.sh during stage 10 (collect stats, run.pl JOB=1:2)", "signals", setup,
                128 + sig, _names(sig), needs_recipe=True, after=after)


def signal_in_decoding(sig: signal.Signals) -> Case:
    decode = f"{EXP}/decode_tiny_asr_model_valid.acc.ave/test"

    def setup(tmp: Path, recipe: Path | None) -> Command:
        # a finished tiny training (2 updates) to decode with
        out = subprocess.run(["./run.sh", "--stage", "10", "--stop_stage", "11", "--train_config", TINY,
                              "--train_args", "--max_epoch 1 --num_iters_per_epoch 2"],
                             cwd=recipe, capture_output=True, text=True, env={**os.environ, **ENV})
        assert out.returncode == 0, out.stderr[-2000:]
        logs = [recipe / decode / "logdir" / f"asr_inference.{i}.log" for i in (1, 2)]
        return Command(["./run.sh", "--stage", "12", "--stop_stage", "12", "--train_config", TINY,
                        "--inference_config", TINY_DECODE], recipe, ENV, timeout=WAIT_S,
                       during=_signal_when(sig, lambda: any("# Started at" in _text(p) for p in logs)))

    def after(tmp: Path, recipe: Path | None) -> None:
        _check_nothing_left(recipe)
        assert not (recipe / decode / ".done").exists(), f"{decode}/.done was written after {sig.name}"
        assert (recipe / EXP / ".done").is_file(), "the finished training lost its marker"

    return Case(f"{sig.name} to run.sh during stage 12 (decoding, run.pl JOB=1:2)", "signals", setup,
                128 + sig, _names(sig), needs_recipe=True, after=after)


# ----------------------------------------------------------------------------- kill -9 and the lock
def _trainer_pids(recipe: Path) -> list[int]:
    return [int(line.split(":")[0]) for line in processes_of(recipe)
            if "espnet2.bin.asr_train" in line and "espnet2.bin.launch" not in line and "monitor" not in line]


def trainer_killed_then_rerun() -> Case:
    """kill -9 of the trainer: the run fails naming the training's log; the rerun (same command)
    resumes and finishes."""
    def setup(tmp: Path, recipe: Path | None) -> Command:
        args = " ".join(f"'{a}'" for a in TRAIN[1:])
        script = f'./run.sh {args}; echo "first run: exit $?"; ./run.sh {args}'
        log = recipe / EXP / "train.log"

        def during(proc: subprocess.Popen) -> None:
            _wait("the second epoch", lambda: "2/2epoch started" in _text(log), proc)
            pids = _trainer_pids(recipe)
            assert pids, "no trainer process found"
            for pid in pids:
                os.kill(pid, signal.SIGKILL)

        return Command(["bash", "-c", script], recipe, ENV, timeout=WAIT_S, during=during)

    def after(tmp: Path, recipe: Path | None) -> None:
        out = _text(tmp / "output.log")
        assert "first run: exit 1" in out, "the killed training did not fail the first run"
        assert (recipe / EXP / ".done").is_file(), "the rerun did not finish"
        log = _text(recipe / EXP / "train.log")
        assert "The training was resumed using" in log and "1/2epoch started" not in log, \
            "the rerun did not resume from epoch 1's checkpoint"
        _check_nothing_left(recipe)

    return Case("kill -9 of the trainer, then the same command again", "signals", setup, 0,
                r"Training exp/asr_train_tiny_exp_warmup failed|killed|signal 9", needs_recipe=True,
                after=after)


def _signal_tree_of(pid: int, sig: signal.Signals) -> list[int]:
    """Send ``sig`` to every descendant of ``pid`` (not ``pid`` itself); return their PIDs."""
    tree = descendants(pid)
    signal_pids(tree, sig)
    return tree


def second_run_on_a_locked_exp() -> Case:
    """A second ./run.sh on the exp dir that the first one is training: refused, naming the PID
    that holds the lock; the first finishes as if nothing had happened."""
    first: dict[str, subprocess.Popen] = {}

    def setup(tmp: Path, recipe: Path | None) -> Command:
        with open(tmp / "first.log", "w") as out:
            proc = subprocess.Popen(TRAIN, cwd=recipe, env={**os.environ, **ENV}, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        first["proc"] = proc
        _wait("the first run's epoch 1", lambda: "1/2epoch started" in _text(recipe / EXP / "train.log"), proc)
        # held (SIGSTOP) while the second run looks: its ~10 s of training must not end first
        first["tree"] = _signal_tree_of(proc.pid, signal.SIGSTOP)
        return Command(TRAIN[:2] + ["11"] + TRAIN[3:], recipe, ENV, timeout=WAIT_S)

    def after(tmp: Path, recipe: Path | None) -> None:
        proc = first["proc"]
        signal_pids(first["tree"], signal.SIGCONT)
        rc = proc.wait(timeout=WAIT_S)
        assert rc == 0, f"the first run failed (exit {rc}) after the refused second one"
        assert (recipe / EXP / ".done").is_file()
        assert not (recipe / EXP / "train.1.log").exists(), "the second run rotated the first's train.log"

    return Case("a second run.sh on an exp dir that is being trained", "signals", setup, 1,
                r"exp/asr_train_tiny_exp_warmup is being trained by PID \d+ \([^,]+, started [0-9T:-]+\); "
                r"stop it or wait", needs_recipe=True, after=after)


def rerun_after_kill_9_of_run_sh() -> Case:
    """kill -9 of run.sh leaves its training running (orphaned, holding the lock): a rerun is
    refused; once the orphans are gone (kill -9 too), nothing stale is left: the next run trains."""
    def setup(tmp: Path, recipe: Path | None) -> Command:
        with open(tmp / "first.log", "w") as out:
            proc = subprocess.Popen(TRAIN, cwd=recipe, env={**os.environ, **ENV}, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        _wait("the first run's epoch 1", lambda: "1/2epoch started" in _text(recipe / EXP / "train.log"), proc)
        _signal_tree_of(proc.pid, signal.SIGSTOP)  # the orphans stay alive and unfinished while we look
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return Command(TRAIN[:2] + ["11"] + TRAIN[3:], recipe, ENV, timeout=WAIT_S)

    def after(tmp: Path, recipe: Path | None) -> None:
        _kill_all_of(recipe)
        out = subprocess.run(TRAIN[:2] + ["11"] + TRAIN[3:], cwd=recipe, capture_output=True, text=True,
                             env={**os.environ, **ENV}, timeout=WAIT_S)
        assert out.returncode == 0, f"the run after the orphans were killed failed: {out.stderr[-1000:]}"
        assert (recipe / EXP / ".done").is_file()

    return Case("rerun while the training of a kill -9'd run.sh still runs", "signals", setup, 1,
                r"is being trained by PID \d+", needs_recipe=True, after=after)


CASES: list[Case] = [
    signal_in_training(signal.SIGTERM),
    signal_in_training(signal.SIGINT),
    signal_in_training(signal.SIGHUP),
    signal_in_format_audio(signal.SIGTERM),
    signal_in_collect_stats(signal.SIGINT),
    signal_in_decoding(signal.SIGHUP),
    trainer_killed_then_rerun(),
    second_run_on_a_locked_exp(),
    rerun_after_kill_9_of_run_sh(),
]
