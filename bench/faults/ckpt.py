"""Fault-battery cases: half-written checkpoints, full disks, killed jobs (areas checkpoints, disk, logs).

Every case runs the user's command (``./run.sh --stage N ...``) in its private recipe copy. The
checkpoint cases start from a real finished 2-epoch training of a tiny config (stages 10-11 run
once, in a cache dir, then copied into each case's recipe), with its stage marker removed as a
failed run leaves it, and one file damaged as a full disk or a kill leaves it. The disk cases run
in a private mount namespace (``unshare --mount``) holding a small tmpfs, so the full disk goes
away with the command whatever happens to it; what the after-check needs is copied out first.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bench.faults.base import Case, Command

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "ckpt_faults.yaml"
TAG = "base"
EXP = f"exp/asr_ckpt_faults_{TAG}"
#: Two epochs, the two best averaged (a real averaged model file), by valid accuracy.
OVERRIDES = {"max_epoch": 2, "keep_nbest_models": 2, "best_model_criterion": [["valid", "acc", "max"]]}

_cache: dict[str, Path] = {}


def _env() -> dict[str, str]:
    return {"PYTHONWARNINGS": "ignore"}


def _run(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **_env())
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True, timeout=900)


def _write_config(recipe: Path) -> None:
    conf = yaml.safe_load((ROOT / "conf/tuning/train_tiny_exp_warmup.yaml").read_text())
    conf.update(OVERRIDES)
    (recipe / CONFIG).write_text(yaml.safe_dump(conf))


def _trained(recipe: Path) -> Path:
    """A copy of ``recipe`` (after stages 1-5) where stages 10-11 trained the tiny config (made once)."""
    if "dir" not in _cache:
        base = Path(tempfile.mkdtemp(prefix="faults_ckpt_")) / "asr1"
        atexit.register(shutil.rmtree, base.parent, True)
        subprocess.run(["cp", "-a", str(recipe), str(base)], check=True)
        _write_config(base)
        out = _run(base, "--stage", "10", "--stop_stage", "11", "--train_config", CONFIG, "--asr_tag", TAG)
        if out.returncode != 0:
            raise RuntimeError(f"the base training for the checkpoint cases failed:\n{out.stderr[-3000:]}")
        _cache["dir"] = base
    return _cache["dir"]


def _with_training(recipe: Path) -> Path:
    """Put the cached finished training (and its stats) into ``recipe``; its marker removed, as a
    failed run leaves it. Returns the exp dir."""
    base = _trained(recipe)
    _write_config(recipe)
    if (recipe / "exp").exists():
        shutil.rmtree(recipe / "exp")
    subprocess.run(["cp", "-a", str(base / "exp"), str(recipe / "exp")], check=True)
    exp = recipe / EXP
    (exp / ".done").unlink()
    return exp


def _stage_11(recipe: Path, *extra: str, **kw) -> Command:
    return Command(["./run.sh", "--stage", "11", "--stop_stage", "11", "--train_config", CONFIG, "--asr_tag", TAG,
                    *extra], cwd=recipe, env=_env(), **kw)


def _state(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _same_state(a: dict, b: dict) -> bool:
    import torch

    return list(a) == list(b) and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


def _checkpoint_model(exp: Path) -> dict:
    import torch

    return torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["model"]


def _damage(name: str, how):
    def setup(tmp: Path, recipe: Path) -> Command:
        exp = _with_training(recipe)
        path = exp / name
        (tmp / "original").write_bytes(path.read_bytes())
        path.write_bytes(how(path.read_bytes()))
        (tmp / "damaged").write_bytes(path.read_bytes())
        (tmp / "train.log.before").write_bytes((exp / "train.log").read_bytes())
        return _stage_11(recipe)
    return setup


def _quarantined(name: str):
    """The damaged file is in quarantine, byte for byte; the epoch models as they were."""
    def after(tmp: Path, recipe: Path) -> None:
        exp = recipe / EXP
        q = exp / "quarantine" / name
        assert q.is_file() and q.read_bytes() == (tmp / "damaged").read_bytes(), f"{q} is not the damaged file"
        for e in (1, 2):
            if name != f"{e}epoch.pth":
                assert (exp / f"{e}epoch.pth").is_file(), f"{e}epoch.pth was lost"
    return after


def _repaired(tmp: Path, recipe: Path) -> None:
    exp = recipe / EXP
    _quarantined("2epoch.pth")(tmp, recipe)
    assert _same_state(_state(exp / "2epoch.pth"), _checkpoint_model(exp)), "2epoch.pth is not the checkpoint's model"
    assert (exp / ".done").is_file(), "the resumed training did not finish"
    _state(exp / "valid.acc.ave_2best.pth")  # the averaging loaded the repaired file


def _refused(tmp: Path, recipe: Path) -> None:
    exp = recipe / EXP
    _quarantined("checkpoint.pth")(tmp, recipe)
    assert not (exp / ".done").exists(), "a training was marked done"
    assert (exp / "train.log").read_bytes() == (tmp / "train.log.before").read_bytes(), "a new training started"


def _missing_epoch(tmp: Path, recipe: Path) -> Command:
    exp = _with_training(recipe)
    (exp / "2epoch.pth").unlink()  # killed after checkpoint.pth was written, before 2epoch.pth
    return _stage_11(recipe)


def _missing_epoch_after(tmp: Path, recipe: Path) -> None:
    exp = recipe / EXP
    assert _same_state(_state(exp / "2epoch.pth"), _checkpoint_model(exp)), "2epoch.pth was not rebuilt"
    assert (exp / ".done").is_file()


def _no_checkpoint(tmp: Path, recipe: Path) -> Command:
    exp = _with_training(recipe)
    (exp / "checkpoint.pth").unlink()
    return _stage_11(recipe)


def _no_checkpoint_after(tmp: Path, recipe: Path) -> None:
    exp = recipe / EXP
    assert (exp / "1epoch.pth").is_file() and (exp / "2epoch.pth").is_file(), "an epoch model was lost"
    assert not (exp / ".done").exists() and not (exp / "checkpoint.pth").exists(), "it trained from scratch"


def _averaged_cut(tmp: Path, recipe: Path) -> Command:
    exp = _with_training(recipe)
    ave = exp / "valid.acc.ave_2best.pth"
    (tmp / "damaged").write_bytes(ave.read_bytes()[:4096])
    ave.write_bytes((tmp / "damaged").read_bytes())
    return _stage_11(recipe)


def _averaged_after(tmp: Path, recipe: Path) -> None:
    exp = recipe / EXP
    _quarantined("valid.acc.ave_2best.pth")(tmp, recipe)
    _state(exp / "valid.acc.ave_2best.pth")  # written again by the averaging
    assert os.readlink(exp / "valid.acc.ave.pth") == "valid.acc.ave_2best.pth"


def _dangling_link(tmp: Path, recipe: Path) -> Command:
    exp = _with_training(recipe)
    (exp / "valid.acc.best.pth").unlink()
    (exp / "valid.acc.best.pth").symlink_to("7epoch.pth")
    return _stage_11(recipe)


def _dangling_after(tmp: Path, recipe: Path) -> None:
    exp = recipe / EXP
    assert os.readlink(exp / "quarantine/valid.acc.best.pth") == "7epoch.pth"
    assert (exp / ".done").is_file()


def _tmpfs_command(recipe: Path, mount: str, size: int | str, command: str, keep: str, out: Path) -> Command:
    """``command`` in a private mount namespace with a tmpfs of ``size`` at ``recipe/mount``; on exit
    the tmpfs' ``keep`` dir is copied to ``out`` (for the after-check) and the namespace goes."""
    script = (f"set -u; mkdir -p {mount} && mount -t tmpfs -o size={size} tmpfs {mount} || exit 99; "
              f"{command} 2>&1 | tee {out.parent}/console.txt; rc=${{PIPESTATUS[0]}}; "
              f"mkdir -p {out}; cp -a {keep}/. {out}/ 2>/dev/null; exit $rc")
    return Command(["unshare", "--mount", "--propagation", "private", "bash", "-c", script], cwd=recipe, env=_env())


def _pages(n: int) -> int:
    return -(-n // 4096) * 4096


def _disk_full_training(tmp: Path, recipe: Path) -> Command:
    base = _trained(recipe) / EXP
    _with_training(recipe)
    # Room for epoch 1 (its logs, checkpoint.pth, 1epoch.pth) and half an epoch model: epoch 2's
    # checkpoint.pth fits, its 2epoch.pth does not.
    used = sum(_pages(p.stat().st_size) for p in base.iterdir() if p.is_file() and not p.is_symlink()
               and not re.match(r"(2epoch|valid\..*)\.pth$", p.name))
    size = _pages(used + (base / "1epoch.pth").stat().st_size // 2)
    exp = "exp/asr_ckpt_faults_full"
    return _tmpfs_command(recipe, exp, size, f"./run.sh --stage 11 --stop_stage 11 --train_config {CONFIG} "
                          "--asr_tag full", exp, tmp / "exp_after")


def _console_says(tmp: Path, *texts: str) -> None:
    console = (tmp / "console.txt").read_text()
    for text in texts:
        assert re.search(text, console), f"the console summary does not say {text!r}"


def _disk_full_training_after(tmp: Path, recipe: Path) -> None:
    exp = tmp / "exp_after"
    _console_says(tmp, r"cause: no space left on \S+/exp/asr_ckpt_faults_full \(tmpfs, ",
                  r"cut by it: exp/asr_ckpt_faults_full/2epoch\.pth is truncated")
    assert (exp / "1epoch.pth").is_file() and not (exp / ".done").exists()
    from espnet_warmup.recipe.stages.checkpoints import load_checkpoint, load_state_dict

    assert load_checkpoint(exp / "checkpoint.pth")["reporter"]["epoch"] == 2
    load_state_dict(exp / "1epoch.pth")


def _disk_full_format(tmp: Path, recipe: Path) -> Command:
    return _tmpfs_command(recipe, "dump_small", "300k", "./run.sh --stage 3 --stop_stage 3 --dumpdir dump_small",
                          "dump_small", tmp / "dump_after")


def _disk_full_format_after(tmp: Path, recipe: Path) -> None:
    _console_says(tmp, r"cause: no space left on \S+/dump_small \(tmpfs, .*No space left on device")
    assert not (tmp / "dump_after/raw/org/train/.done").exists(), "a set cut by the full disk was marked done"


DECODE_DIR = f"{EXP}/decode_asr_model_valid.acc.ave/test"


def _disk_full_decode(tmp: Path, recipe: Path) -> Command:
    _with_training(recipe)  # stage 12 needs only its model file
    cmd = f"./run.sh --stage 12 --stop_stage 12 --train_config {CONFIG} --asr_tag {TAG}"
    return _tmpfs_command(recipe, DECODE_DIR, "48k", cmd, DECODE_DIR, tmp / "decode_after")


def _disk_full_decode_after(tmp: Path, recipe: Path) -> None:
    _console_says(tmp, r"cause: no space left on \S+/decode_asr_model_valid\.acc\.ave/test \(tmpfs, ")
    assert not (tmp / "decode_after/.done").exists(), "a failed decoding was marked done"


def _trainer_pid(recipe: Path, exp: str) -> int | None:
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = [a.decode() for a in (d / "cmdline").read_bytes().split(b"\0")]
            cwd = os.readlink(d / "cwd")
        except OSError:
            continue
        if argv[1:5] == ["-m", "espnet_warmup", "-m", "espnet2.bin.asr_train"] and cwd == str(recipe) \
                and "--output_dir" in argv and argv[argv.index("--output_dir") + 1] == exp:
            return int(d.name)
    return None


def _killed(tmp: Path, recipe: Path) -> Command:
    _with_training(recipe)
    exp = "exp/asr_ckpt_faults_oom"

    def during(proc) -> None:
        log = recipe / exp / "train.log"
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if log.exists() and "1/2epoch started" in log.read_text(errors="replace"):
                pid = _trainer_pid(recipe, exp)
                if pid:
                    os.kill(pid, signal.SIGKILL)  # as the OOM killer does
                    return
            time.sleep(0.2)

    script = (f"./run.sh --stage 11 --stop_stage 11 --train_config {CONFIG} --asr_tag oom "
              f"--train_args '--num_iters_per_epoch 200' 2>&1 | tee {tmp}/console.txt; exit ${{PIPESTATUS[0]}}")
    return Command(["bash", "-c", script], cwd=recipe, env=_env(), during=during)


def _killed_after(tmp: Path, recipe: Path) -> None:
    log = (recipe / "exp/asr_ckpt_faults_oom/train.log").read_text()
    _console_says(tmp, r"cause: killed by signal 9 \(SIGKILL; exit code 137\): out of memory")
    assert "# Ended (code 137" in log and not (recipe / "exp/asr_ckpt_faults_oom/.done").exists()


def _corrupt_decode_model(tmp: Path, recipe: Path) -> Command:
    exp = _with_training(recipe)
    ave = exp / "valid.acc.ave_2best.pth"
    ave.write_bytes(ave.read_bytes()[:2048])
    script = (f"./run.sh --stage 12 --stop_stage 12 --train_config {CONFIG} --asr_tag {TAG} 2>&1 "
              f"| tee {tmp}/console.txt; exit ${{PIPESTATUS[0]}}")
    return Command(["bash", "-c", script], cwd=recipe, env=_env())


def _corrupt_decode_model_after(tmp: Path, recipe: Path) -> None:
    _console_says(tmp, rf"cause: corrupt file: {EXP}/valid\.acc\.ave\.pth -> {EXP}/valid\.acc\.ave_2best\.pth is "
                  r"truncated \(2048 bytes", rf"what to do: run `python3 -m espnet_warmup\.recipe\.stages\.checkpoints "
                  rf"check {EXP}`")
    assert (recipe / EXP / "valid.acc.ave_2best.pth").stat().st_size == 2048, "the model file was changed"
    assert not (recipe / DECODE_DIR / ".done").exists()


CUT = r"probably cut by a full disk or a kill during saving"

CASES: list[Case] = [
    Case("epoch model cut mid-save (2epoch.pth truncated)", "checkpoints",
         _damage("2epoch.pth", lambda b: b[: len(b) // 2]), 0, r"Successfully finished", needs_recipe=True,
         after=_repaired),
    Case("epoch model missing (killed between the checkpoint and the epoch save)", "checkpoints", _missing_epoch, 0,
         rf"checkpoints: {EXP}/2epoch\.pth is missing although {EXP}/checkpoint\.pth is at epoch 2 .*rewritten from",
         needs_recipe=True, after=_missing_epoch_after),
    Case("checkpoint.pth truncated", "checkpoints", _damage("checkpoint.pth", lambda b: b[: len(b) // 2]), 1,
         rf"checkpoints: ERROR: {EXP}/checkpoint\.pth is truncated .*{CUT}", needs_recipe=True, after=_refused),
    Case("checkpoint.pth zero bytes", "checkpoints", _damage("checkpoint.pth", lambda b: b""), 1,
         rf"checkpoints: ERROR: {EXP}/checkpoint\.pth is empty \(0 bytes\)", needs_recipe=True, after=_refused),
    Case("checkpoint.pth garbage bytes", "checkpoints", _damage("checkpoint.pth", lambda b: b"\x00garbage\n" * 500), 1,
         rf"checkpoints: ERROR: {EXP}/checkpoint\.pth is not a PyTorch file \(4500 bytes", needs_recipe=True,
         after=_refused),
    Case("epoch models without checkpoint.pth", "checkpoints", _no_checkpoint, 1,
         rf"checkpoints: ERROR: {EXP} has epoch models \(1epoch\.pth, 2epoch\.pth\) but no checkpoint\.pth",
         needs_recipe=True, after=_no_checkpoint_after),
    Case("averaged model truncated", "checkpoints", _averaged_cut, 0, r"Successfully finished", needs_recipe=True,
         after=_averaged_after),
    Case("best-model link to a missing epoch", "checkpoints", _dangling_link, 0, r"Successfully finished",
         needs_recipe=True, after=_dangling_after),
    # The first error line of a failed training is report_failure's "failed; read the log" line;
    # the cause follows it (the after-checks read it).
    Case("disk full while saving an epoch (tmpfs exp dir)", "disk", _disk_full_training, 1,
         r"ERROR: Training exp/asr_ckpt_faults_full failed; read the log: exp/asr_ckpt_faults_full/train\.log",
         needs_recipe=True, after=_disk_full_training_after),
    Case("disk full while formatting audio (stage 3, tmpfs dumpdir)", "disk", _disk_full_format, 1,
         r"run\.pl: [12] / 2 failed, log is in dump_small/raw/org/train/logdir/format_audio\.\*\.log",
         needs_recipe=True, after=_disk_full_format_after),
    Case("disk full while decoding (stage 12, tmpfs decode dir)", "disk", _disk_full_decode, 1,
         r"run\.pl: (cannot start job \d .*No space left on device|[12] / 2 failed, log is in "
         r"exp/asr_ckpt_faults_base/decode_asr_model_valid\.acc\.ave/test/logdir/asr_inference\.\*\.log)",
         needs_recipe=True, after=_disk_full_decode_after),
    Case("decoding with a truncated averaged model", "logs", _corrupt_decode_model, 1,
         r"run\.pl: [12] / 2 failed, log is in "
         r"exp/asr_ckpt_faults_base/decode_asr_model_valid\.acc\.ave/test/logdir/asr_inference\.\*\.log",
         needs_recipe=True, after=_corrupt_decode_model_after),
    Case("training killed by SIGKILL (as the OOM killer does)", "logs", _killed, 1,
         r"ERROR: Training exp/\S+ failed; read the log: exp/\S+/train\.log", needs_recipe=True,
         after=_killed_after),
]
