"""The paper-scale configs of egs2/warmup_dilemma/asr1: the 878M model and four policies.

Builds the real ESPnet model (ASRTask.build_model) from each config with a 16k token list,
as ESPnet's trainer does, and checks the scheduler values against the paper.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "warmup_dilemma" / "asr1"
POLICIES = ("linear", "owsm", "poly", "exp")


def _load(policy: str) -> dict:
    return yaml.safe_load((RECIPE / "conf" / f"train_{policy}_warmup.yaml").read_text())


def test_paper_configs_differ_only_in_the_scheduler():
    configs = {p: _load(p) for p in POLICIES}
    strip = lambda c: {k: v for k, v in c.items() if k not in ("scheduler", "scheduler_conf")}
    base = strip(configs["linear"])
    for policy, cfg in configs.items():
        assert strip(cfg) == base, policy
    assert {p: c["scheduler"] for p, c in configs.items()} == {
        "linear": "warmuplr",
        "owsm": "piecewiselinearwarmuplr",
        "poly": "polynomialwarmuplr",
        "exp": "exponentialwarmuplr",
    }


def test_paper_configs_carry_the_paper_hyperparameters():
    cfg = _load("exp")
    enc, dec = cfg["encoder_conf"], cfg["decoder_conf"]
    assert (cfg["encoder"], enc["num_blocks"], enc["output_size"], enc["attention_heads"]) == (
        "conformer", 24, 1024, 16)
    assert (enc["linear_units"], enc["input_layer"], enc["interctc_layer_idx"]) == (4096, "conv2d", [16])
    assert (cfg["decoder"], dec["num_blocks"], dec["attention_heads"], dec["linear_units"]) == (
        "transformer", 12, 16, 4096)
    assert cfg["optim"] == "adamw"
    assert cfg["optim_conf"] == {"lr": 2e-4, "betas": [0.9, 0.98], "eps": 1e-8, "weight_decay": 1e-3}
    assert cfg["grad_clip"] == 10.0
    mc = cfg["model_conf"]
    assert mc["lsm_weight"] == 0.1
    # 1.0*CTC@16 + 5.0*CE + 2.0*CTC@final, divided by 8 (ESPnet's weights sum to 1):
    ctc16 = mc["ctc_weight"] * mc["interctc_weight"]
    ctc_final = mc["ctc_weight"] * (1 - mc["interctc_weight"])
    ce = 1 - mc["ctc_weight"]
    assert [8 * ctc16, 8 * ce, 8 * ctc_final] == pytest.approx([1.0, 5.0, 2.0])
    assert _load("linear")["scheduler_conf"] == {"warmup_steps": 50000}
    assert _load("owsm")["scheduler_conf"] == {
        "warmup_steps_list": [0, 25000, 50000], "warmup_lr_list": [0.0, 2e-5, 2e-4]}
    assert _load("poly")["scheduler_conf"] == {"warmup_steps": 50000, "power": 1.5}
    assert _load("exp")["scheduler_conf"] == {"warmup_steps": 50000, "alpha": 1.5}


@pytest.mark.slow
def test_paper_model_has_878M_parameters_with_a_16k_vocabulary(tmp_path):
    from espnet2.tasks.asr import ASRTask

    import espnet_warmup

    espnet_warmup.register()
    tokens = ["<blank>", "<unk>", *[f"tok{i}" for i in range(16000 - 3)], "<sos/eos>"]
    token_list = tmp_path / "tokens.txt"
    token_list.write_text("\n".join(tokens) + "\n")
    parser = ASRTask.get_parser()
    args = parser.parse_args([
        "--config", str(RECIPE / "conf" / "train_exp_warmup.yaml"),
        "--token_list", str(token_list), "--token_type", "bpe",
        "--output_dir", str(tmp_path / "exp"),
    ])
    model = ASRTask.build_model(args)
    assert len(tokens) == 16000
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == pytest.approx(878e6, rel=0.03), n_params


def _load_transducer(policy: str) -> dict:
    return yaml.safe_load((RECIPE / "conf" / f"train_transducer_{policy}_warmup.yaml").read_text())


def test_paper_transducer_configs_are_the_paper_policies_with_a_transducer_decoder():
    """The four paper-scale Conformer-transducers: each is its policy's config (encoder, data, batches,
    budget, optimizer, scheduler) with the attention decoder replaced by a transducer one."""
    decoder_keys = ("model", "decoder", "decoder_conf", "joint_net_conf", "model_conf", "best_model_criterion")
    for policy in POLICIES:
        cfg, ref = _load_transducer(policy), _load(policy)
        assert {k: v for k, v in cfg.items() if k not in decoder_keys} == {
            k: v for k, v in ref.items() if k not in decoder_keys}, policy
    cfg = _load_transducer("exp")
    assert (cfg["model"], cfg["decoder"]) == ("espnet_samplewise_transducer", "transducer")
    assert cfg["decoder_conf"]["hidden_size"] == cfg["joint_net_conf"]["joint_space_size"] == 1024
    assert cfg["model_conf"]["ctc_weight"] == 0.3 and cfg["encoder_conf"]["output_size"] == 1024
    assert cfg["best_model_criterion"] == [["valid", "loss", "min"]]
