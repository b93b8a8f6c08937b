"""utils/run.pl end to end: the executable users' cmd.sh calls."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from espnet_warmup.recipe.launchers.common import read_exit_status

TRAILER = re.compile(
    r"# Accounting: time=\d+ threads=1\n# Ended \(code (\d+)\) at .+, elapsed time \d+ seconds\n$"
)


def test_array_writes_one_log_per_task_with_header_output_and_trailer(run_pl, launch, tmp_path):
    # A shell caller writes `echo task JOB \| tr a-z A-Z`: run.pl receives the word "|".
    res = launch(run_pl, "JOB=1:3", "exp/log.JOB/x.JOB.log", "echo", "task", "JOB", "|", "tr", "a-z", "A-Z")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    for i in (1, 2, 3):
        text = (tmp_path / f"exp/log.{i}/x.{i}.log").read_text()
        assert text.startswith(f"# echo task {i} | tr a-z A-Z\n# Started at ")
        assert f"#\nTASK {i}\n" in text
        assert TRAILER.search(text).group(1) == "0"


def test_failing_task_makes_run_pl_exit_1_and_name_the_logs(run_pl, launch, tmp_path):
    res = launch(run_pl, "JOB=1:4", "log/x.JOB.log", "sh", "-c", "exit $((JOB % 2 * 3))")
    assert res.returncode == 1
    assert res.stderr == "run.pl: 2 / 4 failed, log is in log/x.*.log\n"
    assert [read_exit_status(str(tmp_path / f"log/x.{i}.log")) for i in (1, 2, 3, 4)] == [3, 0, 3, 0]


def test_single_job_failure_names_its_log(run_pl, launch, tmp_path):
    res = launch(run_pl, "a/b.log", "false")
    assert res.returncode == 1
    assert res.stderr == "run.pl: job failed, log is in a/b.log\n"
    assert read_exit_status(str(tmp_path / "a/b.log")) == 1


def test_stdout_and_stderr_both_go_to_the_log(run_pl, launch, tmp_path):
    res = launch(run_pl, "x.log", "echo", "out;", "echo", "err", ">&2")
    assert res.returncode == 0
    assert res.stdout == ""
    assert "out\nerr\n" in (tmp_path / "x.log").read_text()


def test_array_log_without_job_name_is_refused(run_pl, launch, tmp_path):
    res = launch(run_pl, "JOB=1:2", "log/x.log", "true")
    assert res.returncode == 1
    assert res.stderr == (
        "run.pl: you are trying to run a parallel job but you are putting the output into just "
        "one log file (log/x.log): the log name must contain JOB\n"
    )
    assert not (tmp_path / "log").exists()


def test_bad_job_range_is_refused(run_pl, launch):
    res = launch(run_pl, "JOB=0:2", "x.JOB.log", "true")
    assert res.returncode == 1
    assert res.stderr == "run.pl: invalid job range 'JOB=0:2': job ids start at 1\n"


def test_cluster_options_are_accepted_and_ignored(run_pl, launch, tmp_path):
    res = launch(run_pl, "--mem", "4G", "--num_threads", "2", "--gpu", "0", "JOB=1:2",
                 "--name", "exp/train.log", "--time", "1:00:00", "--num_nodes", "1",
                 "--config", "conf/none.conf", "x.JOB.log", "true")
    assert res.returncode == 0, res.stderr
    assert read_exit_status(str(tmp_path / "x.2.log")) == 0


def test_several_nodes_are_refused(run_pl, launch):
    res = launch(run_pl, "--num_nodes", "2", "x.log", "true")
    assert res.returncode == 1
    assert res.stderr == (
        "run.pl: --num_nodes 2: run.pl runs jobs on this machine only and cannot submit to "
        "other nodes; use slurm.pl (cmd_backend=slurm in cmd.sh) for multi-node jobs\n"
    )


def test_max_jobs_run_must_be_positive(run_pl, launch):
    res = launch(run_pl, "--max-jobs-run", "0", "JOB=1:2", "x.JOB.log", "true")
    assert res.returncode == 1
    assert res.stderr == "run.pl: --max-jobs-run must be a positive integer, got '0'\n"


def _max_overlap(events_file) -> int:
    """Largest number of tasks running at the same time, from start/end event lines."""
    events = []
    for line in events_file.read_text().split("\n"):
        if line:
            kind, stamp = line.split()
            events.append((int(stamp), 1 if kind == "start" else -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):  # ends before starts on ties
        running += delta
        peak = max(peak, running)
    return peak


def _concurrency_task(tmp_path):
    script = tmp_path / "task.sh"
    script.write_text(
        'echo "start $(date +%s%N)" >> "$1"\nsleep 0.6\necho "end $(date +%s%N)" >> "$1"\n'
    )
    return script


def test_max_jobs_run_limits_concurrency(run_pl, launch, tmp_path):
    script = _concurrency_task(tmp_path)
    res = launch(run_pl, "--max-jobs-run", "2", "JOB=1:6", "log/c.JOB.log", "bash", str(script), "events")
    assert res.returncode == 0, res.stderr
    assert _max_overlap(tmp_path / "events") == 2


def test_tc_is_max_jobs_run_and_smallest_limit_wins(run_pl, launch, tmp_path):
    script = _concurrency_task(tmp_path)
    res = launch(run_pl, "-tc", "3", "JOB=1:3", "--max-jobs-run", "1", "log/c.JOB.log",
                 "bash", str(script), "events")
    assert res.returncode == 0, res.stderr
    assert _max_overlap(tmp_path / "events") == 1


def test_without_a_limit_small_arrays_run_at_once(run_pl, launch, tmp_path):
    script = _concurrency_task(tmp_path)
    n = os.cpu_count()
    res = launch(run_pl, f"JOB=1:{n}", "log/c.JOB.log", "bash", str(script), "events")
    assert res.returncode == 0, res.stderr
    assert _max_overlap(tmp_path / "events") == n


def test_sigterm_kills_running_tasks_and_records_it(run_pl, tmp_path):
    proc = subprocess.Popen(
        [run_pl, "JOB=1:2", "log/s.JOB.log", "echo", "$$", ">", "pid.JOB;", "exec", "sleep", "60"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
    )
    pid_files = [tmp_path / "pid.1", tmp_path / "pid.2"]
    deadline = time.time() + 30
    while not all(p.exists() and p.read_text().strip() for p in pid_files):
        assert time.time() < deadline, "tasks did not start"
        time.sleep(0.05)
    task_pids = [int(p.read_text()) for p in pid_files]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err == "run.pl: interrupted by signal 15; killed 2 running job(s), 0 not started\n"
    for pid in task_pids:
        assert not os.path.exists(f"/proc/{pid}"), f"task process {pid} survived"
    log = (tmp_path / "log/s.1.log").read_text()
    assert "# Ended (code 143; signal 15)" in log


def test_launcher_does_not_import_torch():
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys, espnet_warmup.recipe.launchers.run_pl, espnet_warmup.recipe.launchers.common;"
         "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'espnet2', 'numpy')))"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "[]"


def test_unwritable_log_is_reported(run_pl, launch, tmp_path):
    (tmp_path / "file").write_text("")
    res = launch(run_pl, "file/x.log", "true")
    assert res.returncode == 1
    assert res.stderr == (
        "run.pl: cannot start job 1 with log file/x.log: [Errno 17] File exists: 'file'\n"
    )


def test_no_arguments_prints_usage_and_fails(run_pl, launch):
    res = launch(run_pl)
    assert res.returncode == 1
    assert "run.pl [options] [JOB=a:b] <log> <command...>" in res.stderr
