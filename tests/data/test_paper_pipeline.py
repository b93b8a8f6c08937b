"""The paper recipe dir trains and scores with a tiny config on a combined replica:
Common Voice English (48 kHz mp3) + MLS Italian (flac), through the shared engine.

The recipe dir is copied (its asr.sh/path.sh/utils links point at the engine) so runs do not
write into the checkout. Real ESPnet jobs throughout; one policy (exponential) for time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from espnet_warmup.recipe.datadir import read_kv
from tests.data import corpora_replicas as replicas
from tests.data.conftest import RECIPE

TINY = {
    "frontend_conf": {"n_fft": 256, "hop_length": 160, "n_mels": 20},
    "encoder": "transformer",
    "encoder_conf": {"output_size": 16, "attention_heads": 2, "linear_units": 16, "num_blocks": 1,
                     "input_layer": "conv2d"},
    "decoder": "transformer",
    "decoder_conf": {"attention_heads": 2, "linear_units": 16, "num_blocks": 1},
    "model_conf": {"ctc_weight": 0.5},
    "batch_type": "folded", "batch_size": 4, "max_epoch": 1, "num_iters_per_epoch": 3, "num_workers": 0,
    "optim": "adamw", "optim_conf": {"lr": 1e-3},
    "scheduler": "exponentialwarmuplr", "scheduler_conf": {"warmup_steps": 2, "alpha": 1.5},
    "best_model_criterion": [["valid", "acc", "max"]], "keep_nbest_models": 1, "num_att_plot": 0,
}


def copy_recipe(dst: Path) -> Path:
    dst.mkdir()
    for link in ("asr.sh", "path.sh", "utils"):
        (dst / link).symlink_to((RECIPE / link).resolve())
    for f in ("run.sh", "cmd.sh", "db.sh"):
        shutil.copy2(RECIPE / f, dst / f)
    shutil.copytree(RECIPE / "local", dst / "local")
    shutil.copytree(RECIPE / "conf", dst / "conf", symlinks=False)
    (dst / "conf" / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    (dst / "conf" / "tiny_decode.yaml").write_text("beam_size: 1\nctc_weight: 0.5\nmaxlenratio: 0.0\n")
    return dst


@pytest.mark.slow
def test_tiny_pipeline_trains_and_scores_on_two_corpora_two_languages(tmp_path):
    cv = replicas.commonvoice(tmp_path / "cv", "en")
    mls = replicas.mls(tmp_path / "mls", "it")
    recipe = copy_recipe(tmp_path / "asr1")
    env = {**os.environ, "COMMONVOICE": str(tmp_path / "cv"), "MLS": str(tmp_path / "mls")}
    cmd = ["./run.sh", "--corpus", "commonvoice_en mls_it", "--train_config", "conf/tiny.yaml",
           "--inference_config", "conf/tiny_decode.yaml", "--ngpu", "0", "--num_nodes", "1", "--nj", "1",
           "--inference_nj", "1", "--gpu_inference", "false", "--token_type", "char", "--stop_stage", "13"]
    res = subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    # Stage 1: one bilingual training set, one test set per corpus.
    train = read_kv(recipe / "data" / "train" / "text")
    assert set(train) == set(cv["train"]) | set(mls["train"])
    assert {v.split()[0] for v in train.values()} == {"<en>", "<it>"}
    # Stage 3: Common Voice's 48 kHz mp3 became 16 kHz audio ESPnet reads, as flac (this recipe's
    # --audio_format; ESPnet trained and decoded from it below).
    dump = recipe / "dump" / "raw" / "test_commonvoice_en_test"
    assert (dump / "audio_format").read_text().strip() == "flac"
    for path in read_kv(dump / "wav.scp").values():
        assert path.endswith(".flac") and sf.info(path).format == "FLAC" and sf.info(path).samplerate == 16000
    # Stages 5 and 11: char tokens include the language tags; the policy's scheduler was used.
    tokens = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert {"<en>", "<it>"} <= set(tokens)
    exp = recipe / "exp" / "asr_tiny"
    assert yaml.safe_load((exp / "config.yaml").read_text())["scheduler"] == "exponentialwarmuplr"
    assert (exp / "valid.acc.ave.pth").exists()
    # Stages 12-13: every test set decoded and scored, each reported with its language.
    for dset, expected in (("test_commonvoice_en_test", cv), ("test_mls_it_test", mls)):
        decode = exp / "tiny_decode_asr_model_valid.acc.ave" / dset
        assert set(read_kv(decode / "text")) == set(expected[dset])
        assert "Sum/Avg" in (decode / "score_wer" / "result.txt").read_text()
    results = (exp / "RESULTS.md").read_text()
    assert "|tiny_decode_asr_model_valid.acc.ave/test_commonvoice_en_test[en]|1|" in results
    assert "|tiny_decode_asr_model_valid.acc.ave/test_mls_it_test[it]|1|" in results
