"""The shared Kaldi launcher interface: command-line parsing, quoting, logs."""

from __future__ import annotations

import re

import pytest

from espnet_warmup.recipe.launchers.common import (
    JobRange,
    UsageError,
    failure_message,
    log_header,
    log_trailer,
    parse_command_line,
    parse_job_range,
    quote_command,
    read_exit_status,
)


def test_job_range_is_one_based_and_inclusive():
    job = parse_job_range("JOB=2:4")
    assert job == JobRange("JOB", 2, 4)
    assert list(job.ids) == [2, 3, 4]
    assert job.is_array


def test_single_number_job_range_is_one_task():
    job = parse_job_range("N=3")
    assert list(job.ids) == [3]
    assert not job.is_array


def test_words_that_are_not_ranges_are_not_parsed_as_ranges():
    assert parse_job_range("exp/log/x.JOB.log") is None
    assert parse_job_range("JOB=1:b") is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("JOB=0:3", "invalid job range 'JOB=0:3': job ids start at 1"),
        ("JOB=3:1", "invalid job range 'JOB=3:1': the first id is larger than the last"),
    ],
)
def test_bad_job_range_is_refused(text, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_job_range(text)


def test_options_and_job_range_may_be_interleaved():
    req = parse_command_line(
        ["--mem", "4G", "JOB=1:3", "--num-threads", "2", "-tc", "2", "--gpu=1",
         "log/x.JOB.log", "echo", "--not-an-option"]
    )
    assert req.options == [("mem", "4G"), ("num_threads", "2"), ("max_jobs_run", "2"), ("gpu", "1")]
    assert req.job == JobRange("JOB", 1, 3)
    assert req.log == "log/x.JOB.log"
    assert req.command == ["echo", "--not-an-option"]


def test_single_dash_flags_and_two_value_options():
    req = parse_command_line(["-V", "-pe", "smp", "4", "x.log", "true"])
    assert req.flags == ["-V"]
    assert req.option("pe") == "smp 4"


def test_array_whose_log_lacks_the_job_name_is_an_error():
    with pytest.raises(UsageError) as err:
        parse_command_line(["JOB=1:2", "log/x.log", "true"])
    assert str(err.value) == (
        "you are trying to run a parallel job but you are putting the output into just one "
        "log file (log/x.log): the log name must contain JOB"
    )


def test_missing_command_is_an_error():
    with pytest.raises(UsageError, match="expected a log file and a command after the options"):
        parse_command_line(["--mem", "2G", "x.log"])


def test_option_without_value_is_an_error():
    with pytest.raises(UsageError, match="option --mem needs a value"):
        parse_command_line(["--mem"])


def test_job_name_is_substituted_everywhere_in_command_and_log():
    req = parse_command_line(["TASK=1:2", "d.TASK/x.TASK.log", "echo", "TASK", "a.TASK.b"])
    assert req.for_task(req.command_string(), 2) == "echo 2 a.2.b"
    assert req.for_task(req.log, 2) == "d.2/x.2.log"
    assert req.log_pattern() == "d.*/x.*.log"


def test_quoting_follows_kaldi():
    assert quote_command(["echo", "a b", 'say "hi" now', "", "x\\|y"]) == (
        "echo \"a b\" 'say \"hi\" now' \"\" x\\|y"
    )


def test_log_header_and_trailer_have_kaldis_lines():
    header = log_header("echo 1", started=0)
    assert header.startswith("# echo 1\n# Started at ")
    assert header.endswith("\n#\n")
    trailer = log_trailer(3, 12.4, threads=2, ended=0)
    lines = trailer.splitlines()
    assert lines[0] == "# Accounting: time=12 threads=2"
    assert re.fullmatch(r"# Ended \(code 3\) at .*, elapsed time 12 seconds", lines[1])
    assert "(code 143; signal 15)" in log_trailer(143, 1, signal=15)


def test_exit_status_is_read_from_either_trailer_style(tmp_path):
    run_pl_log = tmp_path / "a.log"
    run_pl_log.write_text(log_header("x") + "output\n" + log_trailer(2, 1))
    kaldi_queue_log = tmp_path / "b.log"
    kaldi_queue_log.write_text("# x\n# Finished at Sun Nov 22 10:00:00 UTC 2026 with status 0\n")
    unfinished = tmp_path / "c.log"
    unfinished.write_text(log_header("x") + "still running\n")
    assert read_exit_status(str(run_pl_log)) == 2
    assert read_exit_status(str(kaldi_queue_log)) == 0
    assert read_exit_status(str(unfinished)) is None
    assert read_exit_status(str(tmp_path / "missing.log")) is None


def test_failure_message_names_the_log_pattern_or_the_single_log():
    array = parse_command_line(["JOB=1:4", "exp/log/x.JOB.log", "true"])
    assert failure_message("run.pl", array, [2, 4]) == "run.pl: 2 / 4 failed, log is in exp/log/x.*.log"
    single = parse_command_line(["exp/log/y.log", "true"])
    assert failure_message("run.pl", single, [1]) == "run.pl: job failed, log is in exp/log/y.log"
