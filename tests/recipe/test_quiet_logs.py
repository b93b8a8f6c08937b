"""Recipe job logs hold what is about the run: no nltk download attempts, no flash-attention notice.

path.sh sets ESPNET_WARMUP_QUIET_IMPORTS=1; ESPnet's commands go through our launcher
(espnet_warmup/lazy_registration.py), as asr.sh's training, collect-stats and decoding jobs do.
"""

import importlib.util
import os
import subprocess

import pytest

from tests.recipe.conftest import make_recipe_dir

NOISE = ("[nltk_data]", "Failed to import Flash Attention")


def job(recipe, log, *cmd, quiet=None):
    env = dict(os.environ)
    env.pop("ESPNET_WARMUP_QUIET_IMPORTS", None)
    env.pop("VIRTUAL_ENV", None)
    if quiet is not None:
        env["ESPNET_WARMUP_QUIET_IMPORTS"] = quiet
    script = '. ./path.sh && run.pl "$@"'
    out = subprocess.run(["bash", "-c", script, "job", log, *cmd], cwd=recipe, capture_output=True, text=True,
                         timeout=300, env=env)
    return out, (recipe / log).read_text()


@pytest.mark.slow
def test_espnet_job_logs_of_the_recipe_have_no_import_noise(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out, log = job(recipe, "exp/log/print_config.log", "python3", "-m", "espnet_warmup", "-m",
                   "espnet2.bin.asr_train", "--print_config", "--scheduler", "exponentialwarmuplr")
    assert out.returncode == 0, log
    assert "scheduler: exponentialwarmuplr" in log and "# Accounting:" in log  # the job ran, Kaldi trailer
    assert [line for line in log.splitlines() if line.startswith(NOISE)] == []
    out, log = job(recipe, "exp/log/inference_help.log", "python3", "-m", "espnet_warmup", "-m",
                   "espnet2.bin.asr_inference", "--help")
    assert out.returncode == 0, log
    assert "--asr_model_file" in log
    assert [line for line in log.splitlines() if line.startswith(NOISE)] == []


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("flash_attn") is not None, reason="flash_attn is installed: no notice")
def test_the_switch_off_shows_what_it_keeps_out(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out, log = job(recipe, "exp/log/loud.log", "python3", "-m", "espnet_warmup", "-m", "espnet2.bin.asr_train",
                   "--print_config", quiet="0")
    assert out.returncode == 0, log
    assert "Failed to import Flash Attention, using ESPnet default: No module named 'flash_attn'" in log
