"""Real ESPnet trainings (espnet2.bin.asr_train through our launcher) with our schedulers.

What ESPnet logs as ``optim0_lr0`` after update k is ``param_groups[0]["lr"]`` read *after*
``scheduler.step()``, i.e. the LR that update k+1 will use: lr(k+1). The trainer's contract
pinned here: one scheduler step per optimizer update (accum_grad micro-batches = one update),
none at epoch ends, and resume continues the exact trajectory.
"""

import math
from pathlib import Path

import pytest
import torch

from espnet_warmup import schedules as S
from tiny_asr import logged_lrs, make_data, run_train

pytestmark = pytest.mark.slow

PEAK, WARMUP, ITERS = 5e-4, 4, 6  # peak < 1e-3 so train.log prints lr with 4 significant digits

POLICIES = {
    "exponentialwarmuplr": ("alpha=1.5", lambda i: S.exponential_warmup_lr(i, PEAK, WARMUP, 1.5)),
    "polynomialwarmuplr": ("power=1.5", lambda i: S.polynomial_warmup_lr(i, PEAK, WARMUP, 1.5)),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("tiny"))


def tensorboard_lrs(outdir: Path) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(outdir / "tensorboard" / "train"), size_guidance={"scalars": 0})
    acc.Reload()
    # At each epoch end ESPnet also writes the epoch mean under the same tag and step: keep the
    # first event per step, the per-update value (log_interval 1).
    out, seen = [], set()
    for e in acc.Scalars("optim0_lr0"):
        if math.isfinite(e.value) and e.step not in seen:
            seen.add(e.step)
            out.append((e.step, e.value))
    return out


def train(data, outdir, scheduler, accum_grad, max_epoch, *extra):
    conf, _ = POLICIES[scheduler]
    return run_train(
        data, outdir, "--max_epoch", str(max_epoch), "--num_iters_per_epoch", str(ITERS),
        "--accum_grad", str(accum_grad), "--optim", "adam", "--optim_conf", f"lr={PEAK}",
        "--scheduler", scheduler, "--scheduler_conf", f"warmup_steps={WARMUP}", "--scheduler_conf", conf,
        "--use_tensorboard", "true", *extra,
    )


@pytest.mark.parametrize("accum_grad", [1, 2])
@pytest.mark.parametrize("scheduler", sorted(POLICIES))
def test_logged_lr_matches_the_closed_form_at_every_update(data, tmp_path, scheduler, accum_grad):
    _, lr = POLICIES[scheduler]
    max_epoch = 2
    proc = train(data, tmp_path / "exp", scheduler, accum_grad, max_epoch)
    updates = max_epoch * ITERS // accum_grad

    text_log = logged_lrs(proc.stderr)
    assert len(text_log) == updates, "one logged LR per optimizer update, none per micro-batch"
    for k, (_, _, value) in enumerate(text_log, start=1):
        assert value == pytest.approx(lr(k + 1), rel=1e-3), f"update {k}"

    tb = tensorboard_lrs(tmp_path / "exp")
    assert [step for step, _ in tb] == [accum_grad * k for k in range(1, updates + 1)]
    for k, (_, value) in enumerate(tb, start=1):
        assert value == pytest.approx(lr(k + 1), rel=1e-6), f"update {k}"
    # The warmup really crossed the peak into the inverse-sqrt tail within the run.
    assert max(v for _, v in tb) == pytest.approx(PEAK, rel=1e-6)


def test_no_extra_step_at_epoch_boundaries(data, tmp_path):
    # 3 epochs x 6 updates: if ESPnet also stepped per epoch, updates 7 and 13 would be shifted.
    proc = train(data, tmp_path / "exp", "exponentialwarmuplr", 1, 3)
    _, lr = POLICIES["exponentialwarmuplr"]
    got = [v for _, _, v in logged_lrs(proc.stderr)]
    assert got == pytest.approx([lr(k + 1) for k in range(1, 19)], rel=1e-3)


def test_resume_after_epoch_1_continues_the_exact_trajectory(data, tmp_path):
    reference = tensorboard_lrs_of(train(data, tmp_path / "ref", "polynomialwarmuplr", 1, 3), tmp_path / "ref")

    first = train(data, tmp_path / "resumed", "polynomialwarmuplr", 1, 1)
    ckpt_path = tmp_path / "resumed" / "checkpoint.pth"
    assert_checkpoint_loads_weights_only(ckpt_path)
    second = train(data, tmp_path / "resumed", "polynomialwarmuplr", 1, 3)
    assert "1epoch" not in "\n".join(l for l in second.stderr.splitlines() if "batch:" in l), \
        "resume must not repeat epoch 1"

    resumed = [v for _, _, v in logged_lrs(first.stderr) + logged_lrs(second.stderr)]
    assert len(resumed) == 3 * ITERS
    assert resumed == pytest.approx(reference, rel=1e-3)
    tb = [v for _, v in tensorboard_lrs(tmp_path / "resumed")]
    assert tb == pytest.approx(reference, rel=1e-6)


def tensorboard_lrs_of(proc, outdir):
    return [v for _, v in tensorboard_lrs(outdir)]


def assert_checkpoint_loads_weights_only(path):
    """ESPnet's checkpoint.pth: everything but ESPnet's own reporter loads with weights_only=True.

    ESPnet's reporter keeps its statistics as numpy.float64 and its times as timedelta, so the full
    file needs exactly those allow-listed; our scheduler state needs nothing (plain ints and floats).
    """
    import datetime
    import io

    import numpy as np

    raw = torch.load(path, map_location="cpu", weights_only=False)
    state = raw["schedulers"][0]
    assert {k: state[k] for k in ("last_epoch", "base_lrs", "warmup_steps", "power")} == \
        {"last_epoch": ITERS, "base_lrs": [PEAK], "warmup_steps": WARMUP, "power": 1.5}
    assert all(type(v) in (int, float, list) for v in state.values())
    buf = io.BytesIO()
    torch.save({k: raw[k] for k in ("model", "optimizers", "schedulers", "scaler")}, buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=True)["schedulers"] == [state]
    core = "_core" if int(np.__version__.split(".")[0]) >= 2 else "core"  # numpy 1 (older ESPnet) names it core
    assert sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path))) == [
        "datetime.timedelta", f"numpy.{core}.multiarray.scalar", "numpy.dtype"]  # all from ESPnet's reporter
    reporter_types = [np.dtype, type(np.dtype("float64")), getattr(np, core).multiarray.scalar, datetime.timedelta]
    with torch.serialization.safe_globals(reporter_types):
        full = torch.load(path, map_location="cpu", weights_only=True)
    assert full["schedulers"] == [state]
