"""The fine-tuning check (espnet_warmup.recipe.stages.init_check) on a real ESPnet model.

The model is built by ESPnet from a tiny training's arguments; the checkpoints are real state dicts
(of this model, of a differently sized one, and ESPnet's resume checkpoint layout). Each accepted
spec is also loaded with ESPnet's own ``load_pretrained_model``: what our plan says is initialised
is exactly what ESPnet changes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from espnet_warmup.recipe.stages import init_check
from tests import tiny_asr


def _args(data, tmp, *extra):
    cmd = tiny_asr.train_command(data, tmp / "exp", *extra)
    return cmd[cmd.index("espnet2.bin.asr_train") + 1:]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("init_check")
    data = tiny_asr.make_data(tmp)
    argv = _args(data, tmp)
    _, model = init_check.build(argv)
    src = init_check.build(argv)[1]  # same architecture; +1 makes every value differ from the model's
    src_state = {k: v + 1.0 if v.is_floating_point() else v for k, v in src.state_dict().items()}
    ckpt = tmp / "model.pth"
    torch.save(src_state, ckpt)
    # a model with another decoder width: shapes differ in the decoder only
    wide = init_check.build(argv + ["--decoder_conf", "linear_units=24"])[1]
    wide_ckpt = tmp / "wide.pth"
    torch.save({k: v + 1.0 if v.is_floating_point() else v for k, v in wide.state_dict().items()}, wide_ckpt)
    resume = tmp / "checkpoint.pth"
    torch.save({"model": src_state, "optimizers": [{}], "reporter": {}, "schedulers": []}, resume)
    return dict(tmp=tmp, data=data, argv=argv, model=model, ckpt=ckpt, wide=wide_ckpt, resume=resume,
                src_state=src_state)


def _espnet_loaded(setup, spec: str, ignore: bool) -> set[str]:
    """The state-dict keys ESPnet's own loader changes in a fresh copy of the model."""
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

    _, model = init_check.build(setup["argv"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    load_pretrained_model(spec, model, ignore)
    return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


@pytest.mark.parametrize("suffix", ["", ":encoder:encoder", ":::decoder", ":encoder:encoder:encoder.embed", ":decoder"])
def test_the_plan_initialises_exactly_what_espnets_loader_changes(setup, suffix):
    spec = f"{setup['ckpt']}{suffix}"
    p = init_check.plan(init_check.InitSpec.parse(spec), setup["model"])
    assert init_check.plan_problems(p, False) == [] or suffix == ":decoder"
    if suffix == ":decoder":  # src decoder, dst the whole model: its keys are the model's nothing
        problems = init_check.plan_problems(p, False)
        assert any("the model has no" in m for m in problems), problems
        return
    changed = _espnet_loaded(setup, spec, False)
    assert set(p.loaded) == changed
    if suffix == ":::decoder":  # exclude keys are plain prefixes
        assert changed and not any(k.startswith("decoder") for k in changed)
    if suffix == ":encoder:encoder:encoder.embed":  # excludes apply before src_key is stripped
        assert not any(k.startswith("encoder.embed") for k in changed)
        assert any(k.startswith("encoder.encoders") for k in changed)


def test_a_shape_mismatch_names_the_parameter_and_both_shapes(setup):
    p = init_check.plan(init_check.InitSpec.parse(str(setup["wide"])), setup["model"])
    problems = init_check.plan_problems(p, False)
    line = next(m for m in problems if "decoder.decoders.0.feed_forward.w_1.weight" in m)
    assert "checkpoint shape [24, 16], model shape [16, 16]" in line
    assert "--ignore_init_mismatch true" in line
    assert not any("encoder." in m.split(": ")[1] for m in problems)  # the encoder matches
    # --ignore_init_mismatch: the mismatched tensors are skipped, the rest loads as ESPnet loads it
    assert init_check.plan_problems(p, True) == []
    assert set(p.loaded) == _espnet_loaded(setup, str(setup["wide"]), True)
    assert "decoder.decoders.0.feed_forward.w_1.weight" not in p.loaded


def test_refusals_name_the_file_and_the_cause(setup):
    model = setup["model"]
    with pytest.raises(init_check.InitError, match=r"init_param: .*missing\.pth: file not found"):
        init_check.plan(init_check.InitSpec.parse(str(setup["tmp"] / "missing.pth")), model)
    with pytest.raises(init_check.InitError, match=r"resume checkpoint .*<N>epoch\.pth"):
        init_check.plan(init_check.InitSpec.parse(str(setup["resume"])), model)
    bad = setup["tmp"] / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(init_check.InitError, match=r"bad\.pth: cannot be loaded"):
        init_check.plan(init_check.InitSpec.parse(str(bad)), model)
    with pytest.raises(init_check.InitError, match=r"dst_key 'nothere' names no sub-module .*encoder"):
        init_check.plan(init_check.InitSpec.parse(f"{setup['ckpt']}::nothere"), model)
    # a trailing ':' is an empty exclude key: ESPnet drops every tensor, silently; we refuse
    spec = f"{setup['ckpt']}:encoder:encoder:"
    assert _espnet_loaded(setup, spec, False) == set()
    problems = init_check.plan_problems(init_check.plan(init_check.InitSpec.parse(spec), model), False)
    assert len(problems) == 1 and "empty exclude key" in problems[0]
    # a src_key that matches nothing
    problems = init_check.plan_problems(init_check.plan(init_check.InitSpec.parse(f"{setup['ckpt']}:nope:encoder"), model), True)
    assert problems and "initialises nothing" in problems[0]


def test_freeze_param_uses_the_trainers_rule_and_refuses_a_pattern_matching_nothing(setup):
    model = setup["model"]
    hits = init_check.freeze_matches(model, ["encoder", "encoder.embed", "decode", "ctc.ctc_lo.weight"])
    assert hits["encoder"] and all(n.startswith("encoder.") for n in hits["encoder"])
    assert hits["ctc.ctc_lo.weight"] == ["ctc.ctc_lo.weight"]
    assert hits["decode"] == []  # not a prefix match: "decode" is not "decoder"
    problems = init_check.freeze_problems(model, ["encoder", "decode"])
    assert len(problems) == 1 and "'decode' matches no parameter" in problems[0] and "decoder" in problems[0]


def test_the_cli_checks_a_whole_training_command_and_reports_what_it_sets(setup):
    cmd = [sys.executable, "-m", "espnet_warmup.recipe.stages.init_check", "--"]
    ok = subprocess.run(cmd + setup["argv"] + ["--init_param", str(setup["ckpt"]), "--freeze_param", "encoder"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ""
    assert "parameters initialised" in ok.stderr and "parameters frozen" in ok.stderr
    bad = subprocess.run(cmd + setup["argv"] + ["--init_param", str(setup["wide"]), "--freeze_param", "encoders"],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    errors = [line for line in bad.stderr.splitlines() if line.startswith("ERROR: ")]
    assert any("checkpoint shape [24, 16], model shape [16, 16]" in e for e in errors)
    assert any("'encoders' matches no parameter" in e for e in errors)
    # nothing to check: no ESPnet import, exit 0 at once
    plain = setup["tmp"] / "plain.yaml"
    plain.write_text("max_epoch: 1\n")
    none = subprocess.run(cmd + setup["argv"] + ["--config", str(plain)], capture_output=True, text=True)
    assert none.returncode == 0 and none.stderr == ""


def test_the_task_option_names_the_allowed_tasks(capsys):
    assert init_check.main(["--task", "mt", "--", "--init_param", "m.pth"]) == 2
    err = capsys.readouterr().err
    assert "--task 'mt': allowed: asr, s2t" in err
    # without init_param/freeze_param nothing is built, whatever the task
    assert init_check.main(["--task", "s2t", "--", "--max_epoch", "1"]) == 0
