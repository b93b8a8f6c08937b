"""The root recipe's four policy configs: identical except for the scheduler, as the comparison needs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from espnet_warmup.recipe.analysis.config_lr import lr_curve

ROOT = Path(__file__).resolve().parents[2]
#: the paper's four policies and their schedulers; a config of another family may join them
PAPER_SCHEDULERS = {
    "linear": "warmuplr",
    "owsm": "piecewiselinearwarmuplr",
    "poly": "polynomialwarmuplr",
    "exp": "exponentialwarmuplr",
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def policy_configs(prefix: str) -> dict[str, Path]:
    """{policy: path} of every ``<prefix><policy>_warmup.yaml`` (what run.sh picks up: for ``conf/train_``,
    not the Conformer-transducers ``conf/train_transducer_*_warmup.yaml``, a model of their own)."""
    head = ROOT / prefix
    return {p.name[len(head.name):-len("_warmup.yaml")]: p
            for p in sorted(head.parent.glob(f"{head.name}*_warmup.yaml"))
            if prefix != "conf/train_" or not p.name.startswith("train_transducer_")}


@pytest.mark.parametrize("prefix", ["conf/train_", "conf/tuning/train_tiny_"])
def test_policy_configs_differ_only_in_the_scheduler(prefix):
    configs = {p: load(path) for p, path in policy_configs(prefix).items()}
    shared = [{k: v for k, v in c.items() if k not in ("scheduler", "scheduler_conf")} for c in configs.values()]
    assert all(s == shared[0] for s in shared)
    schedulers = {p: c["scheduler"] for p, c in configs.items()}
    assert {p: schedulers.get(p) for p in PAPER_SCHEDULERS} == PAPER_SCHEDULERS


@pytest.mark.parametrize("prefix", ["conf/train_", "conf/tuning/train_tiny_"])
def test_owsm_last_knot_is_the_optimizer_lr(prefix):
    cfg = load(ROOT / f"{prefix}owsm_warmup.yaml")
    assert cfg["scheduler_conf"]["warmup_lr_list"][-1] == cfg["optim_conf"]["lr"]


def test_cpu_configs_use_the_measured_settings():
    cfg = load(ROOT / "conf/train_exp_warmup.yaml")
    assert cfg["optim_conf"]["lr"] == 1e-3  # 3e-3 diverged in the measurements
    assert cfg["model_conf"]["ctc_weight"] == 0.5
    assert cfg["encoder_conf"]["num_blocks"] == 4 and cfg["encoder_conf"]["output_size"] == 144
    assert cfg["num_iters_per_epoch"] * cfg["max_epoch"] == 600  # updates
    assert "normalize" not in cfg  # given by the engine at training time (breaks --collect_stats)


def test_all_policies_reach_the_same_peak_at_the_same_step():
    # Each config's curve as ESPnet would run it (its registered scheduler): no per-policy formula here.
    for p, path in policy_configs("conf/train_").items():
        curve = lr_curve(path, 300)
        assert curve.warmup_end == 250, p
        assert curve.lr_at(curve.warmup_end) == pytest.approx(1e-3), p
        assert max(curve.lrs) == pytest.approx(1e-3), p


# --------------------------------------------------------------------------- beyond the paper: families
#: the family configs (outside run.sh's default glob conf/train_*_warmup.yaml) and their schedules,
#: written out here from the formulas (docs/families.md): peak 1e-3, w = 250, T = 600, floor 1e-5
FAMILY_CONFIGS = {
    "conf/train_linear_cosine.yaml": "warmupcosinelr",
    "conf/train_wsd.yaml": "warmupstabledecaylr",
    "conf/train_exp_cosine.yaml": "warmupschedulelr",
}
PEAK, W, T, FLOOR = 1e-3, 250, 600, 1e-5


def _cosine(i):
    return FLOOR + (PEAK - FLOOR) * (1 + math.cos(math.pi * (i - W) / (T - W))) / 2


def _exp(i):
    return PEAK * math.expm1(1.5 * i / W) / math.expm1(1.5)


def _wsd(i):
    start = T - 0.2 * T  # 480
    if i <= start:
        return PEAK
    return FLOOR + (PEAK - FLOOR) * (1 - math.sqrt((i - start) / (T - start)))


EXPECTED = {
    "conf/train_linear_cosine.yaml": lambda i: PEAK * i / W if i < W else _cosine(min(i, T)),
    "conf/train_wsd.yaml": lambda i: PEAK * i / W if i < W else _wsd(min(i, T)),
    "conf/train_exp_cosine.yaml": lambda i: _exp(i) if i < W else _cosine(min(i, T)),
}


def test_family_configs_stay_out_of_run_sh_default_glob():
    default = {str(p.relative_to(ROOT)) for p in policy_configs("conf/train_").values()}
    assert not default & set(FAMILY_CONFIGS)
    assert len(default) == 4
    # run.sh's own selection: every conf/train_*_warmup.yaml except the transducers
    assert "case ${_c} in conf/train_transducer_*) ;; *) train_configs+=(\"${_c}\") ;; esac" in (
        ROOT / "run.sh").read_text()


# --------------------------------------------------------------------------- the Conformer-transducers
TRANSDUCER_SHARED = ("encoder", "encoder_conf", "frontend_conf", "specaug", "specaug_conf", "batch_type",
                     "batch_size", "accum_grad", "num_iters_per_epoch", "max_epoch", "grad_clip", "seed",
                     "optim", "optim_conf", "scheduler", "scheduler_conf")


def test_transducer_configs_are_the_four_policies_with_a_transducer_decoder():
    transducers = policy_configs("conf/train_transducer_")
    assert sorted(transducers) == sorted(PAPER_SCHEDULERS)
    configs = {p: load(path) for p, path in transducers.items()}
    strip = lambda c: {k: v for k, v in c.items() if k not in ("scheduler", "scheduler_conf")}  # noqa: E731
    assert all(strip(c) == strip(configs["exp"]) for c in configs.values())
    for p, cfg in configs.items():
        policy = load(ROOT / f"conf/train_{p}_warmup.yaml")
        # the policy's scheduler, optimizer (peak), budget, encoder and features: only the decoder differs
        assert {k: cfg.get(k) for k in TRANSDUCER_SHARED} == {k: policy.get(k) for k in TRANSDUCER_SHARED}, p
        assert cfg["scheduler"] == PAPER_SCHEDULERS[p]
    cfg = configs["exp"]
    assert (cfg["model"], cfg["decoder"], cfg["decoder_conf"]["rnn_type"]) == (
        "espnet_samplewise_transducer", "transducer", "lstm")
    assert cfg["model_conf"]["ctc_weight"] == 0.3 and cfg["joint_net_conf"]["joint_space_size"] > 0
    assert cfg["best_model_criterion"] == [["valid", "loss", "min"]]  # a transducer reports no accuracy


@pytest.mark.parametrize("rel", ["conf", "egs2/warmup_dilemma/asr1/conf"])
def test_transducer_configs_pass_check_config_and_pick_the_transducer_decoding(rel):
    from espnet_warmup.check_config import check_config
    from espnet_warmup.recipe.stages.model_kind import model_kind

    paths = sorted((ROOT / rel).glob("train_transducer_*_warmup.yaml"))
    assert len(paths) == 4
    for path in paths:
        assert check_config(path) == []
        assert model_kind(load(path)) == "transducer"
    decode = load(ROOT / rel / "decode_transducer.yaml")
    assert decode["beam_size"] > 1 and isinstance(decode["transducer_conf"], dict)
    run_sh = (ROOT / rel).parent / "run.sh"
    assert "--transducer_inference_config \"${transducer_inference_config}\"" in run_sh.read_text()
    assert "transducer_inference_config=conf/decode_transducer.yaml" in run_sh.read_text()


@pytest.mark.parametrize("rel", sorted(FAMILY_CONFIGS))
def test_family_configs_share_model_and_budget_with_the_policy_configs(rel):
    cfg = load(ROOT / rel)
    ref = load(ROOT / "conf/train_exp_warmup.yaml")
    strip = lambda c: {k: v for k, v in c.items() if k not in ("scheduler", "scheduler_conf")}  # noqa: E731
    assert strip(cfg) == strip(ref)
    assert cfg["scheduler"] == FAMILY_CONFIGS[rel]
    assert cfg["scheduler_conf"]["total_steps"] == cfg["max_epoch"] * cfg["num_iters_per_epoch"] // cfg["accum_grad"]


@pytest.mark.parametrize("rel", sorted(FAMILY_CONFIGS))
def test_family_configs_pass_check_config_and_give_the_expected_lr_curve(rel):
    from espnet_warmup.check_config import check_config

    assert check_config(ROOT / rel) == []
    curve = lr_curve(ROOT / rel, 700)
    assert (curve.warmup_end, curve.lr_at(W)) == (W, PEAK)
    assert curve.decay_marks == ([480, T] if "wsd" in rel else [T])
    want = EXPECTED[rel]
    for i, got in zip(curve.steps, curve.lrs):
        assert got == pytest.approx(want(i), rel=1e-12), i
    assert curve.lrs[-1] == pytest.approx(FLOOR) and min(curve.lrs[W:]) == pytest.approx(FLOOR)


MODEL_KEYS = ("encoder", "encoder_conf", "decoder", "decoder_conf", "model_conf", "frontend_conf", "specaug",
              "specaug_conf")


def test_finetune_configs_have_the_training_model_and_the_fine_tuning_recipe():
    train = load(ROOT / "conf/train_linear_warmup.yaml")
    configs = {p.name: load(p) for p in sorted((ROOT / "conf").glob("finetune_*.yaml"))}
    assert {"finetune_linear_warmup.yaml", "finetune_exp_warmup.yaml", "finetune_wsd.yaml"} <= set(configs)
    shared = [{k: v for k, v in c.items() if k not in ("scheduler", "scheduler_conf")} for c in configs.values()]
    assert all(s == shared[0] for s in shared)  # only the scheduler differs
    for name, c in configs.items():
        assert {k: c.get(k) for k in MODEL_KEYS} == {k: train.get(k) for k in MODEL_KEYS}, name
        assert c["optim"] == "adamw" and c["optim_conf"]["weight_decay"] == 0.01 and c["optim_conf"]["lr"] == 1e-4
        assert (c["grad_clip"], c["accum_grad"], c["freeze_param"]) == (2.0, 2, ["encoder"])
        assert c["scheduler_conf"]["warmup_steps"] == 500
        assert c["keep_nbest_models"] >= c["max_epoch"]  # every epoch is there for --select_by_wer
    assert configs["finetune_linear_warmup.yaml"]["scheduler"] == "warmuplr"
    assert configs["finetune_exp_warmup.yaml"]["scheduler"] == "exponentialwarmuplr"
    wsd = configs["finetune_wsd.yaml"]
    assert wsd["scheduler_conf"]["total_steps"] == wsd["max_epoch"] * wsd["num_iters_per_epoch"] // wsd["accum_grad"]


# --------------------------------------------------------------------------- the warmup guard's configs
@pytest.mark.parametrize("policy", ["linear", "poly", "exp"])
def test_guard_configs_are_the_policy_with_its_schedule_guarded(policy):
    guarded, plain = load(ROOT / f"conf/train_{policy}_guard.yaml"), load(ROOT / f"conf/train_{policy}_warmup.yaml")
    strip = lambda c: {k: v for k, v in c.items() if k not in ("scheduler", "scheduler_conf")}  # noqa: E731
    assert strip(guarded) == strip(plain)
    assert guarded["scheduler"] == "warmupguardlr"
    conf = guarded["scheduler_conf"]
    assert (conf["spike_factor"], conf["hold_steps"], conf["backoff"], conf["max_delay"]) == (5.0, 25, 0.5, 250)
    # the upper bound the guard never exceeds (and follows exactly without spikes): the policy's own LRs
    bound, own = lr_curve(ROOT / f"conf/train_{policy}_guard.yaml", 600), lr_curve(ROOT / f"conf/train_{policy}_warmup.yaml", 600)
    assert bound.lrs == pytest.approx(own.lrs, rel=1e-12)
    assert bound.warmup_end == 250
    # outside run.sh's default policies
    assert not str(ROOT / f"conf/train_{policy}_guard.yaml").endswith("_warmup.yaml")
