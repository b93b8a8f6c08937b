"""Signals through the job launchers and the helpers asr.sh's trap and lock use, with real processes:
run.pl passes the signal it got on to each task's whole tree (a task's descendant in a session of
its own, one that ignores SIGINT), survives a second signal during its clean-up; ``launchers.stop``
stops a whole tree; ``launchers.exp_lock`` lets one holder in and names it to the next."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from espnet_warmup.recipe.analysis.procs import ignores_signal, name_of, pid_alive, stop_tree


def _wait_files(paths, proc=None, timeout=60):
    deadline = time.monotonic() + timeout
    while not all(p.exists() and p.read_text().strip() for p in paths):
        assert proc is None or proc.poll() is None, "the launcher ended early"
        assert time.monotonic() < deadline, f"timed out waiting for {paths}"
        time.sleep(0.05)
    return [int(p.read_text().split()[0]) for p in paths]


def _gone(pids, timeout=10):
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if pid_alive(p)]


# ----------------------------------------------------------------------------- run.pl
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_run_pl_passes_the_signal_it_got_on_and_exits_128_plus_n(run_pl, tmp_path, sig):
    proc = subprocess.Popen([run_pl, "JOB=1:2", "log/s.JOB.log", "echo", "$$", ">", "pid.JOB;", "exec", "sleep", "60"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    pids = _wait_files([tmp_path / "pid.1", tmp_path / "pid.2"], proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig
    assert err == f"run.pl: interrupted by signal {int(sig)}; killed 2 running job(s), 0 not started\n"
    assert _gone(pids) == []
    for i in (1, 2):
        assert f"# Ended (code {128 + sig}; signal {int(sig)})" in (tmp_path / f"log/s.{i}.log").read_text()


def test_run_pl_stops_a_descendant_in_a_session_of_its_own_and_one_that_ignores_sigint(run_pl, tmp_path):
    """A task's child that called setsid is not in the task's process group; a child started with
    SIGINT ignored (bash's background jobs) would not die of the SIGINT: both are stopped."""
    script = tmp_path / "task.sh"
    script.write_text(
        "setsid sleep 300 & echo $! > own_session.pid\n"
        "( trap '' INT; exec sleep 300 ) & echo $! > ignores_int.pid\n"
        "wait\n")
    proc = subprocess.Popen([run_pl, "log/t.log", "bash", str(script)], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    pids = _wait_files([tmp_path / "own_session.pid", tmp_path / "ignores_int.pid"], proc)
    assert os.getsid(pids[0]) != os.getsid(proc.pid) and ignores_signal(pids[1], signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert _gone(pids) == []


def test_run_pl_survives_a_second_signal_while_it_cleans_up(run_pl, tmp_path):
    """asr.sh signals the whole tree, so run.pl may get the signal twice (from asr.sh and from the
    monitor above it): the second must not break off the clean-up (every trailer is written)."""
    script = tmp_path / "task.sh"
    # the task takes its time to die: run.pl is still cleaning up when the second signal comes
    script.write_text("trap 'echo $$ > dying.$1; sleep 3; exit 143' TERM\necho $$ > pid.$1\n"
                      "while :; do sleep 0.1; done\n")
    proc = subprocess.Popen([run_pl, "JOB=1:2", "log/s.JOB.log", "bash", str(script), "JOB"], cwd=tmp_path,
                            stderr=subprocess.PIPE, text=True)
    pids = _wait_files([tmp_path / "pid.1", tmp_path / "pid.2"], proc)
    proc.send_signal(signal.SIGTERM)
    # a task is in its 3 s trap: run.pl is waiting for the tasks to end
    _wait_files([tmp_path / "dying.1"], timeout=30)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "Traceback" not in err and err.endswith("killed 2 running job(s), 0 not started\n")
    assert _gone(pids) == []
    for i in (1, 2):
        assert re.search(r"# Ended \(code 143\)", (tmp_path / f"log/s.{i}.log").read_text())


# ----------------------------------------------------------------------------- launchers.stop
def test_stop_tree_signals_every_descendant_and_kills_what_outlives_the_grace(tmp_path):
    script = tmp_path / "tree.sh"
    script.write_text(
        "( exec sleep 300 ) & echo $! > a.pid\n"
        "( trap 'echo caught' TERM; while :; do sleep 0.1; done ) & echo $! > stubborn.pid\n"
        "( trap '' TERM INT; while :; do sleep 0.1; done ) & echo $! > deaf.pid\n"
        "wait\n")
    root = subprocess.Popen(["bash", str(script)], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids = _wait_files([tmp_path / "a.pid", tmp_path / "stubborn.pid", tmp_path / "deaf.pid"], root)
    started = time.monotonic()
    stopped, killed = stop_tree(root.pid, signal.SIGTERM, grace=1.0)
    assert {p for p, _ in stopped} >= set(pids)
    # the one that catches SIGTERM and goes on is killed after the grace; the one that ignores
    # every stop signal gets SIGKILL at once; the plain one dies of SIGTERM
    assert pids[1] in killed and pids[0] not in killed and pids[2] not in killed
    assert time.monotonic() - started >= 1.0
    assert _gone(pids) == []
    root.kill()
    root.wait()


def test_stop_cli_names_what_it_stopped(tmp_path):
    root = subprocess.Popen(["bash", "-c", "sleep 300 & echo $! > c.pid; wait"], cwd=tmp_path)
    (child,) = _wait_files([tmp_path / "c.pid"], root)
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.launchers.stop", "--pid", str(root.pid),
                          "--signal", "TERM"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout == f"stopped 1 process: sleep (PID {child})\n"
    root.wait(timeout=30)
    empty = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.launchers.stop", "--pid", str(root.pid),
                            "--signal", "INT"], capture_output=True, text=True, timeout=60)
    assert empty.stdout == "no job was running\n"


def test_program_names_are_the_ones_users_know():
    assert name_of(["python3", "-m", "espnet_warmup.recipe.launchers.run_pl", "x"]) == "run.pl"
    assert name_of(["python3", "-m", "espnet_warmup.recipe.launchers.slurm_pl", "x"]) == "slurm.pl"
    assert name_of(["/v/bin/python3", "-m", "espnet_warmup", "-m", "espnet2.bin.asr_train", "--x"]) \
        == "espnet2.bin.asr_train"
    assert name_of(["python3", "-m", "espnet_warmup.recipe.analysis.monitor", "--", "python3", "-m", "y"]) \
        == "monitor"
    assert name_of(["python3", "-m", "espnet2.bin.launch", "--cmd", "run.pl"]) == "espnet2.bin.launch"
    assert name_of(["bash", "./asr.sh", "--stage", "1"]) == "asr.sh"
    assert name_of(["bash", "-c", "sleep 1"]) == "bash"
    assert name_of(["/usr/bin/sleep", "30"]) == "sleep"
    assert name_of([]) == "?"


# ----------------------------------------------------------------------------- launchers.exp_lock
def _holder(tmp_path, exp: str, extra: str = "") -> subprocess.Popen:
    """A shell that takes the lock as asr.sh's stage 11 subshell does and then keeps it."""
    script = (f'exec 9>> {exp}/.lock; {sys.executable} -m espnet_warmup.recipe.launchers.exp_lock --fd 9 '
              f'--holder $$ {exp} > lock.out || exit 1; echo $$ > held; {extra} exec sleep 300')
    return subprocess.Popen(["bash", "-c", script], cwd=tmp_path)


def _try_lock(tmp_path, exp: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"exec 9>> {exp}/.lock; exec {sys.executable} -m "
                           f"espnet_warmup.recipe.launchers.exp_lock --fd 9 --holder $$ {exp}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_the_lock_refuses_a_second_holder_naming_the_first_and_dies_with_it(tmp_path):
    (tmp_path / "exp/asr_x").mkdir(parents=True)
    first = _holder(tmp_path, "exp/asr_x")
    (pid,) = _wait_files([tmp_path / "held"], first)
    refused = _try_lock(tmp_path, "exp/asr_x")
    assert refused.returncode == 1
    host = os.uname().nodename
    assert re.fullmatch(rf"exp/asr_x is being trained by PID {pid} \({re.escape(host)}, started "
                        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\); stop it or wait\n", refused.stdout), refused.stdout
    first.send_signal(signal.SIGKILL)  # kill -9: no clean-up code runs
    first.wait()
    assert _try_lock(tmp_path, "exp/asr_x").returncode == 0


def test_the_lock_names_a_child_that_still_holds_it_after_its_shell_was_killed(tmp_path):
    (tmp_path / "exp/asr_x").mkdir(parents=True)
    first = _holder(tmp_path, "exp/asr_x", extra="sleep 300 & echo $! > child;")
    _wait_files([tmp_path / "held"], first)
    (child,) = _wait_files([tmp_path / "child"], first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    refused = _try_lock(tmp_path, "exp/asr_x")
    assert refused.returncode == 1
    assert f"exp/asr_x is being trained by PID {child} (" in refused.stdout
    os.kill(child, signal.SIGKILL)
    assert _gone([child]) == []
    assert _try_lock(tmp_path, "exp/asr_x").returncode == 0


def test_the_lock_refuses_while_an_orphaned_trainer_writes_into_the_exp_dir(tmp_path):
    (tmp_path / "exp/asr_x").mkdir(parents=True)
    # a trainer whose shell and monitor are gone: no lock, but its command line names the dir
    trainer = subprocess.Popen(["bash", "-c", "exec -a python3 bash -c 'while :; do sleep 0.2; done' "
                                "-m espnet2.bin.asr_train --output_dir exp/asr_x"], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while b"--output_dir" not in Path(f"/proc/{trainer.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        refused = _try_lock(tmp_path, "exp/asr_x")
        assert refused.returncode == 1
        assert f"exp/asr_x is being trained by PID {trainer.pid} (" in refused.stdout
        assert _try_lock(tmp_path / "exp", "asr_x").returncode == 1  # the same dir, named from elsewhere
        (tmp_path / "exp/asr_y").mkdir()
        assert _try_lock(tmp_path, "exp/asr_y").returncode == 0  # another exp dir is free
    finally:
        trainer.kill()
        trainer.wait()
    assert _try_lock(tmp_path, "exp/asr_x").returncode == 0
