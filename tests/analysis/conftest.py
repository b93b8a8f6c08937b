"""Session fixtures: two real tiny ESPnet trainings, each followed live by the monitor.

* ``stable``: Adam, peak LR 5e-3 with ESPnet's ``warmuplr`` (10 updates), grad_clip 5.
  The monitor follows it in warn-only mode.
* ``unstable``: SGD, peak LR 20 with our ``polynomialwarmuplr`` (power 1.5, 40 updates),
  no effective clipping (grad_clip 1e9): the gradient norm explodes ~10x-1000x per
  update at iterations 8-10 and turns nan at iteration 11 (epoch 2 of 8-iteration
  epochs) -- the paper's failure signature in miniature. The monitor follows it with
  ``--stop_on_divergence true``, set to fire on the first non-finite update; its
  valid set is large (200 utterances) so that the monitor has seconds, not a few
  hundred milliseconds, to stop it before ESPnet gives up on its own.

Both jobs run at once (a few seconds of training after ESPnet's start-up each) with
``--log_interval 1 --use_tensorboard true``. The tests read what they wrote.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import analysis_espnet_runs as tiny_espnet


@dataclasses.dataclass
class MonitoredRun:
    expdir: Path
    train_rc: int
    monitor_rc: int
    monitor_stderr: str
    monitor_cpu_s: float
    train_wall_s: float


@dataclasses.dataclass
class Runs:
    data: Path
    stable: MonitoredRun
    unstable: MonitoredRun


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[int, float]:
    """Wait for ``proc``; return (exit code, CPU seconds it used), killing it on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f"{proc.args[:4]} did not finish within {timeout} s")
        time.sleep(0.1)


def _monitor(log: Path, pid: int, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "espnet_warmup.recipe.analysis.monitor", "--log", str(log),
           "--follow-pid", str(pid), "--poll", "0.2", *extra]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


@pytest.fixture(scope="session")
def espnet_runs(tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("analysis_espnet")
    data = tiny_espnet.make_data(root)
    exp = root / "exp"
    t0 = time.monotonic()
    stable = tiny_espnet.start_training(
        data, exp / "stable", "--scheduler", "warmuplr", "--scheduler_conf", "warmup_steps=10",
        lr=0.005, optim="adam", iters=8, max_epoch=3)
    # The unstable run validates on 200 utterances one at a time (~1-2 s per epoch; the
    # training trajectory does not depend on the valid set): its iterations take ~20 ms,
    # so without that the whole stretch from the first nan to ESPnet's own stop ("all
    # steps invalid", one epoch later) lasts ~0.3 s, and a monitor delayed by a loaded
    # machine sees the run end before it can stop it.
    slow_valid = tiny_espnet.make_data(root / "unstable_data", n_valid=200)
    unstable = tiny_espnet.start_training(
        slow_valid, exp / "unstable", "--grad_clip", "1e9", "--scheduler", "polynomialwarmuplr",
        "--scheduler_conf", "warmup_steps=40", "--scheduler_conf", "power=1.5",
        "--valid_batch_size", "1", lr=20.0, optim="sgd", iters=8, max_epoch=6)
    mon_s = _monitor(exp / "stable" / "train.log", stable.pid, "--stop_on_divergence", "false")
    # Stop on the first non-finite update (and on nothing earlier), so that the log
    # deterministically holds the spikes *and* a skipped update before the SIGTERM.
    mon_u = _monitor(exp / "unstable" / "train.log", unstable.pid, "--stop_on_divergence", "true",
                     "--max_nonfinite", "1", "--sustained_spikes", "10", "--loss_rise_factor", "1e30")
    out = {}
    for name, train, mon in (("stable", stable, mon_s), ("unstable", unstable, mon_u)):
        train_rc, _ = _wait(train, 600)
        wall = time.monotonic() - t0
        mon_rc, cpu = _wait(mon, 120)
        out[name] = MonitoredRun(exp / name, train_rc, mon_rc, mon.stderr.read(), cpu, wall)
        mon.stderr.close()
    return Runs(data, out["stable"], out["unstable"])
