"""check-config on the shape x tail family (warmupschedulelr and its presets): T from the config,
the combination rules, unknown names with the allowed list; each with its exact message and exit 1."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from espnet_warmup.check_config import check_config

BASE = """\
optim: adam
optim_conf:
    lr: 0.001
max_epoch: 10
num_iters_per_epoch: 600
accum_grad: 2
"""
PLAN = "the config plans 3000 updates (max_epoch 10 x num_iters_per_epoch 600 / accum_grad 2)"


def write(tmp_path, body, base=BASE):
    path = tmp_path / "train.yaml"
    path.write_text(base + textwrap.dedent(body))
    return path


GOOD = [
    "scheduler: warmupschedulelr\nscheduler_conf:\n    warmup_steps: 500\n",  # linear + inverse_sqrt
    "scheduler: warmupschedulelr\nscheduler_conf:\n    shape: exponential\n    alpha: 1.5\n    warmup_steps: 500\n"
    "    tail: cosine\n    total_steps: 3000\n    min_lr_ratio: 0.01\n",
    "scheduler: warmupschedulelr\nscheduler_conf:\n    shape: none\n    warmup_steps: 0\n    tail: linear\n"
    "    total_steps: 3000\n",
    "scheduler: warmupcosinelr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 3000\n",
    "scheduler: WarmupStableDecayLR\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 3000\n"
    "    decay_ratio: 0.2\n    decay_type: 1-sqrt\n",
]


@pytest.mark.parametrize("body", GOOD)
def test_good_family_configs_have_no_problems(tmp_path, body):
    assert check_config(write(tmp_path, body)) == []


BAD = [
    # a tail that needs T, without T: the number the config plans is offered
    ("scheduler: warmupschedulelr\nscheduler_conf:\n    warmup_steps: 500\n    tail: cosine\n",
     f"scheduler_conf.total_steps: tail cosine needs total_steps, the last update T (where the LR reaches its "
     f"floor); {PLAN}: set total_steps: 3000"),
    ("scheduler: warmupcosinelr\nscheduler_conf:\n    warmup_steps: 500\n",
     f"scheduler_conf.total_steps: tail cosine needs total_steps, the last update T (where the LR reaches its "
     f"floor); {PLAN}: set total_steps: 3000"),
    # T differs from the plan, both ways
    ("scheduler: warmupcosinelr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 2500\n",
     f"scheduler_conf.total_steps: 2500 but {PLAN}; the LR reaches its floor at update 2500 and holds it for "
     "the last 500 updates"),
    ("scheduler: warmupstabledecaylr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 6000\n"
     "    num_decay_steps: 600\n",
     f"scheduler_conf.total_steps: 6000 but {PLAN}; the run stops at update 3000, before the decay reaches its "
     "floor at update 6000"),
    # T <= warmup_steps
    ("scheduler: warmupschedulelr\nscheduler_conf:\n    warmup_steps: 3000\n    tail: linear\n    total_steps: 3000\n",
     "scheduler_conf.total_steps: must be > warmup_steps (3000) for tail linear (it decays from update w to "
     "update T), got 3000"),
    # eta_min above eta
    ("scheduler: warmupcosinelr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 3000\n"
     "    min_lr_ratio: 1.5\n",
     "scheduler_conf.min_lr_ratio: must be a number in [0, 1] (the floor eta_min = min_lr_ratio x the peak lr, "
     "so eta_min <= eta), got 1.5"),
    # unknown names, with the allowed list
    ("scheduler: warmupschedulelr\nscheduler_conf:\n    shape: exp\n    warmup_steps: 500\n",
     "scheduler_conf.shape: must be one of cosine, exponential, linear, none, piecewise, polynomial, "
     "saturating_exponential; got 'exp'"),
    ("scheduler: warmupschedulelr\nscheduler_conf:\n    tail: noam\n    warmup_steps: 500\n",
     "scheduler_conf.tail: must be one of constant, cosine, exponential, inverse_sqrt, linear, wsd; got 'noam'"),
    ("scheduler: warmupstabledecaylr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 3000\n"
     "    decay_ratio: 0.1\n    decay_type: sqrt\n",
     "scheduler_conf.decay_type: must be one of 1-sqrt, cosine, linear; got 'sqrt'"),
    # a parameter of another shape; the shape a preset fixes is not one of its arguments
    ("scheduler: warmupschedulelr\nscheduler_conf:\n    warmup_steps: 500\n    alpha: 1.5\n",
     "scheduler_conf.alpha: is not used by shape linear with tail inverse_sqrt (it belongs to shape exponential); "
     "remove it or set it to null"),
    ("scheduler: warmupcosinelr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 3000\n    shape: cosine\n",
     "scheduler_conf: unknown argument 'shape' for warmupcosinelr; allowed: warmup_steps, total_steps, "
     "min_lr_ratio, start_factor"),
    ("scheduler: warmupstabledecaylr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 3000\n",
     "scheduler_conf.num_decay_steps: is required by tail wsd, or decay_ratio instead (exactly one of them): the "
     "decay length in updates, or as a fraction of total_steps"),
]


@pytest.mark.parametrize("body,message", BAD)
def test_family_mistakes_are_reported_with_the_exact_message(tmp_path, body, message):
    path = write(tmp_path, body)
    assert check_config(path) == [f"{path}: {message}"]


def test_without_a_fixed_epoch_length_a_missing_T_says_so(tmp_path):
    path = write(tmp_path, "scheduler: warmupcosinelr\nscheduler_conf:\n    warmup_steps: 500\n",
                 base="optim: adam\noptim_conf:\n    lr: 0.001\nmax_epoch: 10\n")
    assert check_config(path) == [
        f"{path}: scheduler_conf.total_steps: tail cosine needs total_steps, the last update T (where the LR "
        "reaches its floor); the config does not fix the number of updates (no num_iters_per_epoch): set "
        "total_steps to the number of optimizer updates of the run"]


def test_T_is_not_checked_against_a_plan_the_config_does_not_fix(tmp_path):
    path = write(tmp_path, "scheduler: warmupcosinelr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 9999\n",
                 base="optim: adam\noptim_conf:\n    lr: 0.001\nmax_epoch: 10\n")
    assert check_config(path) == []


def test_the_cli_exits_1_and_names_each_problem(tmp_path):
    bad = write(tmp_path, "scheduler: warmupschedulelr\nscheduler_conf:\n    shape: saturating\n")
    good = tmp_path / "good.yaml"
    good.write_text(BASE + "scheduler: warmupcosinelr\nscheduler_conf:\n    warmup_steps: 500\n    total_steps: 3000\n")
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "check-config", str(good), str(bad)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr
    assert f"{good}: OK" in out.stdout
    assert (f"{bad}: scheduler_conf.shape: must be one of cosine, exponential, linear, none, piecewise, polynomial, "
            "saturating_exponential; got 'saturating'") in out.stderr
    assert "check-config: 1 of 2 config(s) have problems" in out.stderr
