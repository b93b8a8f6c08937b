"""The monitor's run mode with real processes: it starts the command, follows its train.log, stops
a diverging one, hands its exit status on, and passes SIGTERM/SIGINT on to the command's tree.

The command is tests/analysis/fake_trainer.py, which writes ESPnet's train.log lines."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from espnet_warmup.recipe.analysis import monitor, procs

FAKE = Path(__file__).with_name("fake_trainer.py")
STABLE = ",".join(["5.0"] * 8)
# 3 spikes within 10 logged grad norms: "sustained grad-norm spikes"
DIVERGING = ",".join(["5.0"] * 6 + ["100.0", "200.0", "300.0", "400.0"])


def _monitor_cmd(exp: Path, *fake_args: str, stop: str = "false", extra: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "espnet_warmup.recipe.analysis.monitor", "--log", str(exp / "train.log"),
            "--out", str(exp / "monitor.log"), "--stop_on_divergence", stop, "--child_log",
            str(exp / "launch.log"), "--poll", "0.1", *extra,
            "--", sys.executable, str(FAKE), str(exp / "train.log"), *fake_args]


def _wait_for(mon: subprocess.Popen, log: Path, text: str) -> None:
    deadline = time.monotonic() + 30
    while not (log.is_file() and text in log.read_text()):
        assert time.monotonic() < deadline and mon.poll() is None, f"{log.name} never got {text!r}"
        time.sleep(0.05)


def _run(exp: Path, *fake_args: str, stop: str = "false", extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(_monitor_cmd(exp, *fake_args, stop=stop, extra=extra), capture_output=True, text=True,
                          timeout=120)


def test_run_mode_exits_with_the_commands_status_and_writes_its_output_to_the_child_log(tmp_path):
    out = _run(tmp_path, "--grad_norms", STABLE)
    assert out.returncode == 0, out.stderr
    assert "done: no divergence" in out.stderr and "the command exited with status 0; exit 0" in out.stderr
    assert (tmp_path / "launch.log").read_text().splitlines() == ["fake training starts", "a line on stderr"]
    mlog = (tmp_path / "monitor.log").read_text()
    assert "INFO: following" in mlog and "done: no divergence" in mlog and "8 iterations seen" in mlog
    # the monitor's own output is not mixed into the command's
    assert "(monitor)" not in (tmp_path / "launch.log").read_text()


def test_run_mode_passes_a_failing_commands_exit_status_on(tmp_path):
    out = _run(tmp_path, "--grad_norms", STABLE, "--exit_code", "3")
    assert out.returncode == 3, out.stderr
    assert "the command exited with status 3; exit 3" in out.stderr


def test_run_mode_reports_a_command_killed_by_a_signal_as_128_plus_n(tmp_path):
    out = _run(tmp_path, "--grad_norms", STABLE, "--exit_code", "-9")
    assert out.returncode == 128 + 9, out.stderr
    assert "the command was killed by SIGKILL; exit 137" in out.stderr


def test_run_mode_stops_a_diverging_commands_tree_and_exits_4(tmp_path):
    t0 = time.monotonic()
    out = _run(tmp_path, "--grad_norms", DIVERGING, "--linger", "60", "--grandchild", stop="true")
    assert out.returncode == monitor.EXIT_STOPPED, out.stderr
    assert time.monotonic() - t0 < 30  # stopped, not waited out
    assert "DIVERGENCE: sustained grad-norm spikes" in out.stderr
    m = re.search(r"sent SIGTERM to PID (\d+) and its descendants \[(\d+)\]", out.stderr)
    assert m, out.stderr
    assert "the last complete epoch checkpoint is kept" in out.stderr
    assert "done: DIVERGED (run stopped) [sustained_spikes]" in out.stderr
    launch = (tmp_path / "launch.log").read_text()
    assert "got SIGTERM" in launch
    grandchild = int(re.search(r"grandchild (\d+)", launch).group(1))
    assert int(m.group(2)) == grandchild
    deadline = time.monotonic() + 10
    while procs.pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not procs.pid_alive(grandchild)
    assert "sent SIGTERM" in (tmp_path / "monitor.log").read_text()


def test_run_mode_without_stop_warns_and_exits_with_the_commands_status(tmp_path):
    out = _run(tmp_path, "--grad_norms", DIVERGING, "--exit_code", "0", stop="false")
    assert out.returncode == 0, out.stderr
    assert "DIVERGENCE: sustained grad-norm spikes" in out.stderr
    assert "done: DIVERGED (run not stopped) [sustained_spikes]" in out.stderr
    assert "sent SIGTERM" not in out.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_monitor_is_passed_on_to_the_commands_tree(tmp_path, sig):
    mon = subprocess.Popen(_monitor_cmd(tmp_path, "--grad_norms", STABLE, "--linger", "60", "--grandchild"),
                           stderr=subprocess.PIPE, text=True)
    _wait_for(mon, tmp_path / "train.log", "3/3epoch started")  # STABLE is 2 epochs; lingering in the 3rd
    _wait_for(mon, tmp_path / "monitor.log", "INFO: following")  # the monitor is in its loop
    mon.send_signal(sig)
    _, err = mon.communicate(timeout=60)
    assert mon.returncode == 128 + sig, err
    name = signal.Signals(sig).name
    assert re.search(rf"INFO: got {name}: passed it on to PID \d+ and its descendants \[\d+\]", err), err
    assert f"the command exited with status {128 + sig}; exit {128 + sig}" in err
    launch = (tmp_path / "launch.log").read_text()
    assert f"got {name}" in launch
    grandchild = int(re.search(r"grandchild (\d+)", launch).group(1))
    deadline = time.monotonic() + 10
    while procs.pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not procs.pid_alive(grandchild)


def test_sigint_reaches_the_command_even_when_the_monitor_started_with_sigint_ignored(tmp_path):
    """bash starts background jobs with SIGINT ignored, and an ignored signal is inherited across
    exec: the command would ignore the SIGINT passed on to it unless the monitor catches SIGINT
    before it starts the command."""
    mon = subprocess.Popen(_monitor_cmd(tmp_path, "--grad_norms", STABLE, "--linger", "60", "--python_signals"),
                           stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    _wait_for(mon, tmp_path / "train.log", "3/3epoch started")
    mon.send_signal(signal.SIGINT)
    _, err = mon.communicate(timeout=30)
    assert mon.returncode == 130, err
    assert "the command was killed by SIGINT; exit 130" in err  # Python's KeyboardInterrupt exit


def test_run_mode_ignores_an_earlier_jobs_log_until_the_command_rewrites_it(tmp_path):
    log = tmp_path / "train.log"
    subprocess.run([sys.executable, str(FAKE), str(log), "--grad_norms", DIVERGING, "--delay", "0"], check=True)
    old = time.time() - 3600
    os.utime(log, (old, old))  # the diverged attempt being resumed
    out = _run(tmp_path, "--grad_norms", STABLE, "--delay", "0.1")
    assert out.returncode == 0, out.stderr
    assert "predates PID" in out.stderr and "DIVERGENCE" not in out.stderr
    assert "8 iterations seen" in out.stderr


def test_run_mode_command_that_cannot_start_is_127(tmp_path):
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.analysis.monitor", "--log",
                          str(tmp_path / "train.log"), "--", str(tmp_path / "no-such-program")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 127
    assert "monitor: cannot run" in out.stderr and "no-such-program" in out.stderr


def test_run_mode_usage_errors(tmp_path, capsys):
    log = str(tmp_path / "train.log")
    assert monitor.main(["--log", log, "--follow_pid", "1", "--", "true"]) == monitor.EXIT_USAGE
    assert "either --follow_pid PID or a command after --, not both" in capsys.readouterr().err
    assert monitor.main(["--log", log, "--child_log", str(tmp_path / "l.log")]) == monitor.EXIT_USAGE
    assert "--child_log needs a command to run (after --)" in capsys.readouterr().err
    # the dashed spellings are the same options (Kaldi's parse_options.sh semantics)
    assert monitor.main(["--log", log, "--follow-pid", "1", "--child-log", "x", "--", "true"]) == monitor.EXIT_USAGE


def test_exit_status_is_what_a_shell_reports():
    assert monitor.exit_status(0) == 0 and monitor.exit_status(3) == 3
    assert monitor.exit_status(-signal.SIGTERM) == 143


def test_follow_mode_still_stops_a_diverging_process_it_did_not_start(tmp_path):
    job = subprocess.Popen([sys.executable, str(FAKE), str(tmp_path / "train.log"), "--grad_norms", DIVERGING,
                            "--linger", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.analysis.monitor", "--log",
                          str(tmp_path / "train.log"), "--follow-pid", str(job.pid), "--poll", "0.1",
                          "--stop_on_divergence", "true"], capture_output=True, text=True, timeout=60)
    assert job.wait(timeout=30) == 128 + signal.SIGTERM
    assert out.returncode == monitor.EXIT_STOPPED, out.stderr
    assert f"sent SIGTERM to PID {job.pid}" in out.stderr
    assert "done: DIVERGED (run stopped) [sustained_spikes];" in out.stderr
    assert "exit 4" in (tmp_path / "monitor.log").read_text()  # default --out: beside the log


def test_run_mode_through_the_espnet_warmup_command(tmp_path, capsys):
    from espnet_warmup import cli

    rc = cli.main(["monitor", "--log", str(tmp_path / "train.log"), "--poll", "0.1", "--child-log",
                   str(tmp_path / "launch.log"), "--", sys.executable, str(FAKE), str(tmp_path / "train.log"),
                   "--exit_code", "3"])
    assert rc == 3
    assert "the command exited with status 3; exit 3" in capsys.readouterr().err
    assert "fake training starts" in (tmp_path / "launch.log").read_text()
