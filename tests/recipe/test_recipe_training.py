"""Stage 11 reliability: an interrupted training resumes; a failing training names its log."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.recipe.conftest import clone_data, run_recipe

pytestmark = pytest.mark.slow

TINY_EXP = "conf/tuning/train_tiny_exp_warmup.yaml"


@pytest.fixture(scope="module")
def tiny_stats(tiny_data, tmp_path_factory):
    """A recipe dir after stage 10 on the tiny corpus."""
    recipe = clone_data(tiny_data, tmp_path_factory.mktemp("recipe_train") / "asr1")
    out = run_recipe(recipe, "--stage", "10", "--stop_stage", "10", "--train_config", TINY_EXP)
    assert out.returncode == 0, out.stderr[-3000:]
    return recipe


def test_interrupted_training_resumes_from_its_checkpoint(tiny_stats):
    recipe = tiny_stats
    exp = recipe / "exp/asr_train_tiny_exp_warmup"
    args = ["./run.sh", "--stage", "11", "--stop_stage", "11", "--train_config", TINY_EXP,
            "--train_args", "--max_epoch 3 --num_iters_per_epoch 40"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(args, cwd=recipe, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    # ESPnet saves checkpoint.pth at the end of an epoch, then logs the next epoch's start.
    while "2/3epoch started" not in ((exp / "train.log").read_text() if (exp / "train.log").exists() else ""):
        assert proc.poll() is None and time.time() < deadline, "training ended before it could be interrupted"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
    proc.wait(timeout=60)
    # run.pl kills the training job and closes its log with a trailer naming the signal.
    while "# Ended (code" not in (exp / "train.log").read_text():
        assert time.time() < deadline, "run.pl did not stop the training job"
        time.sleep(0.2)
    assert "signal" in (exp / "train.log").read_text().splitlines()[-1]
    assert not (exp / ".done_train").exists()

    out = run_recipe(recipe, *args[1:])
    assert out.returncode == 0, out.stderr[-3000:]
    log = (exp / "train.log").read_text()
    assert "The training was resumed using" in log
    assert "1/3epoch started" not in log  # epoch 1 is not trained again
    assert "2/3epoch started" in log and "3/3epoch started" in log
    assert (exp / "train.1.log").is_file()  # the interrupted run's log is kept (launch.py rotation)
    assert (exp / ".done_train").is_file()


def test_failing_training_exits_nonzero_and_names_its_log(tiny_stats):
    out = run_recipe(tiny_stats, "--stage", "11", "--stop_stage", "11", "--train_config", TINY_EXP,
                     "--asr_tag", "broken", "--train_args", "--no_such_trainer_option 1")
    assert out.returncode == 1
    assert "ERROR: Training exp/asr_train_tiny_exp_warmup_broken failed; read the log: exp/asr_train_tiny_exp_warmup_broken/train.log" in out.stderr
    assert "unrecognized arguments: --no_such_trainer_option" in out.stderr
    assert not (tiny_stats / "exp/asr_train_tiny_exp_warmup_broken/.done_train").exists()
