"""utils/slurm.pl against a real single-node Slurm (started by the slurm_cluster fixture)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from espnet_warmup.recipe.launchers.common import read_exit_status

from .conftest import SLURM_PL

pytestmark = pytest.mark.cluster


def test_array_tasks_run_in_the_submit_dir_with_path_sh_and_write_their_own_logs(
        slurm_pl, slurm_workdir):
    (slurm_workdir / "path.sh").write_text("export FROM_PATH_SH=yes\n")
    res = slurm_pl("JOB=1:3", "exp/log/hello.JOB.log", "echo", "task", "JOB", "$FROM_PATH_SH",
                   ";", "pwd")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    for i in (1, 2, 3):
        text = (slurm_workdir / f"exp/log/hello.{i}.log").read_text()
        assert text.startswith(f"# echo task {i} $FROM_PATH_SH ; pwd\n# Started at ")
        assert f"# SLURM_ARRAY_TASK_ID={i}\n" in text
        assert f"#\ntask {i} yes\n{slurm_workdir}\n# Accounting: time=" in text
        assert read_exit_status(str(slurm_workdir / f"exp/log/hello.{i}.log")) == 0
    # Kaldi layout: exp/log/x.JOB.log -> job script exp/q/hello.sh; sync files cleaned up.
    script = (slurm_workdir / "exp/q/hello.sh").read_text()
    assert re.search(r"^# Submitted with: sbatch --export=PATH .*--array 1-3 exp/q/hello.sh$",
                     script, re.M)
    assert not list((slurm_workdir / "exp/q").glob("done.*"))


def test_failing_task_makes_slurm_pl_exit_1_and_name_its_log(slurm_pl, slurm_workdir):
    res = slurm_pl("JOB=1:3", "exp/log/x.JOB.log", "test", "JOB", "-ne", "2")
    assert res.returncode == 1
    assert res.stderr == "slurm.pl: 1 / 3 failed, log is in exp/log/x.*.log\n"
    codes = [read_exit_status(str(slurm_workdir / f"exp/log/x.{i}.log")) for i in (1, 2, 3)]
    assert codes == [0, 1, 0]


def test_single_job_failure_names_its_log(slurm_pl, slurm_workdir):
    res = slurm_pl("--time", "5:00", "--name", "one", "exp/one.log", "exit", "3")
    assert res.returncode == 1
    assert res.stderr == "slurm.pl: job failed, log is in exp/one.log\n"
    assert read_exit_status(str(slurm_workdir / "exp/one.log")) == 3


def _max_overlap(events_file) -> int:
    events = []
    for line in events_file.read_text().split("\n"):
        if line:
            kind, stamp = line.split()
            events.append((int(stamp), 1 if kind == "start" else -1))
    running = peak = 0
    for _, delta in sorted(events):  # ends (-1) sort before starts (+1) at equal times
        running += delta
        peak = max(peak, running)
    return peak


def test_max_jobs_run_limits_concurrency_on_the_cluster(slurm_pl, slurm_workdir):
    (slurm_workdir / "task.sh").write_text(
        'echo "start $(date +%s%N)" >> events\nsleep 2\necho "end $(date +%s%N)" >> events\n'
    )
    # The cluster has 4 CPUs (2 nodes x 2): without the limit all 4 tasks could run at once.
    res = slurm_pl("--max-jobs-run", "2", "JOB=1:4", "exp/log/c.JOB.log", "bash", "task.sh")
    assert res.returncode == 0, res.stderr
    assert "--array 1-4%2 " in (slurm_workdir / "exp/q/c.sh").read_text()
    assert _max_overlap(slurm_workdir / "events") == 2


def test_undescribed_option_is_refused_before_submitting(slurm_pl, slurm_workdir, slurm_cluster):
    res = slurm_pl("--gpu-type", "a100", "JOB=1:2", "exp/log/x.JOB.log", "true")
    assert res.returncode == 1
    assert res.stderr == (
        "slurm.pl: option --gpu_type is not described in conf/slurm.conf "
        "(add a line 'option gpu_type=* <sbatch flags with $0>')\n"
    )
    assert not (slurm_workdir / "exp").exists()
    assert slurm_cluster.run("squeue", "-h").stdout == ""


def test_sigterm_cancels_the_submitted_jobs(slurm_cluster, slurm_workdir):
    proc = subprocess.Popen(
        [SLURM_PL, "JOB=1:3", "exp/log/s.JOB.log", "echo", "$BASHPID", ">", "pid.JOB;", "exec", "sleep", "300"],
        cwd=slurm_workdir, env=slurm_cluster.env, stderr=subprocess.PIPE, text=True,
    )
    pid_files = [slurm_workdir / f"pid.{i}" for i in (1, 2, 3)]
    deadline = time.time() + 60
    while not all(p.exists() and p.read_text().strip() for p in pid_files):
        assert time.time() < deadline, "tasks did not start: " + slurm_cluster.run("squeue").stdout
        time.sleep(0.2)
    job_ids = set(slurm_cluster.run("squeue", "-h", "-o", "%F").stdout.split())
    assert len(job_ids) == 1
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    job_id = job_ids.pop()
    assert proc.returncode == 128 + signal.SIGTERM
    assert err == f"slurm.pl: interrupted by signal 15; cancelled Slurm job {job_id} (scancel {job_id})\n"
    deadline = time.time() + 30
    while slurm_cluster.run("squeue", "-h", "-j", job_id).stdout.strip():
        assert time.time() < deadline, "jobs still in squeue after scancel"
        time.sleep(0.3)
    for pid_file in pid_files:
        assert not os.path.exists(f"/proc/{pid_file.read_text().strip()}")
    # The task script traps SIGTERM and still records how the task ended.
    log = (slurm_workdir / "exp/log/s.1.log").read_text()
    assert "# slurm.pl: SIGTERM received (job cancelled or over its time limit)" in log


def test_task_over_its_memory_is_reported_as_killed_for_memory(slurm_pl, slurm_workdir):
    (slurm_workdir / "hog.py").write_text(
        "import sys, time\n"
        "size = int(sys.argv[1]) * 2**20\n"
        "block = bytearray(size)\n"
        "for i in range(0, size, 4096):\n"
        "    block[i] = 1  # touch every page so it is resident\n"
        "time.sleep(6)  # Slurm samples memory every second\n"
        "print('survived')\n"
    )
    # Task 1 uses 400 MB under a 100 MB limit; task 2 stays within it.
    res = slurm_pl("--mem", "100M", "JOB=1:2", "exp/log/m.JOB.log",
                   "python3", "hog.py", "$(( JOB == 1 ? 400 : 10 ))", timeout=180)
    assert res.returncode == 1
    lines = res.stderr.splitlines()
    assert re.fullmatch(
        r"slurm\.pl: task 1 was killed for exceeding its memory limit \(--mem 100M\): .*"
        r"exceeded memory limit.*; log is in exp/log/m\.1\.log; rerun with a larger --mem",
        lines[0],
    ), res.stderr
    assert lines[1:] == ["slurm.pl: 1 / 2 failed, log is in exp/log/m.*.log"]
    assert "survived" not in (slurm_workdir / "exp/log/m.1.log").read_text()
    assert read_exit_status(str(slurm_workdir / "exp/log/m.2.log")) == 0
    # The explanation is also appended to the killed task's own log.
    assert "was killed for exceeding its memory limit" in (slurm_workdir / "exp/log/m.1.log").read_text()


def test_submit_failure_shows_sbatch_error(slurm_pl, slurm_workdir):
    # The test node has no GPUs, so Slurm itself refuses --gres=gpu:1 from conf/slurm.conf.
    res = slurm_pl("--gpu", "1", "exp/g.log", "nvidia-smi")
    assert res.returncode == 1
    lines = res.stderr.splitlines()
    assert lines[0] == "slurm.pl: error submitting jobs to queue (return status was 1)"
    assert lines[1] == ("  command: sbatch --export=PATH -p gpu --gres=gpu:1 --cpus-per-task 1 "
                        "--open-mode=append -o exp/q/g.%a.log -e exp/q/g.%a.log --array 1-1 exp/q/g.sh")
    assert lines[2].startswith("  output: sbatch: error: ")


def test_multi_node_job_runs_one_srun_task_per_node(slurm_pl, slurm_workdir):
    """The shape of ESPnet's multi-node training: slurm.pl --num_nodes 2 <log> srun ..."""
    (slurm_workdir / "rank.sh").write_text(
        'echo "rank $SLURM_PROCID of $SLURM_NTASKS on $SLURMD_NODENAME"\n'
    )
    res = slurm_pl("--name", "exp/mn/train.log", "--gpu", "0", "--num_threads", "1",
                   "--num_nodes", "2", "exp/mn/train.log", "srun", "--export=ALL", "bash", "rank.sh")
    assert res.returncode == 0, res.stderr
    log = (slurm_workdir / "exp/mn/train.log").read_text()
    ranks = sorted(line for line in log.splitlines() if line.startswith("rank "))
    assert ranks == ["rank 0 of 2 on n1", "rank 1 of 2 on n2"]
    assert "# SLURM_JOB_NUM_NODES=2\n" in log


def test_without_conf_file_the_builtin_conf_submits_to_the_default_partition(
        slurm_pl, slurm_workdir):
    (slurm_workdir / "conf" / "slurm.conf").unlink()
    # TASK, not JOB: Kaldi's plain substitution would turn $SLURM_JOB_PARTITION into $SLURM_2_PARTITION.
    res = slurm_pl("--mem", "50M", "--num_threads", "1", "TASK=1:2", "log/b.TASK.log",
                   "echo", "$SLURM_JOB_PARTITION")
    assert res.returncode == 0, res.stderr
    assert "\ncpu\n# Accounting:" in (slurm_workdir / "log/b.2.log").read_text()
    assert "# Submitted with: sbatch --export=PATH --mem-per-cpu 50M --cpus-per-task 1 " \
           "--open-mode=append" in (slurm_workdir / "q/b.sh").read_text()
