"""A Conformer-transducer through the recipe, beside an attention/CTC model: real ESPnet runs, no mocks.

One module-scoped ``./run.sh --stage 10`` on the tiny corpus trains ``conf/tuning/train_tiny_transducer.yaml``
(``model: espnet_samplewise_transducer``, the sample-wise RNN-T loss; registered by our launcher) and the tiny
attention/CTC config side by side, decodes each with what its kind needs -- the transducer with ESPnet's
transducer beam search and run.sh's ``conf/decode_transducer.yaml``, picked because the config has
``decoder: transducer``; the other with ``--inference_config`` -- scores both and reports them in one table.
Then a config that names our model without a transducer decoder is refused before any stage runs.
"""

from __future__ import annotations

import re

import pytest

from espnet_warmup.recipe.datadir import read_kv
from tests.recipe.conftest import clone_data, run_recipe

pytestmark = pytest.mark.slow

TRANSDUCER = "conf/tuning/train_tiny_transducer.yaml"
ATTENTION = "conf/tuning/train_tiny_exp_warmup.yaml"
T_EXP = "exp/asr_train_tiny_transducer"
A_EXP = "exp/asr_train_tiny_exp_warmup"
T_DECODE = "decode_transducer_asr_model_valid.loss.ave"  # run.sh's --transducer_inference_config, valid.loss.ave.pth
A_DECODE = "decode_tiny_asr_model_valid.acc.ave"


@pytest.fixture(scope="module")
def recipe(tiny_data, tmp_path_factory):
    recipe = clone_data(tiny_data, tmp_path_factory.mktemp("recipe_transducer") / "asr1")
    out = run_recipe(recipe, "--stage", "10", "--train_config", f"{TRANSDUCER} {ATTENTION}",
                     "--inference_config", "conf/tuning/decode_tiny.yaml", "--nj", "1", "--inference_nj", "1")
    assert out.returncode == 0, out.stderr[-4000:]
    (recipe / "run_stage10.log").write_text(out.stderr)
    return recipe, out.stderr


def test_the_transducer_trains_through_the_launcher_with_the_sample_wise_loss_and_its_loss_falls(recipe):
    recipe, _ = recipe
    exp = recipe / T_EXP
    log = (exp / "train.log").read_text()
    assert "-m espnet_warmup -m espnet2.bin.asr_train" in log and "# Ended (code 0)" in log
    assert "SampleWiseTransducerASRModel" in log  # ESPnet prints the model it built
    assert "model: espnet_samplewise_transducer" in (exp / "config.yaml").read_text()
    epochs = {}
    for m in re.finditer(r"(\d+)epoch results: \[train\] .*?\bloss=([\d.]+).*?\[valid\] .*?\bloss=([\d.]+)", log):
        epochs[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    assert sorted(epochs) == [1, 2, 3, 4]
    train, valid = [epochs[e][0] for e in sorted(epochs)], [epochs[e][1] for e in sorted(epochs)]
    assert train[-1] < 0.8 * train[0], train
    assert valid == sorted(valid, reverse=True) and valid[-1] < valid[0], valid  # the same dev set every epoch
    # a transducer reports no accuracy: the recipe decodes the model averaged by validation loss
    assert (exp / "valid.loss.ave.pth").is_file() and not (exp / "valid.acc.ave.pth").exists()


def test_the_transducer_is_decoded_by_espnets_transducer_beam_search_with_the_transducer_config(recipe):
    recipe, log = recipe
    dec = recipe / T_EXP / T_DECODE / "test"
    assert re.search(rf"Stage 12: Decoding: {T_EXP} on test \(1 jobs; transducer beam search, decoding config "
                     rf"conf/decode_transducer.yaml\) -> {T_EXP}/{T_DECODE}/test", log)
    assert re.search(rf"Stage 12: Decoding: {A_EXP} on test \(1 jobs; decoding config conf/tuning/decode_tiny.yaml\)",
                     log)
    inference_log = (dec / "logdir/asr_inference.1.log").read_text()
    assert "--config conf/decode_transducer.yaml" in inference_log
    assert "valid.loss.ave.pth" in inference_log
    keys = list(read_kv(recipe / "dump/raw/test/wav.scp"))
    # asr_inference's transducer branch (BeamSearchTransducer) logs these per utterance; its attention branch
    # does not (it logs its BeamSearch object instead)
    assert inference_log.count("encoder output length:") == len(keys) == 8
    assert inference_log.count("normalized log probability:") == len(keys)
    assert "Beam_search:" not in inference_log
    assert list(read_kv(dec / "text")) == keys  # one hypothesis per test utterance
    assert "Beam_search:" in (recipe / A_EXP / A_DECODE / "test/logdir/asr_inference.1.log").read_text()


def test_the_transducer_is_scored_and_reported_next_to_the_attention_model(recipe):
    recipe, _ = recipe
    result = (recipe / T_EXP / T_DECODE / "test/score_wer/result.txt").read_text()
    assert re.search(r"Sum/Avg\s*\|\s*8\s", result)
    md = (recipe / T_EXP / "RESULTS.md").read_text()
    wer = re.search(rf"^\|{T_DECODE}/test\|8\|\d+\|[\d.]+\|[\d.]+\|[\d.]+\|[\d.]+\|([\d.]+)\|", md, re.M)
    assert wer and 0 <= float(wer.group(1)) <= 100 + 1e-9
    report = (recipe / "RESULTS.md").read_text()
    lines = report.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("|policy (exp dir)|"))
    columns = lines[head].split("|")[1:-1]
    rows = {}
    for line in lines[head + 2:]:
        if not line.startswith("|"):
            break
        cells = line.split("|")[1:-1]
        rows[cells[0]] = dict(zip(columns, cells))
    assert set(rows) == {"asr_train_tiny_transducer", "asr_train_tiny_exp_warmup"}
    t, a = rows["asr_train_tiny_transducer"], rows["asr_train_tiny_exp_warmup"]
    assert t["model"] == "conformer + transducer (CTC 0.3)" and a["model"] == "conformer + transformer (CTC 0.5)"
    assert t["scheduler"] == a["scheduler"] == "exponentialwarmuplr"
    assert float(t["test WER"]) == pytest.approx(float(wer.group(1)), abs=0.01)
    acc_column = next(c for c in columns if c.startswith("updates to valid acc"))
    assert t[acc_column] == "-" and a[acc_column] != "-"  # a transducer reports no accuracy
    assert f"asr_train_tiny_transducer: `{T_DECODE}`" in report and f"asr_train_tiny_exp_warmup: `{A_DECODE}`" in report


def test_our_model_without_a_transducer_decoder_is_refused_before_any_stage(tiny_data, tmp_path):
    recipe = clone_data(tiny_data, tmp_path / "asr1")
    bad = recipe / "bad_transducer.yaml"
    bad.write_text((recipe / TRANSDUCER).read_text().replace("decoder: transducer", "decoder: transformer"))
    out = run_recipe(recipe, "--stage", "10", "--train_config", str(bad))
    assert out.returncode == 1
    assert (f"ERROR: {bad}: model: espnet_samplewise_transducer (the sample-wise RNN-T loss) needs decoder: "
            f"transducer, got decoder: transformer") in out.stderr
    assert "--train_config: see the error above; nothing was run" in out.stderr
    assert "Stage 10" not in out.stderr and not (recipe / "exp").exists()
