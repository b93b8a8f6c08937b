"""``model: espnet_samplewise_transducer`` (espnet_warmup.transducer.espnet_model) in ESPnet's asr task.

A tiny Conformer-transducer is built by ESPnet's own ``ASRTask.build_model`` from parsed
arguments (as asr_train does), with warp-transducer absent; its loss and parameter gradients equal
those of the same model path with the batched torchaudio loss on the full joint, and ESPnet's
transducer beam search decodes it.
"""

from __future__ import annotations

import sys

import pytest
import torch
import torchaudio.functional as taf
from espnet2.asr_transducer.utils import get_transducer_task_io
from espnet2.tasks import asr as asr_task

from espnet_warmup.transducer import espnet_model
from espnet_warmup.transducer.espnet_model import MODEL_NAME, SampleWiseTransducerASRModel, register_model

TOKENS = ["<blank>", "<unk>", *"abcdefghij", "<sos/eos>"]


@pytest.fixture
def registered():
    had = MODEL_NAME in asr_task.model_choices.classes
    register_model()
    yield asr_task.model_choices
    if not had:
        asr_task.model_choices.classes.pop(MODEL_NAME, None)


def build(tmp_path, *extra):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(TOKENS) + "\n")
    argv = ["--output_dir", str(tmp_path / "exp"), "--token_list", str(tokens), "--input_size", "20",
            "--model", MODEL_NAME, "--encoder", "conformer", "--decoder", "transducer",
            "--encoder_conf", "output_size=32", "--encoder_conf", "attention_heads=2",
            "--encoder_conf", "linear_units=48", "--encoder_conf", "num_blocks=2",
            "--encoder_conf", "input_layer=conv2d", "--decoder_conf", "rnn_type=lstm",
            "--decoder_conf", "num_layers=1", "--decoder_conf", "hidden_size=32",
            "--joint_net_conf", "joint_space_size=24", "--model_conf", "ctc_weight=0.0",
            "--model_conf", "report_cer=false", "--model_conf", "report_wer=false", *extra]
    args = asr_task.ASRTask.get_parser().parse_args(argv)
    torch.manual_seed(0)
    return asr_task.ASRTask.build_model(args)


def batch():
    g = torch.Generator().manual_seed(1)
    speech = torch.randn(3, 120, 20, generator=g)
    speech_lens = torch.tensor([120, 90, 60])
    text = torch.randint(2, len(TOKENS) - 1, (3, 6), generator=g)
    text_lens = torch.tensor([6, 4, 2])
    text[1, 4:] = -1
    text[2, 2:] = -1
    return speech, speech_lens, text, text_lens


def reference_loss(model, speech, speech_lens, text):
    """The same model path, ESPnet's way: the full joint and a batched loss (torchaudio's)."""
    enc, enc_lens = model.encode(speech, speech_lens)
    dec_in, target, t_len, u_len = get_transducer_task_io(text, enc_lens, ignore_id=-1, blank_id=model.blank_id)
    dec = model.decoder(dec_in)
    joint = model.joint_network(enc.unsqueeze(2), dec.unsqueeze(1))
    return taf.rnnt_loss(joint, target, t_len.int(), u_len.int(), blank=model.blank_id, reduction="mean")


def test_builds_through_espnets_task_without_warp_transducer(registered, tmp_path):
    pytest.importorskip("espnet2.asr.encoder.conformer_encoder")
    assert "warprnnt_pytorch" not in sys.modules
    model = build(tmp_path)
    assert type(model) is SampleWiseTransducerASRModel and model.use_transducer_decoder
    assert "warprnnt_pytorch" not in sys.modules  # the placeholder lived only during __init__
    names = {n for n, _ in model.named_parameters()}
    assert {"joint_network.lin_enc.weight", "joint_network.lin_out.weight"} <= names


def test_loss_and_gradients_equal_the_batched_path(registered, tmp_path):
    model = build(tmp_path)
    model.eval()  # no dropout: both paths see the same encoder output
    speech, speech_lens, text, text_lens = batch()
    params = [p for p in model.parameters() if p.requires_grad]
    # (fresh copies for each path: ESPnet's encode may modify its input in place -- utterance MVN)
    loss, stats, _ = model(speech.clone(), speech_lens, text.clone(), text_lens)
    got = torch.autograd.grad(loss, params, allow_unused=True)
    ref = reference_loss(model, speech.clone(), speech_lens, text.clone())
    want = torch.autograd.grad(ref, params, allow_unused=True)
    assert abs(loss.item() - ref.item()) <= 1e-5 * abs(ref.item())
    assert stats["loss_transducer"].item() == loss.item()
    # per tensor, 1e-5 of its own largest entry; a parameter whose gradient is analytically zero (a
    # bias before a normalisation: rounding noise ~1e-9) is held to 1e-5 of 1e-4 of the largest one
    floor = 1e-4 * max(b.abs().max().item() for b in want if b is not None)
    for a, b in zip(got, want):
        if b is None:
            assert a is None or not a.any()
            continue
        assert (a - b).abs().max().item() <= 1e-5 * max(b.abs().max().item(), floor)


def test_trains_and_decodes(registered, tmp_path):
    from espnet2.asr.transducer.beam_search_transducer import BeamSearchTransducer

    model = build(tmp_path, "--model_conf", "transducer_fastemit_lambda=0.01")
    speech, speech_lens, text, text_lens = batch()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss, _, _ = model(speech, speech_lens, text, text_lens)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    search = BeamSearchTransducer(decoder=model.decoder, joint_network=model.joint_network, beam_size=2,
                                  token_list=TOKENS)
    with torch.no_grad():
        enc, _ = model.encode(speech[:1], speech_lens[:1])
        hyps = search(enc[0])
    assert hyps and hyps[0].yseq[0] == model.blank_id


def test_refusals(registered, tmp_path):
    with pytest.raises(ValueError, match="does not support multi-blank"):
        SampleWiseTransducerASRModel(vocab_size=3, token_list=["<blank>", "a", "<sos/eos>"], frontend=None,
                                     specaug=None, normalize=None, preencoder=None, encoder=None, postencoder=None,
                                     decoder=None, ctc=None, joint_network=torch.nn.Linear(1, 1),
                                     transducer_multi_blank_durations=[2])
    with pytest.raises(ValueError, match="needs a transducer: decoder: transducer"):
        SampleWiseTransducerASRModel(vocab_size=3, token_list=["<blank>", "a", "<sos/eos>"], frontend=None,
                                     specaug=None, normalize=None, preencoder=None, encoder=None, postencoder=None,
                                     decoder=None, ctc=None, joint_network=None)
    with pytest.raises(ValueError, match="fastemit_lambda must be a finite number >= 0"):
        build(tmp_path, "--model_conf", "transducer_fastemit_lambda=-1")


def test_register_is_idempotent_and_refuses_a_conflict(registered):
    assert register_model() is asr_task.model_choices
    assert asr_task.model_choices.classes[MODEL_NAME] is SampleWiseTransducerASRModel

    class Other:
        classes = {MODEL_NAME: object}

    with pytest.raises(ValueError, match="already taken"):
        register_model(Other)
    assert espnet_model.MODEL_NAME == MODEL_NAME
