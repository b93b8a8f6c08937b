"""LogFollower (tail -F by complete lines) and the /proc utilities the monitor follows a job with."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from espnet_warmup.recipe.analysis import procs
from espnet_warmup.recipe.analysis.follow import LogFollower


def test_follower_returns_complete_lines_and_holds_back_a_partial_one(tmp_path):
    log = tmp_path / "train.log"
    f = LogFollower(log)
    assert f.read() == (False, [])  # not there yet
    with open(log, "w") as w:
        w.write("a\nb\npart")
        w.flush()
        assert f.read() == (False, ["a", "b"])
        assert f.read() == (False, [])
        w.write("ial\nc\n")
        w.flush()
        assert f.read() == (False, ["partial", "c"])
        w.write("last, unterminated")
    assert f.read() == (False, [])
    assert f.rest() == "last, unterminated" and f.rest() == ""
    f.close()


def test_follower_restarts_on_a_replaced_or_truncated_file(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("old 1\nold 2\n")
    f = LogFollower(log)
    assert f.read() == (False, ["old 1", "old 2"])
    new = tmp_path / "new.log"
    new.write_text("new 1\n")
    os.replace(new, log)  # run.pl rewrites train.log for the resumed job: a new inode
    assert f.read() == (True, ["new 1"])
    log.write_text("")  # truncated in place (same inode, shorter than what was read)
    with open(log, "a") as w:
        w.write("x\n")
    assert f.read() == (True, ["x"])
    f.close()


def test_a_log_older_than_the_job_is_stale_until_it_changes(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("an earlier job's line\n")
    old = time.time() - 3600
    os.utime(log, (old, old))
    f = LogFollower(log, written_after=time.time())
    assert f.stale and f.read() == (False, [])
    with open(log, "a") as w:  # the new job writes: the whole file is read from its start
        w.write("new line\n")
    assert f.read() == (False, ["an earlier job's line", "new line"])
    assert not f.stale
    f.close()
    fresh = tmp_path / "fresh.log"
    fresh.write_text("x\n")
    assert not LogFollower(fresh, written_after=time.time()).stale  # within the 1 s clock slack


def test_stat_fields_survive_a_command_name_with_spaces_and_parentheses(tmp_path):
    prog = tmp_path / "a b) (c"
    shutil.copy("/bin/sleep", prog)
    proc = subprocess.Popen([str(prog), "30"])
    try:
        deadline = time.time() + 10
        while procs._stat_fields(proc.pid)[1] != str(os.getpid()) and time.time() < deadline:
            time.sleep(0.01)  # until the exec has happened
        fields = procs._stat_fields(proc.pid)
        assert fields[0] in "RS" and int(fields[1]) == os.getpid()
        assert procs.pid_alive(proc.pid)
        started = procs.process_start_time(proc.pid)
        assert abs(started - time.time()) < 5
        assert proc.pid in procs.descendants(os.getpid())
    finally:
        proc.kill()
    deadline = time.time() + 10
    while procs.pid_alive(proc.pid) and time.time() < deadline:
        time.sleep(0.01)  # SIGKILL lands asynchronously
    assert not procs.pid_alive(proc.pid)  # a zombie (not reaped yet) has ended
    proc.wait()
    assert procs._stat_fields(proc.pid) is None and procs.process_start_time(proc.pid) is None


def test_signal_tree_reaches_grandchildren(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, time; "
                               "subprocess.Popen(['sleep', '30']); time.sleep(30)"])
    deadline = time.time() + 10
    while not procs.descendants(parent.pid) and time.time() < deadline:
        time.sleep(0.02)
    (grandchild,) = procs.descendants(parent.pid)
    assert procs.signal_tree(parent.pid) == [grandchild]
    assert parent.wait(timeout=10) == -15
    deadline = time.time() + 10
    while procs.pid_alive(grandchild) and time.time() < deadline:
        time.sleep(0.02)
    assert not procs.pid_alive(grandchild)
