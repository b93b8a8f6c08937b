"""espnet_warmup.recipe.stages.model_kind: which configs are transducers, and the refusals."""

from __future__ import annotations

import pytest

from espnet_warmup.espnet_config import ConfigError
from espnet_warmup.recipe.stages import model_kind as mk

OURS = {"model": "espnet_samplewise_transducer", "decoder": "transducer"}


def test_a_transducer_decoder_makes_a_transducer_and_anything_else_an_attention_model():
    assert mk.model_kind(OURS) == "transducer"
    assert mk.model_kind({"decoder": "transformer"}) == "attention"
    assert mk.model_kind({}) == "attention"  # ESPnet's default decoder (rnn) or CTC-only: not a transducer
    assert mk.model_kind({"decoder": "transformer"}, "--decoder transducer --model espnet_samplewise_transducer") == (
        "transducer")  # --train_args win over the config, as in ESPnet


def test_our_model_without_a_transducer_decoder_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"^c.yaml: model: espnet_samplewise_transducer \(the sample-wise RNN-T "
                                          r"loss\) needs decoder: transducer, got decoder: transformer; use"):
        mk.model_kind({**OURS, "decoder": "transformer"}, path="c.yaml")
    with pytest.raises(ConfigError, match="got decoder: None"):
        mk.model_kind(OURS, "--decoder=none", path="c.yaml")


def test_espnets_own_transducer_without_warp_transducer_is_refused_naming_our_model(monkeypatch):
    monkeypatch.setattr(mk.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="decoder: transducer with model: espnet needs warp-transducer "
                                          r"\(warprnnt_pytorch\), which is not installed; use model: "
                                          "espnet_samplewise_transducer"):
        mk.model_kind({"decoder": "transducer"}, path="c.yaml")


def test_the_command_prints_one_kind_per_config_or_every_error(tmp_path, capsys):
    good, att, bad = tmp_path / "t.yaml", tmp_path / "a.yaml", tmp_path / "b.yaml"
    good.write_text("model: espnet_samplewise_transducer\ndecoder: transducer\n")
    att.write_text("decoder: transformer\n")
    bad.write_text("model: espnet_samplewise_transducer\n")
    assert mk.main([str(good), str(att)]) == 0
    assert capsys.readouterr().out == "transducer\nattention\n"
    assert mk.main([str(good), str(bad), str(tmp_path / "missing.yaml")]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.splitlines()[0].startswith(f"ERROR: {bad}: model: espnet_samplewise_transducer")
    assert out.err.splitlines()[1].startswith(f"ERROR: {tmp_path / 'missing.yaml'}: cannot read the config")
