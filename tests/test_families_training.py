"""Real ESPnet trainings (espnet2.bin.asr_train through our launcher) with the shape x tail scheduler.

A cosine tail and a WSD tail, each under accum_grad 2: the LR ESPnet logs at every update (tensorboard,
and train.log) equals the closed form, the floor is held past total_steps, and a run stopped after
epoch 1 and resumed gives the same LRs as the uninterrupted run. As in test_espnet_training.py, the
``optim0_lr0`` ESPnet logs after update k is the LR of update k + 1.
"""

from __future__ import annotations

import pytest

from espnet_warmup import families
from test_espnet_training import tensorboard_lrs
from tiny_asr import logged_lrs, make_data, run_train

pytestmark = pytest.mark.slow

PEAK, ITERS, ACCUM, EPOCHS = 5e-4, 6, 2, 4  # 3 updates per epoch, 12 in all
UPDATES = EPOCHS * ITERS // ACCUM

CASES = {
    # the paper's exponential warmup joined to a cosine tail that ends at update 10 (then the floor)
    "cosine": ("warmupschedulelr", {"shape": "exponential", "alpha": 1.5, "warmup_steps": 4, "tail": "cosine",
                                    "total_steps": 10, "min_lr_ratio": 0.1}),
    # the WSD preset: linear warmup, hold, 1-sqrt decay over the last 5 updates to the floor at 12
    "wsd": ("warmupstabledecaylr", {"warmup_steps": 3, "total_steps": 12, "num_decay_steps": 5,
                                    "decay_type": "1-sqrt", "min_lr_ratio": 0.1}),
}


def closed_form(case: str, i: int) -> float:
    name, conf = CASES[case]
    fixed = {"warmupstabledecaylr": {"shape": "linear", "tail": "wsd"}}.get(name, {})
    return PEAK * families.resolve({**conf, **fixed}).factor(i)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("tiny"))


def train(data, outdir, case, max_epoch):
    name, conf = CASES[case]
    args = []
    for key, value in conf.items():
        args += ["--scheduler_conf", f"{key}={value}"]
    return run_train(
        data, outdir, "--max_epoch", str(max_epoch), "--num_iters_per_epoch", str(ITERS),
        "--accum_grad", str(ACCUM), "--optim", "adam", "--optim_conf", f"lr={PEAK}",
        "--scheduler", name, *args, "--use_tensorboard", "true",
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_logged_lr_is_the_closed_form_and_resume_after_epoch_1_continues_it(data, tmp_path, case):
    ref = train(data, tmp_path / "ref", case, EPOCHS)
    want = [closed_form(case, k + 1) for k in range(1, UPDATES + 1)]  # logged after update k: lr(k + 1)

    text = logged_lrs(ref.stderr)
    assert len(text) == UPDATES, "one logged LR per optimizer update, none per micro-batch"
    assert [v for _, _, v in text] == pytest.approx(want, rel=1e-3)
    tb = tensorboard_lrs(tmp_path / "ref")
    assert [step for step, _ in tb] == [ACCUM * k for k in range(1, UPDATES + 1)]
    assert [v for _, v in tb] == pytest.approx(want, rel=1e-6)
    assert max(v for _, v in tb) == pytest.approx(PEAK, rel=1e-6)  # the peak was reached in the run
    if case == "cosine":
        assert [v for _, v in tb][-3:] == pytest.approx([0.1 * PEAK] * 3, rel=1e-6)  # held past T = 10
    else:
        assert tb[-1][1] == pytest.approx(0.1 * PEAK, rel=1e-6)  # lr(13), past T = 12: the floor

    first = train(data, tmp_path / "resumed", case, 1)
    second = train(data, tmp_path / "resumed", case, EPOCHS)
    assert "1epoch" not in "\n".join(line for line in second.stderr.splitlines() if "batch:" in line), \
        "resume must not repeat epoch 1"
    resumed = [v for _, _, v in logged_lrs(first.stderr) + logged_lrs(second.stderr)]
    assert resumed == [v for _, _, v in text]
    assert [v for _, v in tensorboard_lrs(tmp_path / "resumed")] == [v for _, v in tb]


def test_espnet_print_config_shows_the_generic_schema(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "espnet_warmup", "-m", "espnet2.bin.asr_train", "--print_config",
                          "--scheduler", "warmupschedulelr"], capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    keys = [k for k in families.KEYS]
    block = out.stdout.split("scheduler: warmupschedulelr\nscheduler_conf:\n", 1)[1].splitlines()
    assert [line.split(":")[0].strip() for line in block[: len(keys)]] == keys
    assert block[0] == "    shape: linear" and block[1] == "    tail: inverse_sqrt"
