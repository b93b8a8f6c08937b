"""Parsers, spike detection and the live monitor on two real tiny ESPnet trainings
(see conftest.py: one stable, one driven to divergence by a huge peak LR)."""

from __future__ import annotations

import math
import re

import pytest
import torch

from espnet_warmup import spikes
from espnet_warmup.recipe.analysis import logs, monitor

pytestmark = pytest.mark.slow


def _raw_interval_values(log_text: str, key: str) -> dict[tuple[int, int], float]:
    """Independent reading of the log for cross-checks: (epoch, batch) -> value."""
    out = {}
    for m in re.finditer(r"(\d+)epoch:train:\d+-(\d+)batch: (.*)", log_text):
        v = re.search(rf"(?:^|[ ,\d]){key}=([-+0-9.e]+|nan|inf)", m.group(3))
        if v:
            out[(int(m.group(1)), int(m.group(2)))] = float(v.group(1))
    return out


# ----------------------------------------------------------------------------- the runs
def test_stable_run_trains_to_the_end_and_its_monitor_stays_quiet(espnet_runs):
    run = espnet_runs.stable
    assert run.train_rc == 0, (run.expdir / "train.log").read_text()[-3000:]
    assert run.monitor_rc == monitor.EXIT_OK, run.monitor_stderr
    assert "warning" not in run.monitor_stderr and "DIVERGENCE" not in run.monitor_stderr
    assert "done: no divergence" in run.monitor_stderr
    # findings are appended beside the log too
    assert "done: no divergence" in (run.expdir / "monitor.log").read_text()


def test_monitor_stops_diverging_run_with_sigterm_and_keeps_last_epoch_checkpoint(espnet_runs):
    run = espnet_runs.unstable
    assert run.monitor_rc == monitor.EXIT_STOPPED, run.monitor_stderr
    assert run.train_rc == -15, "training should have been ended by SIGTERM"
    text = run.monitor_stderr
    assert "warning: grad-norm spike at iteration" in text
    assert "warning: non-finite update skipped by ESPnet (grad norm nan)" in text
    assert "DIVERGENCE: 1 non-finite (skipped) updates within the last 100 iterations" in text
    assert re.search(r"sent SIGTERM to PID \d+", text)
    assert "the last complete epoch checkpoint is kept" in text
    mlog = (run.expdir / "monitor.log").read_text()
    assert "DIVERGENCE: 1 non-finite" in mlog and "sent SIGTERM" in mlog
    # the checkpoint of the last finished epoch is intact and loadable
    log = logs.parse_train_log(run.expdir / "train.log")
    assert not log.finished
    ckpt = torch.load(run.expdir / "checkpoint.pth", map_location="cpu", weights_only=False)
    assert ckpt["reporter"]["epoch"] == log.epochs[-1].epoch >= 1


def test_monitor_on_finished_stable_log_reports_nothing(espnet_runs, tmp_path, capsys):
    out = tmp_path / "m.log"
    rc = monitor.main(["--log", str(espnet_runs.stable.expdir / "train.log"), "--out", str(out)])
    assert rc == monitor.EXIT_OK
    assert "warning" not in out.read_text()


def test_monitor_on_diverged_log_without_stop_exits_3_naming_the_signature(espnet_runs, tmp_path):
    out = tmp_path / "m.log"
    rc = monitor.main(["--log", str(espnet_runs.unstable.expdir / "train.log"), "--out", str(out)])
    assert rc == monitor.EXIT_DIVERGED
    text = out.read_text()
    assert "DIVERGENCE: sustained grad-norm spikes" in text
    assert "DIVERGENCE: train loss rising" in text
    assert "done: DIVERGED (run not stopped)" in text


def test_monitor_costs_little_cpu(espnet_runs):
    # polling a file 5x per second for the whole run (tens of seconds incl. start-up)
    assert espnet_runs.stable.monitor_cpu_s < 5.0


# ----------------------------------------------------------------------------- parsers
def test_train_log_parser_reads_every_interval_and_epoch_line(espnet_runs):
    path = espnet_runs.stable.expdir / "train.log"
    text = path.read_text()
    log = logs.parse_train_log(path)
    assert [e.epoch for e in log.epochs] == [1, 2, 3]
    assert [e.step for e in log.epochs] == [8, 16, 24]
    assert [it.step for it in log.intervals] == list(range(1, 25))
    assert log.finished and log.max_epoch == 3 and not log.skipped
    for key in ("loss", "grad_norm", "clip", "optim0_lr0", "acc", "loss_att"):
        raw = _raw_interval_values(text, key)
        assert len(raw) == 24, key  # also where ESPnet dropped the comma before the key
        for it in log.intervals:
            assert it.stats[key] == raw[(it.epoch, it.end)], (key, it.step)
    # per-epoch valid results
    m = re.search(r"3epoch results: .*\[valid\] .*?acc=([0-9.e+-]+)", text)
    assert log.epochs[-1].get("valid", "acc") == float(m.group(1))


def test_train_log_parser_ties_skipped_updates_to_their_iteration(espnet_runs):
    path = espnet_runs.unstable.expdir / "train.log"
    log = logs.parse_train_log(path)
    n_warn = path.read_text().count("Skipping updating the model")
    assert len(log.skipped) == n_warn
    # with log_interval 1, a skipped update is exactly an interval whose grad_norm is nan/absent
    nan_steps = [it.step for it in log.intervals if not math.isfinite(it.get("grad_norm"))]
    assert n_warn >= 1
    filed = [s.step for s in log.skipped]
    # warnings followed by an interval line belong to it; a warning after the last line
    # (the monitor killed the run) is filed at the next iteration
    assert filed == nan_steps + [log.intervals[-1].step + 1] * (len(filed) - len(nan_steps))
    assert sum(it.skipped for it in log.intervals) == len(nan_steps)


def test_tensorboard_reader_matches_train_log(espnet_runs):
    exp = espnet_runs.stable.expdir
    log = logs.parse_train_log(exp / "train.log")
    tb = logs.read_tensorboard(exp)
    for key in ("loss", "grad_norm", "optim0_lr0", "clip"):
        steps, values = tb.series(key)
        lsteps, lvalues = log.series(key)
        assert steps == lsteps
        for a, b in zip(values, lvalues):
            assert a == pytest.approx(b, rel=2e-3, abs=1e-3)  # the log prints 3 decimals
    # epoch means are told apart from the interval means at the same step
    assert [s for s, _ in tb.train_epoch["loss"]] == [8, 16, 24]
    assert tb.train_epoch["loss"][-1][1] == pytest.approx(log.epochs[-1].get("train", "loss"), rel=2e-3)
    assert [s for s, _ in tb.valid["acc"]] == [8, 16, 24]


def test_bad_log_and_missing_tensorboard_errors_name_the_file(tmp_path):
    bad = tmp_path / "train.log"
    bad.write_text("hello\n")
    with pytest.raises(logs.LogFormatError, match=r"train.log: no ESPnet training lines found"):
        logs.parse_train_log(bad)
    with pytest.raises(logs.LogFormatError, match=r"nope.log: no such file"):
        logs.parse_train_log(tmp_path / "nope.log")
    with pytest.raises(logs.LogFormatError, match=r"no tensorboard event files"):
        logs.read_tensorboard(tmp_path)


# ----------------------------------------------------------------------------- spikes
def test_spike_detector_flags_the_unstable_run_and_not_the_stable_one(espnet_runs):
    stable = logs.parse_train_log(espnet_runs.stable.expdir / "train.log")
    unstable = logs.parse_train_log(espnet_runs.unstable.expdir / "train.log")
    s_steps, s_g = stable.series("grad_norm")
    u_steps, u_g = unstable.series("grad_norm")
    assert spikes.detect_spikes(s_g, s_steps) == []
    found = spikes.detect_spikes(u_g, u_steps)
    assert len(found) >= 3
    for sp in found:
        k = u_steps.index(sp.step)
        history = [v for v in u_g[:k] if math.isfinite(v)][-spikes.DEFAULT_WINDOW:]
        assert sp.value == u_g[k] and sp.median == pytest.approx(sorted(history)[len(history) // 2]
                                                                   if len(history) % 2 else
                                                                   (sorted(history)[len(history) // 2 - 1]
                                                                    + sorted(history)[len(history) // 2]) / 2)
        assert sp.value > spikes.DEFAULT_FACTOR * sp.median


# ----------------------------------------------------------------------------- stale logs
def _follow(log, pid, out):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "espnet_warmup.recipe.analysis.monitor", "--log", str(log),
                             "--follow-pid", str(pid), "--poll", "0.1", "--out", str(out)],
                            stderr=subprocess.PIPE, text=True)


def _wait_for_line(mon, out, text):
    """Until the monitor has written ``text`` to its --out file (it follows the job meanwhile)."""
    import time

    deadline = time.monotonic() + 60
    while not (out.is_file() and text in out.read_text()):
        assert time.monotonic() < deadline and mon.poll() is None, f"the monitor did not write {text!r}"
        time.sleep(0.05)


def test_monitor_ignores_a_previous_jobs_log_until_it_is_rewritten(espnet_runs, tmp_path):
    import os
    import shutil
    import subprocess
    import time

    log = tmp_path / "train.log"
    shutil.copy(espnet_runs.unstable.expdir / "train.log", log)  # a diverged attempt
    old = time.time() - 3600
    os.utime(log, (old, old))
    job = subprocess.Popen(["sleep", "60"])  # stands for the resumed training job
    mon = _follow(log, job.pid, tmp_path / "m.log")
    _wait_for_line(mon, tmp_path / "m.log", "predates PID")
    time.sleep(1)  # not synchronisation: the monitor keeps polling the stale log meanwhile
    job.terminate()
    job.wait()
    _, err = mon.communicate(timeout=60)
    assert mon.returncode == monitor.EXIT_OK, err
    assert "predates PID" in err and "DIVERGENCE" not in err


def test_monitor_judges_the_log_once_the_new_job_rewrites_it(espnet_runs, tmp_path):
    import os
    import shutil
    import subprocess
    import time

    log = tmp_path / "train.log"
    shutil.copy(espnet_runs.stable.expdir / "train.log", log)
    old = time.time() - 3600
    os.utime(log, (old, old))
    job = subprocess.Popen(["sleep", "60"])
    mon = _follow(log, job.pid, tmp_path / "m.log")
    _wait_for_line(mon, tmp_path / "m.log", "predates PID")  # it ignores the old log
    shutil.copy(espnet_runs.unstable.expdir / "train.log", log)  # the new job's (diverging) log
    _wait_for_line(mon, tmp_path / "m.log", "DIVERGENCE: sustained grad-norm spikes")
    job.terminate()
    job.wait()
    _, err = mon.communicate(timeout=60)
    assert mon.returncode == monitor.EXIT_DIVERGED, err
    assert "DIVERGENCE: sustained grad-norm spikes" in err


def test_monitor_bad_usage_messages(tmp_path, capsys):
    from espnet_warmup import cli

    assert cli.main(["monitor", "--log", str(tmp_path / "none.log")]) == monitor.EXIT_USAGE
    assert "none.log: no such file (without --follow-pid the log must exist)" in capsys.readouterr().err
    (tmp_path / "t.log").write_text("")
    rc = cli.main(["monitor", "--log", str(tmp_path / "t.log"), "--sustained_spikes", "20"])
    assert rc == monitor.EXIT_USAGE
    assert "--sustained_spikes (20) cannot exceed --sustained_window (10)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["monitor", "--log", str(tmp_path / "t.log"), "--stop_on_divergence", "maybe"])
    assert exc.value.code == 1  # a malformed command line: Kaldi parse_options.sh semantics
    assert "expected true or false, got 'maybe'" in capsys.readouterr().err


@pytest.mark.slow
def test_parser_continues_iteration_count_in_a_resumed_runs_log(espnet_runs, tmp_path):
    """A real resume (asr.sh passes --resume true; run.pl rewrites train.log): the new log
    starts at epoch 4, and its iterations continue from the checkpoint's 24."""
    import shutil

    from analysis import analysis_espnet_runs as tiny

    exp = tmp_path / "resumed"
    shutil.copytree(espnet_runs.stable.expdir, exp)
    proc = tiny.start_training(espnet_runs.data, exp, "--scheduler", "warmuplr", "--scheduler_conf",
                               "warmup_steps=10", "--resume", "true", lr=0.005, optim="adam", iters=8, max_epoch=4)
    assert proc.wait(timeout=600) == 0, (exp / "train.log").read_text()[-2000:]
    log = logs.parse_train_log(exp / "train.log")
    assert [e.epoch for e in log.epochs] == [4]
    assert log.epochs[0].step == 32
    assert [it.step for it in log.intervals] == list(range(25, 33))
    tb = logs.read_tensorboard(exp)  # the resumed run appended a second event file per split
    assert [s for s, _ in tb.train_epoch["loss"]] == [8, 16, 24, 32]
    assert tb.series("loss")[0] == list(range(1, 33))
