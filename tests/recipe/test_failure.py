"""The failure summary (espnet_warmup.recipe.stages.failure, asr.sh's report_failure) on real logs.

Each log is written by a real run.pl job: a real full disk (a tmpfs), a real SIGKILL, a real
corrupt model file, a real Python exception; then one real recipe stage on a full disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from espnet_warmup.recipe.stages import failure
from tests.recipe.conftest import ROOT, clone_data, run_recipe

RUN_PL = str(ROOT / "utils/run.pl")


def run_pl(log: Path, *command: str, cwd: Path, wait: bool = True):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [RUN_PL, str(log), *command]
    if not wait:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def summary(*logs: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.stages.failure", *map(str, logs)],
                          cwd=cwd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))


SAVE_BIG = "import torch; torch.save({'w': torch.zeros(200000)}, 'out/model.pth')"


def test_a_torch_save_on_a_full_disk_is_named_no_space_left_with_the_mount(tmp_path, tmpfs):
    disk = tmpfs(tmp_path / "out", "64k")
    out = run_pl(disk / "save.log", sys.executable, "-c", SAVE_BIG, cwd=tmp_path)
    assert out.returncode == 1
    log = (disk / "save.log").read_text()
    assert "basic_ios::clear: iostream error" in log  # what PyTorch says, without naming the cause
    s = summary(disk / "save.log", cwd=tmp_path)
    assert s.returncode == 0
    st = os.statvfs(disk)
    assert (f"cause: no space left on {disk} (tmpfs, {st.f_bavail * st.f_frsize} bytes free of 65536 bytes = "
            "64.0 KiB); the job's error: RuntimeError: basic_ios::clear: iostream error") in s.stdout
    assert "cut by it: out/model.pth is truncated (" in s.stdout  # as the job's command names it
    assert "what to do: free space on " + str(disk) in s.stdout

    # The same log where the disk is not full: the write error is not blamed on the disk.
    shutil.copy(disk / "save.log", tmp_path / "save.log")
    s = summary(tmp_path / "save.log", cwd=tmp_path)
    assert "no space left" not in s.stdout
    assert "cause: RuntimeError: [enforce fail at inline_container.cc" in s.stdout
    assert "(raised at " in s.stdout


def test_a_job_killed_by_sigkill_is_named_with_the_signal_and_the_nltk_noise_left_out(tmp_path):
    (tmp_path / "job.py").write_text(
        "import os, time\n"
        "print('[nltk_data] Error loading cmudict: <urlopen error [Errno -3] Temporary failure in name resolution>')\n"
        "print('[nltk_data] Error loading averaged_perceptron_tagger: <urlopen error>', flush=True)\n"
        "open('pid', 'w').write(str(os.getpid()))\n"
        "time.sleep(600)\n")
    proc = run_pl(tmp_path / "job.log", sys.executable, "job.py", cwd=tmp_path, wait=False)
    deadline = time.time() + 120
    while not (tmp_path / "pid").is_file() or not (tmp_path / "pid").read_text():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.1)
    os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    s = summary(tmp_path / "job.log", cwd=tmp_path)
    assert ("cause: killed by signal 9 (SIGKILL; exit code 137): out of memory (the kernel's OOM killer), "
            "a `kill -9`, or a scheduler's kill (memory or time limit)") in s.stdout
    assert "# Ended (code 137; signal 9)" in s.stdout
    assert "nltk" not in s.stdout


def test_a_corrupt_model_file_is_named_with_why_it_does_not_load(tmp_path):
    (tmp_path / "model.pth").write_bytes(b"\x00not a model\n" * 10)
    out = run_pl(tmp_path / "load.log", sys.executable, "-c", "import torch; torch.load('model.pth')", cwd=tmp_path)
    assert out.returncode == 1
    assert "UnpicklingError" in (tmp_path / "load.log").read_text()
    s = summary(tmp_path / "load.log", cwd=tmp_path)
    assert "cause: corrupt file: model.pth is not a PyTorch file (130 bytes, starts with bytes 006e6f74" in s.stdout
    assert "what to do: make the file again from its source" in s.stdout


def test_a_python_exception_is_named_with_the_file_and_line_that_raised_it(tmp_path):
    (tmp_path / "job.py").write_text("import sys\n\ndef read():\n    open('/no/such/file.txt')\n\nread()\n")
    out = run_pl(tmp_path / "job.log", sys.executable, "job.py", cwd=tmp_path)
    assert out.returncode == 1
    s = summary(tmp_path / "job.log", cwd=tmp_path)
    assert ("cause: FileNotFoundError: [Errno 2] No such file or directory: '/no/such/file.txt' "
            f"(raised at {tmp_path}/job.py:4)") in s.stdout


def test_a_finished_log_and_a_missing_log_are_told_apart(tmp_path):
    assert run_pl(tmp_path / "ok.log", "true", cwd=tmp_path).returncode == 0
    s = summary(tmp_path / "ok.log", tmp_path / "missing.*.log", cwd=tmp_path)
    assert s.returncode == 0
    assert s.stdout == f"  no log at {tmp_path}/missing.*.log\n"


def test_diagnose_reads_signals_from_an_exit_status_without_the_signal_field(tmp_path):
    # slurm.pl and a shell in between report 128+N without "; signal N".
    log = tmp_path / "x.log"
    log.write_text("# cmd\n# Started at now\n#\nworking\n# Accounting: time=1 threads=1\n"
                   "# Ended (code 143) at now, elapsed time 1 seconds\n")
    d = failure.diagnose(log)
    assert d.cause.startswith("killed by signal 15 (SIGTERM; exit code 143): a `kill`, a scheduler's preemption")


@pytest.mark.slow
def test_stage_3_on_a_full_disk_names_it_and_a_rerun_after_freeing_space_finishes(tiny_data, tmp_path, tmpfs):
    recipe = clone_data(tiny_data, tmp_path / "asr1")
    shutil.rmtree(recipe / "dump")
    dump = tmpfs(recipe / "dump", "300k")
    out = run_recipe(recipe, "--stage", "3", "--stop_stage", "3")
    assert out.returncode == 1
    assert ("ERROR: Formatting the audio of data/train failed; read the log: "
            "dump/raw/org/train/logdir/format_audio.*.log") in out.stderr
    assert f"cause: no space left on {dump} (tmpfs, " in out.stderr
    assert "free of 307200 bytes = 300.0 KiB); the job's error: OSError: [Errno 28] No space left on device" in out.stderr
    assert not (recipe / "dump/raw/org/train/.done").exists()
    subprocess.run(["mount", "-o", "remount,size=64m", str(dump)], check=True)
    out = run_recipe(recipe, "--stage", "3", "--stop_stage", "3")
    assert out.returncode == 0, out.stderr[-3000:]
    for d in ("raw/org/train", "raw/org/dev", "raw/test"):
        assert (dump / d / ".done").is_file()
        n = len((recipe / "data" / d.split("/")[-1] / "wav.scp").read_text().splitlines())
        assert len((dump / d / "wav.scp").read_text().splitlines()) == n
