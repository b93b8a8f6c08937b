"""Half-written ESPnet model files on a real full disk, and the stage-11 check that repairs them.

Real trainings of the tiny config through ``./run.sh --stage 11`` (asr.sh, run.pl, ESPnet's
trainer); the full disk is a real tmpfs mounted on the exp dir, sized from a first 1-epoch
training so that epoch 2's checkpoint.pth still fits and its ``2epoch.pth`` does not.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from espnet_warmup.recipe.stages import checkpoints
from tests.recipe.conftest import ROOT, clone_data, run_recipe

pytestmark = pytest.mark.slow

PAGE = 4096


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_state(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert torch.equal(a[k], b[k]), k


def tmpfs_usage(d: Path) -> int:
    """Bytes that the files of ``d`` take on a tmpfs (whole pages)."""
    return sum(-(-p.stat().st_size // PAGE) * PAGE for p in d.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def stats_recipe(tiny_data, tmp_path_factory):
    """A recipe dir after stage 10, with a 3-epoch config that averages the 3 best by valid loss,
    and one finished 1-epoch training of it (exp/asr_ckpt_cal: the calibration and a source of
    real model files)."""
    recipe = clone_data(tiny_data, tmp_path_factory.mktemp("recipe_ckpt") / "asr1")
    conf = yaml.safe_load((ROOT / "conf/tuning/train_tiny_exp_warmup.yaml").read_text())
    conf.update(max_epoch=3, keep_nbest_models=3,
                best_model_criterion=[["valid", "loss", "min"], ["valid", "acc", "max"]])
    (recipe / "ckpt.yaml").write_text(yaml.safe_dump(conf))
    out = run_recipe(recipe, "--stage", "10", "--stop_stage", "11", "--train_config", "ckpt.yaml",
                     "--asr_tag", "cal", "--train_args", "--max_epoch 1")
    assert out.returncode == 0, out.stderr[-3000:]
    return recipe


def train(recipe: Path, *args: str, **kw):
    return run_recipe(recipe, "--stage", "11", "--stop_stage", "11", "--train_config", "ckpt.yaml", *args, **kw)


def test_a_full_disk_while_saving_an_epoch_is_named_then_repaired_and_the_training_completes(stats_recipe, tmpfs):
    recipe = stats_recipe
    cal = recipe / "exp/asr_ckpt_cal"
    epoch_bytes = (cal / "1epoch.pth").stat().st_size
    size = -(-(tmpfs_usage(cal) + epoch_bytes // 2) // PAGE) * PAGE
    exp = tmpfs(recipe / "exp/asr_ckpt", size)

    out = train(recipe)
    assert out.returncode == 1, out.stderr[-3000:]
    # The console names the cause and the mount, with df's free bytes, and the file it cut.
    assert "ERROR: Training exp/asr_ckpt failed; read the log: exp/asr_ckpt/train.log" in out.stderr
    assert f"cause: no space left on {exp} (tmpfs, " in out.stderr
    assert f"free of {size} bytes" in out.stderr
    assert "cut by it: exp/asr_ckpt/2epoch.pth is truncated" in out.stderr
    assert "what to do: free space on " + str(exp) in out.stderr
    assert not (exp / ".done").exists()
    # ESPnet wrote checkpoint.pth for epoch 2, then ran out of space in 2epoch.pth.
    ckpt2 = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)
    assert ckpt2["reporter"]["epoch"] == 2
    with pytest.raises(checkpoints.NotLoadable, match="truncated"):
        checkpoints.load_state_dict(exp / "2epoch.pth")
    cut_bytes = (exp / "2epoch.pth").read_bytes()
    epoch1 = md5(exp / "1epoch.pth")

    # The user frees space (the tmpfs grows); the same command again.
    subprocess.run(["mount", "-o", "remount,size=8m", str(exp)], check=True)
    out = train(recipe)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (f"checkpoints: exp/asr_ckpt/2epoch.pth is truncated ({len(cut_bytes)} bytes; its zip archive has no "
            "end record): probably cut by a full disk or a kill during saving") in out.stderr
    assert ("rewritten from exp/asr_ckpt/checkpoint.pth (epoch 2's model); the broken file was moved to "
            "exp/asr_ckpt/quarantine/2epoch.pth") in out.stderr
    assert (exp / "quarantine/2epoch.pth").read_bytes() == cut_bytes  # kept, not deleted
    log = (exp / "train.log").read_text()
    assert "The training was resumed using" in log
    assert "1/3epoch started" not in log and "2/3epoch started" not in log and "3/3epoch started" in log
    assert (exp / ".done").is_file()
    # Nothing finished was lost: epoch 1 as it was, epoch 2 is the model of its checkpoint.
    assert md5(exp / "1epoch.pth") == epoch1
    assert_same_state(state(exp / "2epoch.pth"), ckpt2["model"])
    epochs = [state(exp / f"{e}epoch.pth") for e in (1, 2, 3)]
    # Averaging ran over the three epochs (it loaded the repaired one).
    ave = state(exp / "valid.loss.ave_3best.pth")
    for k, v in ave.items():
        if v.is_floating_point():
            torch.testing.assert_close(v, sum(e[k] for e in epochs) / 3, rtol=1e-5, atol=1e-7)
    assert os.readlink(exp / "valid.loss.ave.pth") == "valid.loss.ave_3best.pth"
    # The best-model link points at the epoch with the lowest valid loss (epoch 2 counts).
    stats = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]["stats"]
    best = min((1, 2, 3), key=lambda e: stats[e]["valid"]["loss"])
    assert os.readlink(exp / "valid.loss.best.pth") == f"{best}epoch.pth"
    assert os.readlink(exp / "latest.pth") == "3epoch.pth"


@pytest.fixture
def finished(stats_recipe, tmp_path):
    """A copy of the finished 1-epoch exp dir."""
    exp = tmp_path / "exp"
    shutil.copytree(stats_recipe / "exp/asr_ckpt_cal", exp, symlinks=True)
    return exp


def check(exp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.stages.checkpoints", "check", str(exp)],
                          capture_output=True, text=True, cwd=exp.parent)


def test_espnets_epoch_model_is_the_checkpoints_model(finished):
    # The premise of the repair, on ESPnet's own files: <N>epoch.pth == checkpoint.pth["model"].
    ckpt = torch.load(finished / "checkpoint.pth", map_location="cpu", weights_only=False)
    assert ckpt["reporter"]["epoch"] == 1
    assert_same_state(state(finished / "1epoch.pth"), ckpt["model"])


def test_a_truncated_epoch_model_is_rewritten_bit_equal_from_the_checkpoint(finished):
    original = state(finished / "1epoch.pth")
    cut = (finished / "1epoch.pth").read_bytes()[:5000]
    (finished / "1epoch.pth").write_bytes(cut)
    out = check(finished)
    assert out.returncode == 0, out.stderr
    assert (f"checkpoints: {finished}/1epoch.pth is truncated (5000 bytes; its zip archive has no end record): "
            "probably cut by a full disk or a kill during saving; rewritten from "
            f"{finished}/checkpoint.pth (epoch 1's model); the broken file was moved to "
            f"{finished}/quarantine/1epoch.pth") in out.stderr
    assert_same_state(state(finished / "1epoch.pth"), original)
    assert (finished / "quarantine/1epoch.pth").read_bytes() == cut
    assert not list(finished.glob(".*.tmp"))
    # A second check finds nothing to do.
    again = check(finished)
    assert again.returncode == 0 and again.stderr == ""


def test_an_epoch_model_missing_after_a_kill_between_the_two_saves_is_rewritten(finished):
    original = state(finished / "1epoch.pth")
    (finished / "1epoch.pth").unlink()
    out = check(finished)
    assert out.returncode == 0, out.stderr
    assert f"{finished}/1epoch.pth is missing although {finished}/checkpoint.pth is at epoch 1" in out.stderr
    assert_same_state(state(finished / "1epoch.pth"), original)


@pytest.mark.parametrize("damage,why", [
    (lambda b: b[: len(b) // 3], "is truncated ("),
    (lambda b: b"", "is empty (0 bytes): probably cut by a full disk or a kill during saving"),
    (lambda b: b"\x00" + os.urandom(63) * 100, "is not a PyTorch file (6301 bytes, starts with bytes 00"),
])
def test_a_corrupt_checkpoint_is_refused_quarantined_and_the_newest_epoch_named(finished, damage, why):
    bad = damage((finished / "checkpoint.pth").read_bytes())
    (finished / "checkpoint.pth").write_bytes(bad)
    epoch1 = md5(finished / "1epoch.pth")
    out = check(finished)
    assert out.returncode == 1
    assert f"checkpoints: ERROR: {finished}/checkpoint.pth {why}" in out.stderr
    assert f"moved to {finished}/quarantine/checkpoint.pth (not deleted)" in out.stderr
    assert f"the newest epoch model that loads is {finished}/1epoch.pth (epoch 1)" in out.stderr
    assert f"--init_param {finished}/1epoch.pth" in out.stderr
    assert (finished / "quarantine/checkpoint.pth").read_bytes() == bad
    assert md5(finished / "1epoch.pth") == epoch1
    # Asked again, it still refuses: epoch models without a checkpoint are never trained over.
    again = check(finished)
    assert again.returncode == 1
    assert f"{finished} has epoch models (1epoch.pth) but no checkpoint.pth" in again.stderr


def test_stage_11_refuses_to_train_over_epochs_whose_checkpoint_is_corrupt(stats_recipe):
    recipe = stats_recipe
    exp = recipe / "exp/asr_ckpt_corrupt"
    shutil.copytree(recipe / "exp/asr_ckpt_cal", exp, symlinks=True)
    (exp / ".done").unlink()
    (exp / "checkpoint.pth").write_bytes(b"\x00garbage" * 10)
    before = {p.name: md5(p) for p in exp.iterdir() if p.is_file()}
    # the settings it was trained with (else stage 11's config guard refuses first, rightly)
    out = train(recipe, "--asr_tag", "corrupt", "--train_args", "--max_epoch 1")
    assert out.returncode == 1
    assert "checkpoints: ERROR: exp/asr_ckpt_corrupt/checkpoint.pth is not a PyTorch file (80 bytes" in out.stderr
    assert "the newest epoch model that loads is exp/asr_ckpt_corrupt/1epoch.pth (epoch 1)" in out.stderr
    assert "ERROR: exp/asr_ckpt_corrupt was not trained" in out.stderr
    # Nothing deleted or rewritten: the checkpoint is in quarantine, the rest as it was, no new training
    # (.lock is stage 11's lock file: it names the run that holds it).
    after = {p.name: md5(p) for p in exp.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == {k: v for k, v in before.items() if k not in ("checkpoint.pth", ".lock")}
    assert md5(exp / "quarantine/checkpoint.pth") == before["checkpoint.pth"]
    assert not (exp / ".done").exists()


def test_a_truncated_averaged_model_and_its_link_are_quarantined_not_deleted(finished):
    # The 1-epoch run's averaged models are links (ave_1best); make a real averaged file and cut it.
    (finished / "valid.loss.ave_3best.pth").write_bytes((finished / "1epoch.pth").read_bytes()[:3000])
    (finished / "valid.loss.ave.pth").unlink()
    (finished / "valid.loss.ave.pth").symlink_to("valid.loss.ave_3best.pth")
    out = check(finished)
    assert out.returncode == 0, out.stderr
    assert f"{finished}/valid.loss.ave_3best.pth is truncated (3000 bytes" in out.stderr
    assert f"moved to {finished}/quarantine/valid.loss.ave_3best.pth; the training writes it again" in out.stderr
    assert f"{finished}/valid.loss.ave.pth is a link to valid.loss.ave_3best.pth, which does not exist" in out.stderr
    assert (finished / "quarantine/valid.loss.ave_3best.pth").stat().st_size == 3000
    assert (finished / "quarantine/valid.loss.ave.pth").is_symlink()


def _trainer_pid(recipe: Path, exp: str) -> int | None:
    """The PID of the ESPnet trainer process (``python3 -m espnet_warmup -m espnet2.bin.asr_train
    ... --output_dir <exp>``), not of the launcher or the monitor that name it in their arguments."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = [a.decode() for a in (d / "cmdline").read_bytes().split(b"\0")]
            cwd = os.readlink(d / "cwd")
        except OSError:
            continue
        if argv[1:5] == ["-m", "espnet_warmup", "-m", "espnet2.bin.asr_train"] and cwd == str(recipe):
            if "--output_dir" in argv and argv[argv.index("--output_dir") + 1] == exp:
                return int(d.name)
    return None


def test_a_killed_training_is_summarised_as_killed_by_signal_9(stats_recipe):
    recipe = stats_recipe
    exp = recipe / "exp/asr_ckpt_killed"
    args = ["./run.sh", "--stage", "11", "--stop_stage", "11", "--train_config", "ckpt.yaml", "--asr_tag", "killed",
            "--train_args", "--num_iters_per_epoch 200"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.Popen(args, cwd=recipe, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    pid = None
    while pid is None:
        log = (exp / "train.log").read_text() if (exp / "train.log").exists() else ""
        if "1/3epoch started" in log:
            pid = _trainer_pid(recipe, "exp/asr_ckpt_killed")
        assert proc.poll() is None and time.time() < deadline, "the training ended before it could be killed"
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)  # as the OOM killer does
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "ERROR: Training exp/asr_ckpt_killed failed; read the log: exp/asr_ckpt_killed/train.log" in stderr
    assert "cause: killed by signal 9 (SIGKILL; exit code 137): out of memory (the kernel's OOM killer)" in stderr
    assert "# Ended (code 137" in stderr  # run.pl's trailer, shown
    assert "what to do: if it ran out of memory" in stderr
    assert not (exp / ".done").exists()


def test_a_repair_on_a_still_full_disk_is_refused_and_done_once_space_is_freed(stats_recipe, tmp_path, tmpfs):
    disk = tmpfs(tmp_path / "disk", "1m")
    exp = disk / "exp"
    shutil.copytree(stats_recipe / "exp/asr_ckpt_cal", exp, symlinks=True)
    original = state(exp / "1epoch.pth")
    (exp / "1epoch.pth").write_bytes((exp / "1epoch.pth").read_bytes()[:5000])
    with open(disk / "ballast", "wb", buffering=0) as f:  # another user's data fills the disk
        with pytest.raises(OSError, match="No space left on device"):
            while True:
                f.write(b"\0" * PAGE)
    out = check(exp)
    assert out.returncode == 1
    assert (f"checkpoints: ERROR: {exp}/1epoch.pth is truncated (5000 bytes; its zip archive has no end record): "
            "probably cut by a full disk or a kill during saving; rewriting it from "
            f"{exp}/checkpoint.pth failed: [Errno 28] No space left on device") in out.stderr
    assert f"(the broken file is in {exp}/quarantine/1epoch.pth). Free space and rerun" in out.stderr
    assert not list(exp.glob(".*.tmp")) and not (exp / "1epoch.pth").exists()
    (disk / "ballast").unlink()
    out = check(exp)
    assert out.returncode == 0, out.stderr
    assert f"{exp}/1epoch.pth is missing although {exp}/checkpoint.pth is at epoch 1" in out.stderr
    assert_same_state(state(exp / "1epoch.pth"), original)
    assert (exp / "quarantine/1epoch.pth").stat().st_size == 5000
