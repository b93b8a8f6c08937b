"""bench/guard_rescue.py: its two configs (the policy, the policy under the guard) and its per-run table."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from bench_module import load_bench

ROOT = Path(__file__).resolve().parents[2]


def _module():
    return load_bench("guard_rescue")


def test_the_two_configs_differ_in_the_scheduler_only_and_carry_the_setting_and_peak(tmp_path):
    mod = _module()
    plain = yaml.safe_load((tmp_path / mod.write_config(tmp_path, "deep12_postln", "conf/train_poly_warmup.yaml",
                                                         1.0, "a")).read_text())
    guarded = yaml.safe_load((tmp_path / mod.write_config(tmp_path, "deep12_postln", "conf/train_poly_guard.yaml",
                                                           1.0, "b")).read_text())
    assert (plain["encoder_conf"]["num_blocks"], plain["encoder_conf"]["normalize_before"]) == (12, False)
    assert plain["optim_conf"]["lr"] == guarded["optim_conf"]["lr"] == 1.0
    assert plain["scheduler"] == "polynomialwarmuplr" and guarded["scheduler"] == "warmupguardlr"
    assert guarded["scheduler_conf"]["schedule"] == "polynomialwarmuplr"
    assert guarded["scheduler_conf"]["schedule_conf"] == plain["scheduler_conf"]  # the same schedule, guarded
    assert {k: v for k, v in plain.items() if not k.startswith("scheduler")} == \
        {k: v for k, v in guarded.items() if not k.startswith("scheduler")}


LOG = """[vm] 2026-12-03 10:00:00,000 (trainer:811) INFO: 1epoch:train:{a}-{b}batch: iter_time=0.003, \
forward_time=0.008, loss={loss}, backward_time=0.003, grad_norm={g}, clip=100.000, loss_scale=1.000, \
optim_step_time=0.002, optim0_lr0=1.000e-01, train_time=0.019
"""


def _exp(root: Path, name: str, losses, norms, guard=(), wer=None, finished=True) -> Path:
    exp = root / "exp" / name
    exp.mkdir(parents=True)
    lines = [LOG.format(a=2 * i + 1, b=2 * i + 2, loss=f"{x:.3f}", g=f"{g:.3f}") for i, (x, g) in enumerate(zip(losses, norms))]
    if finished:
        lines.append("[vm] 2026-12-03 10:00:01,000 (trainer:400) INFO: The training was finished at 1 epochs\n")
    (exp / "train.log").write_text("".join(lines))
    if guard:
        (exp / "warmup_guard.log").write_text("".join(json.dumps({"update": u}) + "\n" for u in guard))
    if wer is not None:
        (exp / "decode_x" / "test").mkdir(parents=True)
        (exp / "decode_x" / "test" / "scores.json").write_text(json.dumps({"wer": {"all": {"err": wer}}}))
    return exp


def test_the_table_has_each_runs_verdict_interventions_and_wer_and_the_means(tmp_path):
    mod = _module()
    n = 20
    _exp(tmp_path, "asr_p_seed1", [10.0 + 2 * i for i in range(n)], [1.0] * n, wer=99.5)  # loss rising: diverged
    _exp(tmp_path, "asr_g_seed1", [10.0 - 0.1 * i for i in range(n)], [1.0] * n, guard=(7, 12), wer=8.0)
    res = mod.summarize(tmp_path, {"poly": "rescue_conf/p.yaml", "poly + guard": "rescue_conf/g.yaml"}, ["1", "2"],
                        tmp_path / "out.lr1.0", {"setting": "deep12_postln", "policy": "poly", "peak": 1.0,
                                           "policy_config": "conf/train_poly_warmup.yaml"})
    p, g = res["runs"]["poly"][0], res["runs"]["poly + guard"][0]
    assert p["status"] == "diverged" and p["test_wer"] == 99.5 and p["interventions"] == 0
    assert g["status"] == "stable" and g["interventions"] == 2 and g["intervention_updates"] == [7, 12]
    assert res["summary"]["poly"]["diverged"] == 1 and res["summary"]["poly + guard"]["diverged"] == 0
    md = (tmp_path / "out.lr1.0.md").read_text()
    assert "|poly + guard|1|stable|8.1|1.0|2 (7,12)|8.0|" in md
    assert "|poly|2|not run|" in md  # seed 2 has no exp dir
    assert "|poly + guard|0 of 1|" in md
