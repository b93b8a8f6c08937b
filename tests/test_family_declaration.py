"""A warmup family is declared once: a throwaway family defined in this module reaches ESPnet's
registry, ESPnet's parser, check-config, the LR curve / plot-lr and the report, with no edit to
any of those modules (they read the class's declaration: ``shape``, ``params``, the constructor)."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler

import espnet_warmup
from espnet_warmup import schedules
from espnet_warmup.schedulers import ClosedFormWarmupLR

TESTS = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- the throwaway family
def sine_warmup(x: float, sharpness: float) -> float:
    """s(x) = sin(pi x / 2) ** sharpness (concave for sharpness 1, s-shaped above)."""
    return math.sin(math.pi * x / 2) ** sharpness


class SineWarmupLR(ClosedFormWarmupLR):
    """Sine warmup, then inverse-square-root decay (a family that exists only in this test)."""

    shape = staticmethod(sine_warmup)
    params = {"sharpness": schedules.check_positive}

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_steps: int = 8, sharpness: float = 2.0,
                 last_epoch: int = -1):
        super().__init__(optimizer, warmup_steps, last_epoch, sharpness=sharpness)


FAMILY = {"sinewarmuplr": SineWarmupLR}
PEAK, W = 1e-3, 8


def sine_lr(step: int, peak: float = PEAK, w: int = W, sharpness: float = 2.0) -> float:
    return peak * schedules.warmup_factor(step, w, sine_warmup, sharpness=sharpness)


@pytest.fixture
def registered():
    """The family in ESPnet's registry for the test, removed afterwards (the registry is process-wide)."""
    from espnet2.tasks import abs_task

    registry = espnet_warmup.register(schedulers=FAMILY)
    yield registry
    assert abs_task.scheduler_classes.pop("sinewarmuplr") is SineWarmupLR


CONFIG = textwrap.dedent(f"""\
    optim: adam
    optim_conf:
        lr: {PEAK}
    max_epoch: 2
    num_iters_per_epoch: 10
    scheduler: sinewarmuplr
    scheduler_conf:
        warmup_steps: {W}
        sharpness: 2.0
""")


# --------------------------------------------------------------------------- the class itself
def test_the_family_is_an_espnet_batch_scheduler_with_the_declared_closed_form():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=PEAK)
    sch = SineWarmupLR(opt, warmup_steps=W, sharpness=2.0)
    assert isinstance(sch, AbsBatchStepScheduler)
    got = []
    for _ in range(30):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    assert got == [sine_lr(i) for i in range(1, 31)]
    assert got[W - 1] == PEAK
    assert repr(sch) == "SineWarmupLR(warmup_steps=8, sharpness=2.0)"
    with pytest.raises(ValueError, match=r"^sharpness must be a finite number > 0, got 0$"):
        SineWarmupLR(opt, sharpness=0)


# --------------------------------------------------------------------------- ESPnet
def test_register_puts_the_family_in_espnets_registry(registered):
    from espnet2.tasks import abs_task

    assert registered is abs_task.scheduler_classes
    assert abs_task.scheduler_classes["sinewarmuplr"] is SineWarmupLR
    assert espnet_warmup.register(schedulers=FAMILY) is registered  # idempotent


@pytest.mark.slow  # an ESPnet ASR-task start-up in a subprocess
def test_espnet_print_config_reads_the_explicit_signature(tmp_path):
    code = textwrap.dedent(f"""\
        import runpy, sys
        sys.path.insert(0, {str(TESTS)!r})
        import espnet_warmup, test_family_declaration as t
        espnet_warmup.register()
        espnet_warmup.register(schedulers=t.FAMILY)
        sys.argv = ["asr_train", "--print_config", "--scheduler", "sinewarmuplr"]
        runpy.run_module("espnet2.bin.asr_train", run_name="__main__")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "scheduler: sinewarmuplr\nscheduler_conf:\n    warmup_steps: 8\n    sharpness: 2.0\n" in out.stdout


# --------------------------------------------------------------------------- the tools
def test_espnet_config_reads_the_declaration(registered):
    from espnet_warmup.espnet_config import scheduler_spec

    spec = scheduler_spec({"scheduler": "SineWarmupLR", "scheduler_conf": {"warmup_steps": 50}})
    assert (spec.name, spec.cls, spec.conf) == ("sinewarmuplr", SineWarmupLR, {"warmup_steps": 50, "sharpness": 2.0})
    assert (spec.warmup_end, spec.knots, spec.warmup_key, spec.closed_form) == (50, [], "warmup_steps", True)


def test_check_config_validates_the_declared_params(registered, tmp_path):
    from espnet_warmup.check_config import check_config

    path = tmp_path / "train.yaml"
    path.write_text(CONFIG)
    assert check_config(path) == []
    path.write_text(CONFIG.replace("sharpness: 2.0", "sharpness: 0").replace("warmup_steps: 8", "warmup_steps: 50"))
    assert check_config(path) == [
        f"{path}: scheduler_conf.sharpness: must be a finite number > 0, got 0",
        f"{path}: scheduler_conf.warmup_steps: 50 warmup updates but the config plans only 20 updates "
        "(max_epoch 2 x num_iters_per_epoch 10 / accum_grad 1); the run ends before reaching the peak LR",
    ]
    path.write_text(CONFIG.replace("sharpness: 2.0", "alpha: 1.5"))
    assert check_config(path) == [
        f"{path}: scheduler_conf: unknown argument 'alpha' for sinewarmuplr; allowed: warmup_steps, sharpness"]


def test_lr_curve_and_plot_lr_use_the_family(registered, tmp_path):
    from espnet_warmup.recipe.analysis.config_lr import lr_curve
    from espnet_warmup.recipe.analysis.plot_lr import plot_lr

    path = tmp_path / "train_sine_warmup.yaml"
    path.write_text(CONFIG)
    curve = lr_curve(path, 40)
    assert (curve.scheduler, curve.warmup_end, curve.knots) == ("sinewarmuplr", W, [])
    assert curve.lrs == [sine_lr(i) for i in range(1, 41)]
    assert lr_curve(path, 40, closed_form=False).lrs == curve.lrs  # evaluated directly == stepped
    (plotted,) = plot_lr([path], 40, tmp_path / "lr.png")
    assert plotted.warmup_end == W and (tmp_path / "lr.png").stat().st_size > 5_000


PREFIX = "[host] 2026-01-01 00:00:{sec:02d},000 (trainer:811) INFO: "


def write_exp_dir(exp: Path, updates: int = 16, epoch_len: int = 8) -> Path:
    """A finished ESPnet exp dir as the report reads it: config.yaml and train.log (no training)."""
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text(CONFIG.replace("num_iters_per_epoch: 10", f"num_iters_per_epoch: {epoch_len}"))
    lines = []
    for k in range(updates):
        epoch, batch = k // epoch_len + 1, k % epoch_len + 1
        head = PREFIX.format(sec=k)
        if batch == 1:
            lines.append(f"{head}{epoch}/{updates // epoch_len}epoch started")
        lines.append(f"{head}{epoch}epoch:train:{batch}-{batch}batch: iter_time=0.010, loss={20 - k}.000, "
                     f"loss_att={15 - k / 2:.3f}, acc={0.05 * k:.3f}, grad_norm={3 + k % 3}.000, clip=0.000, "
                     f"optim0_lr0={sine_lr(k + 2):.3e}")
        if batch == epoch_len:
            lines.append(f"{head}{epoch}epoch results: [train] loss={20 - k}.000, acc={0.05 * k:.3f}, "
                         f"total_count={k + 1}, [valid] loss={19 - k}.000, acc={0.04 * k:.3f}")
    lines.append(f"{PREFIX.format(sec=updates)}The training was finished at {updates // epoch_len} epochs")
    (exp / "train.log").write_text("\n".join(lines) + "\n")
    return exp


def test_the_report_reads_the_familys_warmup(registered, tmp_path):
    from espnet_warmup.recipe.report import build_report, find_experiments

    write_exp_dir(tmp_path / "exp" / "asr_train_sine_warmup")
    exps = find_experiments(tmp_path / "exp", [])
    res = build_report(exps, tmp_path / "RESULTS.md", tmp_path / "images")
    (row,) = res["rows"]
    assert (row["name"], row["scheduler"], row["warmup_updates"]) == ("asr_train_sine_warmup", "sinewarmuplr", W)
    assert row["warmup_peak_grad_norm"] == 5.0  # the logged norms 3, 4, 5 of the first 8 updates
    assert res["lr_png"].stat().st_size > 5_000
    md = (tmp_path / "RESULTS.md").read_text()
    assert "|asr_train_sine_warmup|rnn + CTC|sinewarmuplr|" in md
