"""OWSM's task: every scheduler of ours in real ``espnet2.bin.s2t_train`` runs, and an s2t fine-tuning start.

OWSM users train and fine-tune with ESPnet's s2t task, not asr_train. Through our launcher
(``python -m espnet_warmup -m espnet2.bin.s2t_train``) on a tiny OWSM-style set-up (tests/s2t_tiny.py:
``<en><asr><notimestamps>`` targets, ``text_prev``/``text_ctc``, a BPE with OWSM's symbols):

* every registered scheduler trains, and the LR ESPnet logs after every update equals the closed form
  (tensorboard, 1e-6 relative; as in test_espnet_training.py, the value logged after update k is lr(k + 1));
* the warmup guard sees s2t's pre-clip grad norm (a hair-trigger guard intervenes, its entries' next_lr
  are the LRs ESPnet logs, never above the unguarded schedule);
* a fine-tuning run from an s2t model (``--init_param``, ``--freeze_param encoder``, AdamW, grad_clip 2,
  accum_grad 2) leaves every encoder tensor bit-identical to the checkpoint and changes the decoder;
* the recipe's fine-tuning check (``init_check --task s2t``) builds the s2t model: it counts the frozen
  parameters, and refuses a shape mismatch naming the parameter and both shapes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch

from espnet_warmup import families, registry
from espnet_warmup import schedules as S
from s2t_tiny import make_s2t_data, run_s2t, s2t_command
from test_espnet_training import tensorboard_lrs
from tiny_asr import logged_lrs

pytestmark = pytest.mark.slow

PEAK, ITERS, EPOCHS = 5e-4, 6, 2  # 12 updates (accum_grad 1)
UPDATES = ITERS * EPOCHS
GUARD_W = 8

#: registry name -> (scheduler_conf, closed-form LR of update i)
CASES = {
    "exponentialwarmuplr": ({"warmup_steps": 4, "alpha": 1.5}, lambda i: S.exponential_warmup_lr(i, PEAK, 4, 1.5)),
    "polynomialwarmuplr": ({"warmup_steps": 4, "power": 1.5}, lambda i: S.polynomial_warmup_lr(i, PEAK, 4, 1.5)),
    # a polynomial warmup joined to a linear decay that reaches its floor at update 10, then holds it
    "warmupschedulelr": ({"shape": "polynomial", "power": 1.2, "warmup_steps": 4, "tail": "linear",
                          "total_steps": 10, "min_lr_ratio": 0.1}, None),
    "warmupcosinelr": ({"warmup_steps": 3, "total_steps": 10, "min_lr_ratio": 0.1}, None),
    "warmupstabledecaylr": ({"warmup_steps": 3, "total_steps": 12, "num_decay_steps": 5, "decay_type": "1-sqrt",
                             "min_lr_ratio": 0.1}, None),
    # hair-trigger: a spike is a norm above 1.05 x the median of the last 2 updates
    "warmupguardlr": ({"schedule": "exponentialwarmuplr", "schedule_conf": {"warmup_steps": GUARD_W, "alpha": 1.5},
                       "spike_factor": 1.05, "window": 2, "min_history": 1, "hold_steps": 2},
                      lambda i: PEAK * S.warmup_factor(i, GUARD_W, S.exponential_warmup, alpha=1.5)),
}


def closed_form(name: str, i: int) -> float:
    conf, lr = CASES[name]
    if lr is not None:
        return lr(i)  # for the guard: the unguarded schedule
    fixed = getattr(registry.SCHEDULERS[name], "fixed", {})
    return PEAK * families.resolve({**conf, **fixed}).factor(i)


def scheduler_args(name: str) -> list[str]:
    conf, _ = CASES[name]
    out = ["--scheduler", name]
    for key, value in conf.items():
        if isinstance(value, dict):  # the guard's schedule_conf: a nested key
            out += [item for k, v in value.items() for item in ("--scheduler_conf", f"{key}.{k}={v}")]
        else:
            out += ["--scheduler_conf", f"{key}={value}"]
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_s2t_data(tmp_path_factory.mktemp("s2t"))


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """name -> (output dir, the finished run), each trained once per module."""
    root, done = tmp_path_factory.mktemp("s2t_runs"), {}

    def get(name):
        if name not in done:
            out = root / name
            proc = run_s2t(data, out, "--max_epoch", str(EPOCHS), "--num_iters_per_epoch", str(ITERS),
                           "--optim", "adam", "--optim_conf", f"lr={PEAK}", "--use_tensorboard", "true",
                           *scheduler_args(name))
            done[name] = (out, proc)
        return done[name]

    return get


def test_every_registered_scheduler_has_a_case():
    assert set(CASES) == set(registry.SCHEDULERS)


@pytest.mark.parametrize("name", sorted(set(CASES) - {"warmupguardlr"}))
def test_the_lr_s2t_logs_is_the_closed_form_at_every_update(runs, name):
    out, proc = runs(name)
    tb = tensorboard_lrs(out)
    assert [step for step, _ in tb] == list(range(1, UPDATES + 1))
    for k, (_, value) in enumerate(tb, start=1):
        assert value == pytest.approx(closed_form(name, k + 1), rel=1e-6), f"{name}: update {k}"
    assert max(v for _, v in tb) == pytest.approx(PEAK, rel=1e-6)  # the warmup reached the peak in the run
    assert len(logged_lrs(proc.stderr)) == UPDATES  # and train.log has one LR per update
    assert (out / "valid.acc.ave.pth").is_file()


def test_the_guard_reads_s2t_grad_norms_and_holds_the_warmup(runs):
    out, proc = runs("warmupguardlr")
    entries = [json.loads(x) for x in (out / "warmup_guard.log").read_text().splitlines()]
    lines = re.findall(r"warmup guard: update (\d+): grad norm", proc.stderr)
    assert entries, "no intervention: the set-up no longer provokes one"
    assert [int(u) for u in lines] == [e["update"] for e in entries]
    assert all(e["progress_before"] < GUARD_W for e in entries)
    tb = tensorboard_lrs(out)
    lrs = [v for _, v in tb]
    want = [closed_form("warmupguardlr", k + 1) for k in range(1, len(lrs) + 1)]
    assert all(g <= u * (1 + 1e-6) for g, u in zip(lrs, want))
    assert lrs[entries[0]["update"] - 1] < want[entries[0]["update"] - 1] * (1 - 1e-3)
    for e in entries:
        assert lrs[e["update"] - 1] == pytest.approx(e["next_lr"], rel=1e-6)


def test_fine_tuning_an_s2t_model_with_a_frozen_encoder(runs, data, tmp_path):
    pre, _ = runs("exponentialwarmuplr")
    ckpt = torch.load(pre / "valid.acc.ave.pth", map_location="cpu")
    out = tmp_path / "ft"
    proc = run_s2t(data, out, "--init_param", str(pre / "valid.acc.ave.pth"), "--freeze_param", "encoder",
                   "--max_epoch", "1", "--num_iters_per_epoch", "8", "--accum_grad", "2", "--grad_clip", "2.0",
                   "--optim", "adamw", "--optim_conf", "lr=0.0005", "--optim_conf", "weight_decay=0.01",
                   *scheduler_args("warmupcosinelr"))
    after = torch.load(out / "1epoch.pth", map_location="cpu")
    assert set(after) == set(ckpt)
    enc = [k for k in ckpt if k.startswith("encoder.")]
    assert enc and all(torch.equal(after[k], ckpt[k]) for k in enc), "a frozen encoder tensor changed"
    dec = [k for k in ckpt if k.startswith("decoder.") and ckpt[k].is_floating_point()]
    changed = [k for k in dec if not torch.equal(after[k], ckpt[k])]
    assert len(changed) > len(dec) // 2, f"the decoder barely trained: {len(changed)} of {len(dec)} tensors changed"


def init_check(data, out, *extra):
    train_args = s2t_command(data, out, *extra)[5:]  # without "python -m espnet_warmup -m espnet2.bin.s2t_train"
    return subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.stages.init_check", "--task", "s2t", "--",
                           *train_args], capture_output=True, text=True, timeout=300)


def test_the_recipe_fine_tuning_check_builds_the_s2t_model(runs, data, tmp_path):
    pre, _ = runs("exponentialwarmuplr")
    model = str(pre / "valid.acc.ave.pth")
    ok = init_check(data, tmp_path / "a", "--init_param", model, "--freeze_param", "encoder")
    assert ok.returncode == 0, ok.stderr[-3000:]
    ckpt = torch.load(model, map_location="cpu")
    n_enc = sum(v.numel() for k, v in ckpt.items() if k.startswith("encoder.") and v.is_floating_point()
                and "pe" not in k.split("."))
    m = re.search(r"freeze_param encoder: (\d+) of (\d+) parameters frozen", ok.stderr)
    assert m and int(m.group(1)) == n_enc, ok.stderr[-2000:]
    assert re.search(r"init_param \S+: \d+ tensors, (\d+) of \1 parameters initialised", ok.stderr), ok.stderr[-2000:]

    bad = init_check(data, tmp_path / "b", "--init_param", model, "--decoder_conf", "linear_units=24")
    assert bad.returncode == 1
    assert ("decoder.decoders.0.feed_forward.w_1.weight: checkpoint shape [16, 16], model shape [24, 16]"
            in bad.stderr), bad.stderr[-2000:]
