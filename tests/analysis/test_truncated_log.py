"""A train.log whose last record is cut mid-number (a job still writing it, or killed) is not data.

Real logs: the stable tiny ESPnet run of the session fixture, cut inside the LR value of an interval
line (``optim0_lr0=5.0`` of ``5.000e-03``), either at the end of the file (no newline) or followed by
the launcher's trailer (a killed job: run.pl appends ``# Accounting ...`` right after the cut).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from espnet_warmup.recipe.analysis import curves, logs
from espnet_warmup.recipe.analysis.follow import LogFollower


def _cut_copy(espnet_runs, tmp_path, trailer: str = ""):
    """A copy of the stable run's exp dir whose train.log ends inside the LR of its last interval line;
    returns (exp dir, the full parsed log, 1-based number of the cut line)."""
    src = espnet_runs.stable.expdir
    exp = tmp_path / "exp" / "asr_cut"
    shutil.copytree(src, exp)
    lines = (src / "train.log").read_text().splitlines(keepends=True)
    idx = max(i for i, ln in enumerate(lines) if "batch:" in ln and "optim0_lr0=" in ln)
    cut = lines[idx].index("optim0_lr0=") + len("optim0_lr0=") + 3  # "5.0" of "5.000e-03"
    (exp / "train.log").write_text("".join(lines[:idx]) + lines[idx][:cut] + trailer)
    return exp, logs.parse_train_log(src / "train.log"), idx + 1


@pytest.mark.slow
def test_an_unterminated_last_line_is_not_a_record_and_is_reported_with_file_and_line(espnet_runs, tmp_path):
    exp, full, line_no = _cut_copy(espnet_runs, tmp_path)
    log = logs.parse_train_log(exp / "train.log")
    assert [(it.step, it.stats) for it in log.intervals] == [(it.step, it.stats) for it in full.intervals[:-1]]
    assert log.warnings == [
        f"{exp / 'train.log'}:{line_no}: the last line is incomplete (no newline: the job is still writing it, "
        "or was stopped mid-line); not read as data"]
    # `espnet-warmup curves` plots no extra update (the cut "5.0" would be an LR 1000x the peak) and says why
    out = tmp_path / "c.png"
    res = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "curves", str(exp), "-o", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"warning: {exp / 'train.log'}:{line_no}: the last line is incomplete" in res.stderr
    runs, plotted = curves.curves([exp], tmp_path / "d.png")
    _, xs, ys = plotted["learning rate"][0]
    steps, lrs = full.series("optim0_lr0")
    assert (xs, ys) == (steps[:-1], lrs[:-1])
    assert runs[0].warnings == log.warnings


@pytest.mark.slow
def test_a_cut_line_followed_by_the_kill_trailer_is_skipped_with_file_and_line(espnet_runs, tmp_path):
    trailer = "# Accounting: time=3 threads=1\n# Ended (code 137; signal 9) at Thu Jan  1 00:00:00 UTC 2026\n"
    exp, full, line_no = _cut_copy(espnet_runs, tmp_path, trailer)
    log = logs.parse_train_log(exp / "train.log")
    assert [(it.step, it.stats) for it in log.intervals] == [(it.step, it.stats) for it in full.intervals[:-1]]
    assert log.warnings == [f"{exp / 'train.log'}:{line_no}: an interval line that does not parse fully (cut or "
                            "garbled); not read as data"]


def test_cut_values_keys_and_epoch_lines_are_skipped_complete_ones_kept(tmp_path):
    head = "[h] 2026-01-01 00:00:00,000 (trainer:1) INFO: "
    good = f"{head}1epoch:train:1-1batch: iter_time=0.010, loss=10.000, grad_norm=8.187clip=100.000, optim0_lr0=6.100e-04"
    res = (f"{head}1epoch results: [train] loss=10.000, time=1 minute and 2.5 seconds, total_count=1, "
           "[valid] loss=9.000, acc=0.500")
    cuts = [good.replace("6.100e-04", "6.1"), good.replace("6.100e-04", "6.100e-0"), good.replace("optim0_lr0=6.100e-04", "optim0_l"),
            good.replace("6.100e-04", ""), res.replace("acc=0.500", "acc=0.5")]
    path = tmp_path / "train.log"
    path.write_text("\n".join([good, *cuts, res]) + "\n")
    log = logs.parse_train_log(path)
    assert len(log.intervals) == 1 and log.intervals[0].stats["optim0_lr0"] == 6.1e-4
    assert log.intervals[0].stats["clip"] == 100.0
    assert len(log.epochs) == 1 and log.epochs[0].get("valid", "acc") == 0.5
    assert [w.split(": ", 1)[0] for w in log.warnings] == [f"{path}:{n}" for n in (2, 3, 4, 5, 6)]


def test_the_follower_holds_back_a_line_until_its_newline(tmp_path):
    path = tmp_path / "train.log"
    path.write_text("a complete line\noptim0_lr0=6.1")
    f = LogFollower(path)
    assert f.read() == (False, ["a complete line"])
    with open(path, "a") as w:
        w.write("00e-04\n")
    assert f.read() == (False, ["optim0_lr0=6.100e-04"])
    f.close()


def test_the_live_parser_counts_an_incomplete_rest_without_reading_it():
    parser = logs.TrainLogParser()
    assert parser.feed("1epoch:train:1-1batch: loss=10.000, optim0_lr0=6.1", complete=False) is None
    assert parser.log.intervals == []
    assert parser.log.warnings == ["<train.log>:1: the last line is incomplete (no newline: the job is still "
                                   "writing it, or was stopped mid-line); not read as data"]
