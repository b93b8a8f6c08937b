"""Nothing relabelled: stage ranges, same-name configs, check-config and changed configs in stage 11.

Option checks run on an empty recipe dir (they refuse before any stage). The changed-config
cases use one real tiny training (stages 10-11 on the tiny corpus, 2 updates) and assert the
exit code, the message (each differing key, what to do) and that no file of the finished exp
dir changed (size, mtime, content).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from espnet_warmup.recipe.stages import train_guard
from tests.recipe.conftest import ROOT, clone_data, make_recipe_dir, run_recipe

TINY_EXP = ROOT / "conf/tuning/train_tiny_exp_warmup.yaml"


# ----------------------------------------------------------------------------- stage ranges
@pytest.mark.parametrize("args,message", [
    (["--stage", "5", "--stop_stage", "3"],
     "--stage 5 is after --stop_stage 3: no stage would run (stages run from --stage to --stop_stage; "
     "allowed: 1 <= --stage <= --stop_stage)"),
    (["--stage", "99"], "--stage 99: this recipe has stages 1-14 (see --help); no stage would run"),
    (["--stop_stage", "0"], "--stage 1 is after --stop_stage 0: no stage would run"),
    (["--stage", "eleven"], "--stage must be a stage number (an integer; this recipe's stages are 1-14), got 'eleven'"),
    (["--stop_stage", "3.5"], "--stop_stage must be a stage number (an integer; this recipe's stages are 1-14), got '3.5'"),
    (["--stage", "-2"], "--stage must be a stage number (an integer; this recipe's stages are 1-14), got '-2'"),
    (["--skip_stages", "3 15"],
     "--skip_stages: '15' is not a stage of this recipe; allowed: stage numbers 1-14, space-separated (got '3 15')"),
    (["--skip_stages", "train"], "--skip_stages: 'train' is not a stage of this recipe; allowed: stage numbers 1-14"),
    (["--stage", "11", "--stop_stage", "11", "--skip_stages", "11"],
     "--stage 11 --stop_stage 11 with the skipped stages '11' (--skip_stages and --skip_*): no stage would run"),
    (["--stage", "10", "--stop_stage", "11", "--skip_train", "true"],
     "--stage 10 --stop_stage 11 with the skipped stages '2 4 5 6 7 8 9 10 11' (--skip_stages and --skip_*): "
     "no stage would run"),
])
def test_a_stage_range_that_runs_nothing_is_refused(tmp_path, args, message):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, *args)
    assert out.returncode == 1, out.stderr[-2000:]
    assert f"ERROR: {message}" in out.stderr
    assert "Successfully finished" not in out.stderr
    assert not (recipe / "data").exists() and not (recipe / "exp").exists()


def test_leading_zeros_are_stage_numbers_not_octal(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    # 09 is stage 9 (bash would read it as a bad octal number): stages 6-9 only log a line
    out = run_recipe(recipe, "--stage", "06", "--stop_stage", "09")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Stages 6-9: Language model: not used" in out.stderr and "Successfully finished" in out.stderr


# ----------------------------------------------------------------------------- exp dir per config path
def _two_configs_of_one_name(recipe: Path) -> None:
    for d in ("a", "b"):
        (recipe / d).mkdir()
        shutil.copy(TINY_EXP, recipe / d / "tiny.yaml")


def test_two_configs_of_one_name_are_refused_before_any_stage(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    _two_configs_of_one_name(recipe)
    out = run_recipe(recipe, "--train_config", "a/tiny.yaml b/tiny.yaml", "--train_jobs", "2")
    assert out.returncode == 1
    assert ("ERROR: --train_config: a/tiny.yaml and b/tiny.yaml both map to the exp dir exp/asr_tiny (exp dirs are "
            "named after the config's file name), so their trainings would overwrite each other. Rename one of "
            "them, or train them in separate runs with different --asr_tag (exp dir exp/asr_tiny_<tag>)") in out.stderr
    assert "nothing was run" in out.stderr
    assert "Stage 1:" not in out.stderr and not (recipe / "data").exists()


def test_an_exp_dir_trained_from_another_config_of_the_same_name_is_refused(tmp_path, monkeypatch):
    recipe = make_recipe_dir(tmp_path / "asr1")
    _two_configs_of_one_name(recipe)
    monkeypatch.chdir(recipe)
    train_guard.record(train_guard.Training("a/tiny.yaml", recipe / "exp/asr_tiny", "", "stats"))
    before = snapshot(recipe / "exp/asr_tiny")
    for stage in ("11", "12"):  # training and evaluating it are refused alike
        out = run_recipe(recipe, "--stage", stage, "--train_config", "b/tiny.yaml")
        assert out.returncode == 1
        assert ("ERROR: --train_config b/tiny.yaml: its exp dir exp/asr_tiny was trained from another config, "
                "a/tiny.yaml (the same file name); refusing to train or evaluate b/tiny.yaml there. Use --asr_tag "
                "<tag> to give b/tiny.yaml its own exp dir (exp/asr_tiny_<tag>)") in out.stderr
    assert snapshot(recipe / "exp/asr_tiny") == before
    # The config that trained it, however spelled, is its owner.
    assert train_guard.check_names([("./a//tiny.yaml", "exp/asr_tiny")]) == []
    assert train_guard.check_names([(str(recipe / "a/tiny.yaml"), "exp/asr_tiny")]) == []


# ----------------------------------------------------------------------------- check-config in stage 11
def test_stage_11_runs_check_config_on_every_config_before_any_training(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    (recipe / "bad").mkdir()
    tiny = TINY_EXP.read_text()
    (recipe / "bad/long_warmup.yaml").write_text(tiny.replace("warmup_steps: 2", "warmup_steps: 50"))
    (recipe / "bad/lists.yaml").write_text(tiny.replace(
        "scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 2\n    alpha: 1.5\n",
        "scheduler: piecewiselinearwarmuplr\nscheduler_conf:\n    warmup_steps_list: [0, 1, 2]\n"
        "    warmup_lr_list: [0.0, 1.0e-3]\n"))
    (recipe / "good.yaml").write_text(tiny)
    out = run_recipe(recipe, "--stage", "11", "--stop_stage", "11",
                     "--train_config", "good.yaml bad/long_warmup.yaml bad/lists.yaml")
    assert out.returncode == 1
    assert "\ngood.yaml: OK\n" in out.stderr
    assert ("\nERROR: bad/long_warmup.yaml: scheduler_conf.warmup_steps: 50 warmup updates but the config plans only 2 "
            "updates (max_epoch 1 x num_iters_per_epoch 2 / accum_grad 1); the run ends before reaching the peak LR"
            ) in out.stderr
    assert ("\nERROR: bad/lists.yaml: scheduler_conf: warmup_steps_list has 3 entries but warmup_lr_list has 2; they must "
            "be equally long (one entry per knot)") in out.stderr
    assert "check-config: 2 of 3 config(s) have problems" in out.stderr
    assert ("ERROR: check-config found errors in --train_config (listed above); fix them and rerun (no training "
            "was started)") in out.stderr
    assert "come(s) from espnet-warmup" not in out.stderr  # asr.sh runs ESPnet through the launcher
    assert not (recipe / "exp").exists()


# ----------------------------------------------------------------------------- train_guard, no training
def test_train_args_overlay_the_config_as_espnet_reads_them():
    over = train_guard.parse_train_args("--max_epoch 3 --scheduler_conf warmup_steps=5,alpha=2.0 "
                                        "--optim_conf lr=1e-3 --use_amp=true --best_model_criterion valid acc max")
    assert over == {"max_epoch": 3, "scheduler_conf": {"warmup_steps": 5, "alpha": 2.0}, "optim_conf": {"lr": 0.001},
                    "use_amp": True, "best_model_criterion": ["valid", "acc", "max"]}
    conf = {"max_epoch": 6, "scheduler_conf": {"warmup_steps": 2, "alpha": 1.5}, "seed": 1}
    assert train_guard.effective_config(conf, "--max_epoch 3 --scheduler_conf alpha=2") == {
        "max_epoch": 3, "scheduler_conf": {"warmup_steps": 2, "alpha": 2}, "seed": 1}


def test_a_value_moved_between_config_and_train_args_is_no_difference():
    old = train_guard.effective_config({"max_epoch": 3, "seed": 1}, "")
    new = train_guard.effective_config({"seed": 1}, "--max_epoch 3")
    assert train_guard.config_differences(old, new) == []


def test_guard_lets_a_fresh_or_never_checkpointed_exp_dir_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(TINY_EXP, tmp_path / "tiny.yaml")
    t = train_guard.Training("tiny.yaml", tmp_path / "exp/asr_tiny", "", "s1")
    assert train_guard.check(t) is None  # no exp dir
    train_guard.record(t)
    (tmp_path / "tiny.yaml").write_text(TINY_EXP.read_text().replace("max_epoch: 1", "max_epoch: 2"))
    assert train_guard.check(t) is None  # recorded, but nothing trained yet (no checkpoint, no .done)
    (tmp_path / "exp/asr_tiny/checkpoint.pth").write_bytes(b"x")
    assert "    max_epoch: 1 -> 2\n" in train_guard.check(t)
    rec = yaml.safe_load((tmp_path / "exp/asr_tiny/train_record.yaml").read_text())
    assert rec["config_path"] == "tiny.yaml" and rec["stats"] == "s1" and rec["config"]["max_epoch"] == 1


def test_guard_refuses_recollected_statistics_for_a_finished_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(TINY_EXP, tmp_path / "tiny.yaml")
    train_guard.record(train_guard.Training("tiny.yaml", tmp_path / "exp/asr_tiny", "", "s1"))
    (tmp_path / "exp/asr_tiny/.done").write_text("sig\n")
    assert train_guard.check(train_guard.Training("tiny.yaml", tmp_path / "exp/asr_tiny", "", "s1")) is None
    msg = train_guard.check(train_guard.Training("tiny.yaml", tmp_path / "exp/asr_tiny", "", "s2"))
    assert "the stage-10 statistics (feats_stats.npz, shapes) were collected again since" in msg


# ----------------------------------------------------------------------------- real training
def snapshot(d: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``d``: (size, mtime in ns, md5)."""
    return {str(p.relative_to(d)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.md5(p.read_bytes()).hexdigest())
            for p in sorted(d.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def edited(path: Path, text: str):
    old = path.read_text()
    path.write_text(text)
    try:
        yield
    finally:
        path.write_text(old)


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    """Stages 10-11 of a tiny config (listed twice, once as ./myconf/tiny.yaml) in a copy of tiny_data."""
    recipe = clone_data(tiny_data, tmp_path_factory.mktemp("config_guard") / "asr1")
    (recipe / "myconf").mkdir()
    shutil.copy(TINY_EXP, recipe / "myconf/tiny.yaml")
    out = run_recipe(recipe, "--stage", "10", "--stop_stage", "11",
                     "--train_config", "myconf/tiny.yaml ./myconf/tiny.yaml")
    assert out.returncode == 0, out.stderr[-4000:]
    return recipe, out.stderr


def stage_11(recipe: Path, *extra: str):
    return run_recipe(recipe, "--stage", "11", "--stop_stage", "11", "--train_config", "myconf/tiny.yaml", *extra)


@pytest.mark.slow
def test_a_config_listed_twice_is_trained_once_with_a_note(trained):
    recipe, log = trained
    assert ("NOTE: --train_config lists myconf/tiny.yaml more than once (also as ./myconf/tiny.yaml); it is "
            "trained and evaluated once") in log
    assert log.count("Stage 11: Training: myconf/tiny.yaml -> exp/asr_tiny") == 1
    rec = yaml.safe_load((recipe / "exp/asr_tiny/train_record.yaml").read_text())
    assert rec["config_path"] == "myconf/tiny.yaml" and rec["train_args"] == ""
    assert rec["config"] == yaml.safe_load(TINY_EXP.read_text())


@pytest.mark.slow
def test_a_changed_config_after_a_finished_training_is_refused_and_nothing_is_touched(trained):
    recipe, _ = trained
    exp = recipe / "exp/asr_tiny"
    before = snapshot(exp)
    changed = TINY_EXP.read_text().replace("warmup_steps: 2", "warmup_steps: 1").replace("seed: 1\n", "")
    with edited(recipe / "myconf/tiny.yaml", changed):
        out = stage_11(recipe, "--train_args", "--max_epoch 2")
    assert out.returncode == 1, out.stderr[-3000:]
    assert ("ERROR: exp/asr_tiny: its training is finished (exp/asr_tiny/.done), and myconf/tiny.yaml now differs "
            "from what trained it, per its record exp/asr_tiny/train_record.yaml (config myconf/tiny.yaml):\n"
            "    max_epoch: 1 -> 2\n"
            "    seed: 1 -> 0\n"  # removed from the config: ESPnet's default seed applies
            "    scheduler_conf.warmup_steps: 2 -> 1\n"
            "    --train_args: '' -> '--max_epoch 2'\n") in out.stderr
    assert ("Resuming would label that model with settings it was not trained with; refused, nothing in "
            "exp/asr_tiny was changed. To train the new config, give it a new exp dir with --asr_tag <tag> "
            "(exp/asr_tiny_<tag>), or remove exp/asr_tiny to retrain it from scratch") in out.stderr
    assert "ERROR: stage 11 refused (see above); no training was started" in out.stderr
    assert "Stage 11: Training:" not in out.stderr
    assert snapshot(exp) == before


@pytest.mark.slow
def test_an_interrupted_training_is_not_resumed_with_a_changed_config(trained):
    recipe, _ = trained
    exp = recipe / "exp/asr_tiny"
    done = (exp / ".done").read_text()
    (exp / ".done").unlink()  # what an interruption after an epoch leaves: checkpoint.pth, no .done
    try:
        before = snapshot(exp)
        with edited(recipe / "myconf/tiny.yaml", TINY_EXP.read_text().replace("lr: 1.0e-3", "lr: 2.0e-3")):
            out = stage_11(recipe)
        assert out.returncode == 1, out.stderr[-3000:]
        assert ("ERROR: exp/asr_tiny: its training is interrupted, resumable from exp/asr_tiny/checkpoint.pth, "
                "and myconf/tiny.yaml now differs from what trained it") in out.stderr
        assert "    optim_conf.lr: 0.001 -> 0.002\n" in out.stderr
        assert snapshot(exp) == before
    finally:
        (exp / ".done").write_text(done)


@pytest.mark.slow
def test_comments_and_espnet_defaults_are_not_a_change(trained):
    recipe, _ = trained
    exp = recipe / "exp/asr_tiny"
    model = snapshot(exp)["valid.acc.ave.pth"]
    same = ("# a new comment\n" + TINY_EXP.read_text()
            .replace("lr: 1.0e-3", "lr: 0.001")          # the same number
            .replace("    alpha: 1.5\n", "")             # exponentialwarmuplr's default alpha
            + "accum_grad: 1\n")                         # ESPnet's default
    with edited(recipe / "myconf/tiny.yaml", same):
        out = stage_11(recipe)
        assert out.returncode == 0, out.stderr[-3000:]
        assert ("Stage 11: Training: exp/asr_tiny: myconf/tiny.yaml differs from what trained it only where ESPnet "
                "sees no difference (comments, defaults, --ngpu); kept, not retrained") in out.stderr
        assert "Stage 11: Training: exp/asr_tiny already done, skipped" in out.stderr
        assert snapshot(exp)["valid.acc.ave.pth"] == model
        again = stage_11(recipe)  # the marker now holds the new signature: a plain skip
        assert again.returncode == 0 and "kept, not retrained" not in again.stderr
    assert snapshot(exp)["valid.acc.ave.pth"] == model


@pytest.mark.slow
def test_another_config_of_the_same_name_is_refused_after_training(trained):
    recipe, _ = trained
    exp = recipe / "exp/asr_tiny"
    before = snapshot(exp)
    (recipe / "other").mkdir(exist_ok=True)
    shutil.copy(TINY_EXP, recipe / "other/tiny.yaml")
    out = run_recipe(recipe, "--stage", "11", "--stop_stage", "11", "--train_config", "other/tiny.yaml")
    assert out.returncode == 1
    assert ("ERROR: --train_config other/tiny.yaml: its exp dir exp/asr_tiny was trained from another config, "
            "myconf/tiny.yaml (the same file name)") in out.stderr
    assert snapshot(exp) == before


@pytest.mark.slow
def test_an_exp_dir_without_a_record_is_compared_with_espnets_config_yaml(trained, tmp_path, monkeypatch):
    """Exp dirs trained before records existed: ESPnet's <exp>/config.yaml (the full option dump,
    recipe options included) is compared on the keys the new config sets."""
    recipe, _ = trained
    exp = tmp_path / "exp/asr_tiny"
    exp.mkdir(parents=True)
    for name in ("config.yaml", ".done"):
        shutil.copy(recipe / "exp/asr_tiny" / name, exp / name)
    monkeypatch.chdir(recipe)
    assert train_guard.check(train_guard.Training("myconf/tiny.yaml", exp, "", "")) is None
    with edited(recipe / "myconf/tiny.yaml", TINY_EXP.read_text().replace("n_mels: 40", "n_mels: 80")):
        msg = train_guard.check(train_guard.Training("myconf/tiny.yaml", exp, "--max_epoch 2", ""))
    assert f"per {exp / 'config.yaml'} (ESPnet's record of the training):\n" in msg
    assert msg.split(":\n", 1)[1].split("\n  Resuming")[0].splitlines() == [
        "    frontend_conf.n_mels: 40 -> 80", "    max_epoch: 1 -> 2"]
