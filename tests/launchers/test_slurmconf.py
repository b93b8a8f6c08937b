"""The conf/slurm.conf grammar and the sbatch command lines slurm.pl builds from it."""

from __future__ import annotations

import re
import shlex

import pytest

from espnet_warmup.recipe.launchers.common import UsageError, parse_command_line
from espnet_warmup.recipe.launchers.slurm_conf import BUILTIN_CONF, load_conf, parse_conf
from espnet_warmup.recipe.launchers.slurm_pl import build_submission, queue_dir_for, split_options

from .conftest import REPO

SHIPPED = str(REPO / "conf" / "slurm.conf")

CONF = """\
command sbatch --export=PATH   # comment
option mem=* --mem-per-cpu $0
option mem=0
option gpu=* -p gpu --gres=gpu:$0 -c $0
default gpu=0
option gpu=0 -p cpu
option name=* --job-name "$0"
"""


def test_star_option_substitutes_every_dollar_zero():
    conf = parse_conf(CONF, "c.conf")
    assert conf.command == ["sbatch", "--export=PATH"]
    assert conf.flags_for("gpu", "2") == ["-p", "gpu", "--gres=gpu:2", "-c", "2"]


def test_exact_value_wins_over_star_and_may_add_nothing():
    conf = parse_conf(CONF, "c.conf")
    assert conf.flags_for("mem", "0") == []
    assert conf.flags_for("gpu", "0") == ["-p", "cpu"]


def test_value_with_spaces_stays_one_argument():
    conf = parse_conf(CONF, "c.conf")
    assert conf.flags_for("name", "my job") == ["--job-name", "my job"]


def test_defaults_apply_when_the_option_is_not_given():
    conf = parse_conf(CONF, "c.conf")
    assert conf.resolve({"mem": "4G"}) == ["--mem-per-cpu", "4G", "-p", "cpu"]
    assert conf.resolve({"gpu": "1"}) == ["-p", "gpu", "--gres=gpu:1", "-c", "1"]


def test_undescribed_option_names_option_and_conf_file():
    conf = parse_conf(CONF, "conf/slurm.conf")
    with pytest.raises(UsageError) as err:
        conf.resolve({"time": "1:00:00"})
    assert str(err.value) == (
        "option --time is not described in conf/slurm.conf "
        "(add a line 'option time=* <sbatch flags with $0>')"
    )


def test_value_not_allowed_by_exact_only_option():
    conf = parse_conf("command sbatch\noption queue=short -p short\n", "q.conf")
    with pytest.raises(UsageError) as err:
        conf.flags_for("queue", "long")
    assert str(err.value) == "value 'long' of option --queue is not allowed by q.conf (it describes queue=short)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("option mem=* --mem $0\n", "q.conf does not contain the line 'command <submit command>'"),
        ("command sbatch\nqueue all\n", "unable to parse line 'queue all' in q.conf:2 (expected "
         "'command ...', 'option NAME=VALUE [flags]', 'option NAME=* flags with $0' or "
         "'default NAME=VALUE')"),
        ("command sbatch\ndefault gpu=0 -p cpu\n", "unable to parse line 'default gpu=0 -p cpu' in "
         "q.conf:2: 'default NAME=VALUE' takes no flags"),
        ("command sbatch\noption =1 -x\n", "unable to parse line 'option =1 -x' in q.conf:2: "
         "expected NAME=VALUE"),
    ],
)
def test_bad_conf_lines_are_refused_with_file_and_line(text, message):
    with pytest.raises(UsageError) as err:
        parse_conf(text, "q.conf")
    assert str(err.value) == message


def test_missing_default_conf_falls_back_to_builtin_but_explicit_one_must_exist(tmp_path):
    conf = load_conf(None, default_path=str(tmp_path / "conf/slurm.conf"))
    assert conf.path == "the built-in slurm.pl config"
    assert conf == parse_conf(BUILTIN_CONF, conf.path)
    with pytest.raises(UsageError, match=re.escape(
            f"cannot read config file {tmp_path}/nope.conf: No such file or directory")):
        load_conf(str(tmp_path / "nope.conf"))


def test_shipped_conf_describes_every_option_espnet_passes():
    conf = load_conf(SHIPPED)
    for name, value in [("name", "exp/a/train.log"), ("time", "4:00:00"), ("mem", "4G"),
                        ("num_threads", "4"), ("num_nodes", "2"), ("gpu", "1")]:
        assert conf.flags_for(name, value), name
    assert conf.defaults == {"gpu": "0"}


def _submission(argv, cwd="/work/recipe", conf_path=SHIPPED):
    request = parse_command_line(argv)
    given, _, max_jobs = split_options(request)
    return build_submission(request, load_conf(conf_path), given, max_jobs, cwd)


def test_multinode_multigpu_training_command_line():
    """What espnet2.bin.launch submits for asr.sh --ngpu 4 --num_nodes 2 with slurm.pl."""
    sub = _submission([
        "--name", "exp/asr_x/train.log", "--gpu", "4", "--num_threads", "4", "--num_nodes", "2",
        "exp/asr_x/train.log", "srun", "--export=ALL", "python3", "-m", "espnet2.bin.asr_train",
        "--ngpu", "4", "--multiprocessing_distributed", "true", "--dist_launcher", "slurm",
        "--dist_init_method", "file:///work/recipe/exp/asr_x/.dist_init_abc",
    ])
    assert sub.argv == [
        "sbatch", "--export=PATH", "--job-name", "exp/asr_x/train.log",
        "-p", "gpu", "--gres=gpu:4", "--cpus-per-task", "4",
        "--cpus-per-task", "4", "--nodes", "2", "--ntasks-per-node", "1",
        "--open-mode=append", "-o", "exp/asr_x/q/train.%a.log", "-e", "exp/asr_x/q/train.%a.log",
        "--array", "1-1", "exp/asr_x/q/train.sh",
    ]
    assert sub.threads == 4
    assert ("cmd_template='srun --export=ALL python3 -m espnet2.bin.asr_train --ngpu 4 "
            "--multiprocessing_distributed true --dist_launcher slurm --dist_init_method "
            "file:///work/recipe/exp/asr_x/.dist_init_abc'") in sub.script_text
    assert "# Accounting: time=$((end - start)) threads=4" in sub.script_text


def test_cpu_array_command_line_with_memory_and_concurrency_limit():
    sub = _submission(["--mem", "2G", "-tc", "3", "JOB=1:8", "exp/stats/logdir/stats.JOB.log",
                       "python3", "-m", "espnet2.bin.asr_train", "--output_dir", "exp/stats/logdir/stats.JOB"])
    assert sub.argv == [
        "sbatch", "--export=PATH", "--mem-per-cpu", "2G", "-p", "cpu",
        "--open-mode=append", "-o", "exp/stats/logdir/q/stats.%a.log",
        "-e", "exp/stats/logdir/q/stats.%a.log", "--array", "1-8%3", "exp/stats/logdir/q/stats.sh",
    ]


def test_job_script_cds_to_submit_dir_sources_path_sh_and_substitutes_job():
    sub = _submission(["JOB=2:3", "log/x.JOB.log", "echo", "JOB"], cwd="/data/my recipe")
    lines = sub.script_text.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert f"cd {shlex.quote('/data/my recipe')} || exit 1" in lines
    assert "if [ -f ./path.sh ]; then . ./path.sh; fi" in lines
    assert "cmd=${cmd_template//JOB/$task}" in lines
    assert "log=${log_template//JOB/$task}" in lines


def test_queue_dir_follows_kaldi_layout():
    assert queue_dir_for("exp/a/log/x.JOB.log") == "exp/a/q"
    assert queue_dir_for("exp/a/logdir/x.JOB.log") == "exp/a/logdir/q"
    assert queue_dir_for("x.log") == "./q"


def test_memory_kill_is_explained_from_slurm_state_output_or_exit_137(tmp_path):
    from espnet_warmup.recipe.launchers.slurm_pl import explain_failure

    out = tmp_path / "q.1.log"
    out.write_text("slurmstepd: error: StepId=5_1.batch exceeded memory limit (4 > 1), being killed\n")
    assert explain_failure(1, None, "log/x.1.log", str(out), {"JobState": "FAILED"}, "1G") == (
        "slurm.pl: task 1 was killed for exceeding its memory limit (--mem 1G): slurmstepd: error: "
        "StepId=5_1.batch exceeded memory limit (4 > 1), being killed; log is in log/x.1.log; "
        "rerun with a larger --mem"
    )
    no_output = str(tmp_path / "missing.log")
    assert explain_failure(2, None, "log/x.2.log", no_output, {"JobState": "OUT_OF_MEMORY"}, None) == (
        "slurm.pl: task 2 was killed for exceeding its memory limit (no --mem given: the cluster's "
        "default memory per CPU): Slurm state OUT_OF_MEMORY; "
        "log is in log/x.2.log; rerun with a larger --mem"
    )
    assert explain_failure(3, 137, "log/x.3.log", no_output, {}, "2G") == (
        "slurm.pl: task 3 was killed by SIGKILL (exit code 137), most likely for exceeding its "
        "memory limit (--mem 2G); log is in log/x.3.log; rerun with a larger --mem"
    )


def test_task_without_status_is_explained_and_plain_failures_left_to_the_summary(tmp_path):
    from espnet_warmup.recipe.launchers.slurm_pl import explain_failure

    state = {"JobState": "NODE_FAIL", "Reason": "NodeDown", "ExitCode": "0:0"}
    assert explain_failure(4, None, "log/x.4.log", "q/x.4.log", state, None) == (
        "slurm.pl: task 4 ended without writing its status to log/x.4.log (Slurm state NODE_FAIL, "
        "reason NodeDown, exit code 0:0); Slurm's output is in q/x.4.log"
    )
    assert explain_failure(5, 1, "log/x.5.log", "q/x.5.log", {"JobState": "FAILED"}, None) is None
