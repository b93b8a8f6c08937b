"""Fine-tuning through the recipe: --pretrained_model, a frozen encoder, checkpoint selection by dev WER.

Real ESPnet runs on the tiny corpus: a tiny model is trained (stage 10-11), then fine-tuned from its
model file with conf/tuning/finetune_tiny_exp_warmup.yaml (frozen encoder, 3 kept epochs) and
``--select_by_wer true`` (stages 11-13); a CTC-only fine-tune (no decoder: --ignore_init_mismatch);
then a constructed case where ESPnet's teacher-forced criterion and the dev WER disagree; then the
refusals, which happen before any training starts.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import torch

from tests.recipe.conftest import clone_data, run_recipe

pytestmark = pytest.mark.slow

PRE = "conf/tuning/train_tiny_linear_warmup.yaml"
FT = "conf/tuning/finetune_tiny_exp_warmup.yaml"
DECODE = "conf/tuning/decode_tiny.yaml"
PRE_MODEL = "exp/asr_train_tiny_linear_warmup/1epoch.pth"
FT_CTC = "conf/tuning/finetune_tiny_ctc.yaml"
FT_EXP = "exp/asr_finetune_tiny_exp_warmup"
CTC_EXP = "exp/asr_finetune_tiny_ctc"
TEST_DECODE = "decode_tiny_asr_model_valid.wer.best/test"


@pytest.fixture(scope="module")
def finetuned(tiny_data, tmp_path_factory):
    recipe = clone_data(tiny_data, tmp_path_factory.mktemp("recipe_finetune") / "asr1")
    pre = run_recipe(recipe, "--stage", "10", "--stop_stage", "11", "--train_config", PRE, "--nj", "1")
    assert pre.returncode == 0, pre.stderr[-4000:]
    # the hybrid and the CTC-only fine-tune side by side (run.sh's --train_jobs 2); the CTC-only model has no
    # decoder, so the pretrained decoder's tensors are skipped (--ignore_init_mismatch)
    out = run_recipe(recipe, "--stage", "11", "--stop_stage", "13", "--train_config", f"{FT} {FT_CTC}",
                     "--inference_config", DECODE, "--pretrained_model", PRE_MODEL, "--ignore_init_mismatch", "true",
                     "--select_by_wer", "true", "--inference_nj", "1")
    assert out.returncode == 0, out.stderr[-4000:]
    return recipe, out.stderr


def _is_bn_buffer(key: str) -> bool:
    return key.endswith(("running_mean", "running_var", "num_batches_tracked"))


def _state(path):
    return torch.load(path, map_location="cpu")


def test_the_frozen_encoder_is_the_checkpoints_and_the_rest_trained(finetuned):
    recipe, log = finetuned
    pre, exp = _state(recipe / PRE_MODEL), recipe / FT_EXP
    assert re.search(r"freeze_param encoder: \d+ of \d+ parameters frozen", log)
    assert re.search(rf"init_param {re.escape(PRE_MODEL)}: \d+ tensors, \d+ of \d+ parameters initialised", log)
    for epoch in (1, 2, 3):
        ft = _state(exp / f"{epoch}epoch.pth")
        assert set(ft) == set(pre)
        enc = [k for k in ft if k.startswith("encoder.") and not _is_bn_buffer(k)]
        assert enc and all(torch.equal(ft[k], pre[k]) for k in enc)  # initialised from it, never updated
        # freeze_param freezes parameters only: BatchNorm running statistics (the Conformer's convolution
        # module) still move in training mode (docs/finetune.md)
        bn = [k for k in ft if k.startswith("encoder.") and k.endswith("running_mean")]
        assert bn and all(not torch.equal(ft[k], pre[k]) for k in bn)
        other = [k for k in ft if k.startswith("decoder.") and k.endswith("weight")]
        assert any(not torch.equal(ft[k], pre[k]) for k in other)   # the decoder trained
    assert "--init_param " + PRE_MODEL in (exp / "train_record.yaml").read_text()


def test_stage_12_selects_the_epoch_of_the_lowest_dev_wer_and_decodes_the_tests_with_it(finetuned):
    recipe, log = finetuned
    exp = recipe / FT_EXP
    sel = json.loads((exp / "checkpoint_selection.json").read_text())
    assert [r["epoch"] for r in sel["rows"]] == [1, 2, 3]
    best = min(sel["rows"], key=lambda r: (r["wer"], r["cer"], -r["epoch"]))
    assert sel["best_epoch"] == best["epoch"]
    assert os.readlink(exp / "valid.wer.best.pth") == f"{best['epoch']}epoch.pth"
    for r in sel["rows"]:  # each row is a real decoding of the dev set, scored by the recipe's scorer
        scores = json.loads((exp / f"select_wer/{r['epoch']}epoch/dev/scores.json").read_text())
        assert scores["wer"]["all"]["err"] == r["wer"] and scores["wer"]["all"]["n_ref"] == r["words"] > 0
        assert "acc" in r["espnet"]  # ESPnet's own teacher-forced value, for comparison
    assert (exp / TEST_DECODE / "score_wer/result.txt").is_file()
    assert "valid.wer.best.pth" in (exp / "commands.sh").read_text()
    assert "| **chosen** |" in (exp / "checkpoint_selection.md").read_text()


def test_a_ctc_only_model_is_selected_by_its_decoded_wer(finetuned):
    recipe, log = finetuned
    assert re.search(rf"init_param {re.escape(PRE_MODEL)}: \d+ tensors, .*; \d+ checkpoint tensors skipped "
                     r"\(--ignore_init_mismatch\)", log)
    exp = recipe / CTC_EXP
    assert not any(k.startswith("decoder.") for k in _state(exp / "1epoch.pth"))
    sel = json.loads((exp / "checkpoint_selection.json").read_text())
    assert [r["epoch"] for r in sel["rows"]] == [1, 2, 3]
    assert all("acc" not in r["espnet"] or r["espnet"]["acc"] != r["espnet"]["acc"] for r in sel["rows"])  # none, or NaN
    assert sel["best_epoch"] == min(sel["rows"], key=lambda r: (r["wer"], r["cer"], -r["epoch"]))["epoch"]
    assert (exp / TEST_DECODE / "score_wer/result.txt").is_file()


def test_the_wer_choice_overrules_espnets_teacher_forced_criterion(finetuned):
    """Constructed: an epoch ESPnet's criterion did not choose (valid.acc.best.pth, its own pick) gets a CTC
    output layer that emits blank on every frame; its attention decoder, hence its logged acc, is untouched.
    Its CTC decoding is empty hypotheses (WER 100%: deletions only), fewer errors than the barely trained
    tiny models' insertions; the dev WER picks it, ESPnet's teacher-forced accuracy does not."""
    recipe, _ = finetuned
    exp = recipe / FT_EXP
    espnet_pick = int(os.readlink(exp / "valid.acc.best.pth").split("epoch")[0])
    sel = json.loads((exp / "checkpoint_selection.json").read_text())
    assert all(r["wer"] > 100.0 for r in sel["rows"]), sel["rows"]  # the premise: insertions everywhere
    target = next(r["epoch"] for r in sel["rows"] if r["epoch"] != espnet_pick)
    state = _state(exp / f"{target}epoch.pth")
    state["ctc.ctc_lo.bias"][0] = 1e4  # blank wins every frame
    torch.save(state, exp / f"{target}epoch.pth")
    out = run_recipe(recipe, "--stage", "12", "--stop_stage", "12", "--train_config", FT, "--inference_config", DECODE,
                     "--select_by_wer", "true", "--inference_nj", "1")
    assert out.returncode == 0, out.stderr[-4000:]
    again = json.loads((exp / "checkpoint_selection.json").read_text())
    rows = {r["epoch"]: r for r in again["rows"]}
    assert rows[target]["wer"] == 100.0
    assert again["best_epoch"] == target != espnet_pick
    assert os.readlink(exp / "valid.wer.best.pth") == f"{target}epoch.pth"
    # only the changed checkpoint was decoded again; the test set follows the new choice
    assert out.stderr.count("Stage 12: Decoding: checkpoint selection:") == 1
    assert f"checkpoint selection: {FT_EXP}/{target}epoch.pth" in out.stderr
    assert re.search(rf"Stage 12: Decoding: {FT_EXP} on test", out.stderr)


def test_refusals_come_before_any_training(finetuned):
    recipe, _ = finetuned
    base = ["--stage", "11", "--stop_stage", "11", "--train_config", FT, "--asr_tag", "bad"]
    missing = run_recipe(recipe, *base, "--pretrained_model", "exp/none/model.pth")
    assert missing.returncode != 0
    assert "--pretrained_model: file not found: exp/none/model.pth" in missing.stderr
    # one check lists every problem: a shape mismatch (the parameter, both shapes) and a freeze_param
    # entry that matches nothing
    bad = run_recipe(recipe, *base, "--pretrained_model", PRE_MODEL,
                     "--train_args", "--decoder_conf linear_units=24 --freeze_param encoders")
    assert bad.returncode != 0
    assert re.search(r"ERROR: init_param \S+: decoder\.decoders\.0\.feed_forward\.w_1\.weight: "
                     r"checkpoint shape \[16, 16\], model shape \[24, 16\]", bad.stderr), bad.stderr[-3000:]
    assert "ERROR: freeze_param: 'encoders' matches no parameter" in bad.stderr
    assert "no training was started" in bad.stderr
    assert not (recipe / f"{FT_EXP}_bad" / "checkpoint.pth").exists()
    assert not (recipe / f"{FT_EXP}_bad" / "train.log").exists()
