"""``espnet-warmup check-config``: each config mistake gives its exact message and exit 1."""

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
"""


def write(tmp_path, body, base=BASE):
    path = tmp_path / "train.yaml"
    path.write_text(base + textwrap.dedent(body))
    return path


def test_good_configs_have_no_problems(tmp_path):
    for body in [
        "scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 500\n    alpha: 1.5\n",
        "scheduler: polynomialwarmuplr\nscheduler_conf:\n    warmup_steps: 500\n",
        "scheduler: piecewiselinearwarmuplr\nscheduler_conf:\n    warmup_steps_list: [0, 250, 500]\n"
        "    warmup_lr_list: [0.0, 0.0001, 0.001]\n",
        "scheduler: WarmupLR\nscheduler_conf:\n    warmup_steps: 500\n",
        "",  # no scheduler at all
    ]:
        assert check_config(write(tmp_path, body)) == []


@pytest.mark.parametrize("body,message", [
    ("scheduler: cosinewarmup\n",
     "scheduler: unknown scheduler 'cosinewarmup'; allowed: "),
    ("scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup: 500\n    warmup_steps: 500\n",
     "scheduler_conf: unknown argument 'warmup' for exponentialwarmuplr; allowed: warmup_steps, alpha"),
    ("scheduler: polynomialwarmuplr\nscheduler_conf:\n    alpha: 2\n    warmup_steps: 500\n",
     "scheduler_conf: unknown argument 'alpha' for polynomialwarmuplr; allowed: warmup_steps, power"),
    ("scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 0\n",
     "scheduler_conf.warmup_steps: must be an integer >= 1, got 0"),
    ("scheduler: warmuplr\nscheduler_conf:\n    warmup_steps: -100\n",
     "scheduler_conf.warmup_steps: must be an integer >= 1, got -100"),
    ("scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 500\n    alpha: 0\n",
     "scheduler_conf.alpha: must be a finite number > 0, got 0"),
    ("scheduler: polynomialwarmuplr\nscheduler_conf:\n    warmup_steps: 500\n    power: -1.5\n",
     "scheduler_conf.power: must be a finite number > 0, got -1.5"),
    ("scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 500\n    alpha: fast\n",
     "scheduler_conf.alpha: must be a finite number > 0, got 'fast' (str)"),
    ("scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 5k\n",
     "scheduler_conf.warmup_steps: must be an integer >= 1, got '5k' (str)"),
    ("scheduler: piecewiselinearwarmuplr\nscheduler_conf:\n    warmup_steps_list: [0, 250, 500]\n"
     "    warmup_lr_list: [0.0, 0.0001, 0.002]\n",
     "scheduler_conf.warmup_lr_list: last warmup lr 0.002 differs from optim_conf.lr 0.001; after the last "
     "knot ESPnet decays from optim_conf.lr, so the LR jumps x0.5 at update 500"),
    ("scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 50000\n",
     "scheduler_conf.warmup_steps: 50000 warmup updates but the config plans only 6000 updates "
     "(max_epoch 10 x num_iters_per_epoch 600 / accum_grad 1); the run ends before reaching the peak LR"),
    ("scheduler: piecewiselinearwarmuplr\nscheduler_conf:\n    warmup_steps_list: [0, 3000, 7000]\n"
     "    warmup_lr_list: [0.0, 0.0001, 0.001]\naccum_grad: 2\n",
     "scheduler_conf.warmup_steps_list: 7000 warmup updates but the config plans only 3000 updates "
     "(max_epoch 10 x num_iters_per_epoch 600 / accum_grad 2); the run ends before reaching the peak LR"),
])
def test_each_mistake_gives_its_exact_message(tmp_path, body, message):
    path = write(tmp_path, body)
    problems = check_config(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: {message}")


def test_piecewise_uses_the_optimizers_default_lr_when_the_config_gives_none(tmp_path):
    path = write(tmp_path, "optim: adam\nscheduler: piecewiselinearwarmuplr\nscheduler_conf:\n"
                 "    warmup_steps_list: [0, 10]\n    warmup_lr_list: [0.0, 0.0002]\n", base="")
    assert check_config(path) == [
        f"{path}: scheduler_conf.warmup_lr_list: last warmup lr 0.0002 differs from optim_conf.lr 0.001; after "
        "the last knot ESPnet decays from optim_conf.lr, so the LR jumps x5 at update 10"
    ]


def test_warmup_check_is_skipped_when_the_config_does_not_fix_the_number_of_updates(tmp_path):
    path = write(tmp_path, "scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 500000\n",
                 base="optim: adam\noptim_conf:\n    lr: 0.001\n")
    assert check_config(path) == []


def test_second_optimizer_scheduler_is_checked_too(tmp_path):
    path = write(tmp_path, "scheduler2: polynomialwarmuplr\nscheduler2_conf:\n    power: 0\n    warmup_steps: 10\n")
    assert check_config(path) == [f"{path}: scheduler2_conf.power: must be a finite number > 0, got 0"]


def test_missing_file_and_bad_yaml_are_reported(tmp_path):
    assert check_config(tmp_path / "nope.yaml") == [
        f"{tmp_path / 'nope.yaml'}: cannot read the config: No such file or directory"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheduler: [unclosed\n")
    assert check_config(bad)[0].startswith(f"{bad}: not valid YAML:")


def test_cli_exits_1_and_prints_every_problem(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(BASE + "scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 100\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 0\n    alpha: -1\n")
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "check-config", str(good), str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert f"{good}: OK" in out.stdout
    assert f"{bad}: scheduler_conf.warmup_steps: must be an integer >= 1, got 0" in out.stderr
    assert f"{bad}: scheduler_conf.alpha: must be a finite number > 0, got -1" in out.stderr
    assert "check-config: 1 of 2 config(s) have problems" in out.stderr
    ok = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "check-config", str(good)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0


def test_a_config_with_our_scheduler_gets_a_note_on_how_to_enable_it_in_plain_espnet(tmp_path):
    from espnet_warmup.check_config import plugin_schedulers, registration_note

    base = "optim: adam\noptim_conf:\n    lr: 0.001\n"  # no planned number of updates: no warmup check
    ours = write(tmp_path, "scheduler: ExponentialWarmupLR\nscheduler2: polynomialwarmuplr\n", base=base)
    espnets = tmp_path / "espnet.yaml"
    espnets.write_text(base + "scheduler: warmuplr\n")
    assert plugin_schedulers(ours) == ["exponentialwarmuplr", "polynomialwarmuplr"]
    assert plugin_schedulers(espnets) == []
    assert registration_note([]) is None
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "check-config", str(ours), str(espnets)],
                         capture_output=True, text=True, timeout=120,
                         env=dict(__import__("os").environ, PYTHONNOUSERSITE="1"))
    note = registration_note(["exponentialwarmuplr", "polynomialwarmuplr"])
    assert out.returncode == 0, out.stderr
    if note is None:  # this environment has the startup hook installed: nothing to say
        assert "note:" not in out.stderr
    else:
        assert note.startswith("check-config: note: exponentialwarmuplr, polynomialwarmuplr come(s) from "
                               "espnet-warmup; plain ESPnet does not know them and stops (from asr.sh stage 10")
        assert note.endswith("or install the startup hook once: espnet-warmup hook install")
        assert out.stderr.splitlines()[-1] == note
    only_espnet = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "check-config", str(espnets)],
                                 capture_output=True, text=True, timeout=120)
    assert "note:" not in only_espnet.stderr


def test_no_note_where_the_startup_hook_is_installed(tmp_path, monkeypatch):
    from espnet_warmup import check_config as cc, hook

    hook.install(tmp_path)
    monkeypatch.setattr(hook, "default_site", lambda: tmp_path)
    assert cc.registration_note(["exponentialwarmuplr"]) is None
    hook.uninstall(tmp_path)
    assert cc.registration_note(["exponentialwarmuplr"]).startswith("check-config: note: exponentialwarmuplr")


@pytest.mark.parametrize("steps,lrs,first,second", [
    ("[0, 250, 500]", "[0.0, 0.001]", 3, 2),
    ("[0, 500]", "[0.0, 0.0001, 0.001]", 2, 3),
])
def test_piecewise_lists_of_different_lengths_name_both_keys_and_lengths(tmp_path, steps, lrs, first, second):
    path = write(tmp_path, f"scheduler: piecewiselinearwarmuplr\nscheduler_conf:\n    warmup_steps_list: {steps}\n"
                           f"    warmup_lr_list: {lrs}\n")
    assert check_config(path) == [
        f"{path}: scheduler_conf: warmup_steps_list has {first} entries but warmup_lr_list has {second}; they must "
        "be equally long (one entry per knot)"]


def test_piecewise_list_mismatch_is_found_for_a_second_optimizer_too(tmp_path):
    path = write(tmp_path, "scheduler2: piecewiselinearwarmuplr\nscheduler2_conf:\n    warmup_steps_list: [0, 10]\n"
                           "    warmup_lr_list: [0.001]\n")
    assert check_config(path) == [
        f"{path}: scheduler2_conf: warmup_steps_list has 2 entries but warmup_lr_list has 1; they must be equally "
        "long (one entry per knot)"]


def test_warmup_exactly_as_long_as_the_training_is_fine_one_more_is_an_error(tmp_path):
    ok = write(tmp_path, "scheduler: warmuplr\nscheduler_conf:\n    warmup_steps: 6000\n")
    assert check_config(ok) == []
    long = write(tmp_path, "scheduler: warmuplr\nscheduler_conf:\n    warmup_steps: 6001\n")
    assert check_config(long) == [
        f"{long}: scheduler_conf.warmup_steps: 6001 warmup updates but the config plans only 6000 updates "
        "(max_epoch 10 x num_iters_per_epoch 600 / accum_grad 1); the run ends before reaching the peak LR"]


def test_every_error_of_every_config_is_listed_before_the_exit(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text(BASE + "scheduler: warmuplr\nscheduler_conf:\n    warmup_steps: 9000\n")
    b = tmp_path / "b.yaml"
    b.write_text(BASE + "scheduler: piecewiselinearwarmuplr\nscheduler_conf:\n    warmup_steps_list: [0, 9000]\n"
                        "    warmup_lr_list: [0.001]\n")
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "check-config", "--no_registration_note",
                          str(a), str(b), str(tmp_path / "missing.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    # (ESPnet's import-time notices, if any, are not ours)
    assert [ln for ln in out.stderr.splitlines() if ln.startswith((str(tmp_path), "check-config:"))] == [
        f"{a}: scheduler_conf.warmup_steps: 9000 warmup updates but the config plans only 6000 updates "
        "(max_epoch 10 x num_iters_per_epoch 600 / accum_grad 1); the run ends before reaching the peak LR",
        f"{b}: scheduler_conf: warmup_steps_list has 2 entries but warmup_lr_list has 1; they must be equally long "
        "(one entry per knot)",
        f"{b}: scheduler_conf.warmup_steps_list: 9000 warmup updates but the config plans only 6000 updates "
        "(max_epoch 10 x num_iters_per_epoch 600 / accum_grad 1); the run ends before reaching the peak LR",
        f"{tmp_path / 'missing.yaml'}: cannot read the config: No such file or directory",
        "check-config: 3 of 3 config(s) have problems",
    ]


def test_no_registration_note_option_drops_the_note_only(tmp_path):
    path = write(tmp_path, "scheduler: exponentialwarmuplr\n", base="optim: adam\noptim_conf:\n    lr: 0.001\n")
    # as asr.sh runs it: under path.sh's ESPNET_WARMUP_QUIET_IMPORTS=1, ESPnet's import notices stay out
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "check-config", "--no_registration_note",
                          str(path)], capture_output=True, text=True, timeout=120,
                         env=dict(__import__("os").environ, PYTHONNOUSERSITE="1", ESPNET_WARMUP_QUIET_IMPORTS="1"))
    assert out.returncode == 0 and out.stdout == f"{path}: OK\n"
    assert "note:" not in out.stderr


@pytest.mark.parametrize("lr,message", [
    ("fast", "optim_conf.lr: must be a finite number > 0, got 'fast' (str)"),
    ("1e-3", "optim_conf.lr: must be a finite number > 0, got '1e-3' (str) (YAML reads a number without a dot "
             "before the exponent as a string: write 1.0e-3)"),
    ("-0.001", "optim_conf.lr: must be a finite number > 0, got -0.001 (float)"),
])
def test_an_optimizer_lr_that_is_not_a_positive_number_is_an_error(tmp_path, lr, message):
    path = write(tmp_path, "", base=f"optim: adam\noptim_conf:\n    lr: {lr}\n")
    assert check_config(path) == [f"{path}: {message}"]


def test_planned_updates_counts_whole_accumulations_per_epoch():
    """ESPnet's trainer restarts its iteration count every epoch and updates at multiples of
    accum_grad: 3 epochs of 5 iterations under accum_grad 2 are 3 x 2 = 6 updates, not 7."""
    from espnet_warmup.espnet_config import planned_updates

    assert planned_updates({"max_epoch": 3, "num_iters_per_epoch": 5, "accum_grad": 2}).total == 6
    assert planned_updates({"max_epoch": 3, "num_iters_per_epoch": 6, "accum_grad": 2}).total == 9
    assert planned_updates({"max_epoch": 3}) is None
