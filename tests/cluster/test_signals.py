"""SIGTERM to asr.sh while its training runs as a Slurm job (cmd_backend=slurm, the test cluster).

asr.sh passes the signal on to its tree; slurm.pl (under espnet2.bin.launch) cancels the job it
submitted with scancel and waits for squeue to drop it. Checked: exit 143, the console line
names the signal and slurm.pl, squeue no longer lists the job, no process of the run is left,
no marker; then a rerun (on Slurm again) resumes from the checkpoint and finishes.
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from tests.recipe.conftest import TINY_CORPUS, make_recipe_dir, run_recipe
from tests.recipe.test_signals import (ASR_SH, EXP, TINY_EXP, TRAIN, check_stopped, console, start, text,
                                       wait_for)

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


@pytest.fixture(scope="module")
def slurm_stats_recipe(slurm_cluster, tmp_path_factory):
    """Stages 1-5 and 10 run locally (run.pl, faster); stage 11 is the one under test."""
    recipe = make_recipe_dir(tmp_path_factory.mktemp("signals_slurm") / "asr1")
    out = run_recipe(recipe, "--stage", "1", "--stop_stage", "10", "--local_data_opts", TINY_CORPUS,
                     "--train_config", TINY_EXP)
    assert out.returncode == 0, out.stderr[-3000:]
    yield recipe
    slurm_cluster.cancel_all()


def test_sigterm_to_asr_sh_cancels_the_slurm_training_job(slurm_cluster, slurm_stats_recipe, monkeypatch):
    recipe, exp = slurm_stats_recipe, slurm_stats_recipe / EXP
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CMD_BACKEND", "slurm")
    proc = start(recipe, *ASR_SH, *TRAIN, script="./asr.sh")
    wait_for("epoch 1 started on Slurm", lambda: "1/2epoch started" in text(exp / "train.log"), proc, timeout=900)
    job_ids = slurm_cluster.run("squeue", "-h", "-o", "%F").stdout.split()
    assert len(job_ids) == 1, job_ids
    job_id = job_ids[0]
    assert re.search(r"^# SLURM_JOB_ID=", text(exp / "train.log"), re.M)  # the training is that Slurm job

    proc.send_signal(signal.SIGTERM)
    line = check_stopped(recipe, proc, signal.SIGTERM, f"Stage 11 ({TINY_EXP} -> {EXP}")
    assert "slurm.pl (" in line, line
    assert f"slurm.pl: interrupted by signal 15; cancelled Slurm job {job_id} (scancel {job_id})" \
        in text(exp / "launch.log")
    assert slurm_cluster.run("squeue", "-h", "-j", job_id).stdout.strip() == ""
    assert not (exp / ".done").exists()

    again = run_recipe(recipe, *ASR_SH, *TRAIN, script="./asr.sh", timeout=900,
                       env={"CMD_BACKEND": "slurm", "SLURM_CONF": slurm_cluster.env["SLURM_CONF"]})
    assert again.returncode == 0, again.stderr[-3000:]
    assert (exp / ".done").is_file()
    assert re.search(r"^# SLURM_JOB_ID=", text(exp / "train.log"), re.M)
    assert os.path.isfile(exp / "valid.acc.ave.pth")
    assert "Got SIGTERM" not in again.stderr and console(proc).count("Got SIGTERM") == 1
