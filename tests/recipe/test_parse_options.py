"""utils/parse_options.sh: Kaldi's option semantics, as recipe users rely on them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARSE_OPTIONS = ROOT / "egs2" / "TEMPLATE" / "asr1" / "utils" / "parse_options.sh"

SCRIPT = f"""#!/usr/bin/env bash
set -e -u
stage=1
train_config=""
use_lm=true
speed_perturb_factors=""
help_message="Usage: demo.sh [options]
  --stage   # first stage"
. {PARSE_OPTIONS}
echo "stage=$stage"
echo "train_config=$train_config"
echo "use_lm=$use_lm"
echo "speed_perturb_factors=$speed_perturb_factors"
echo "rest=$*"
"""


@pytest.fixture()
def demo(tmp_path):
    script = tmp_path / "demo.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)

    def run(*args, cwd=tmp_path):
        return subprocess.run([str(script), *args], capture_output=True, text=True, cwd=cwd)
    return run


def values(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines())


def test_dash_and_underscore_spellings_set_the_same_variable(demo):
    a = demo("--train-config", "conf/a.yaml")
    b = demo("--train_config", "conf/a.yaml")
    assert a.returncode == b.returncode == 0
    assert values(a.stdout)["train_config"] == values(b.stdout)["train_config"] == "conf/a.yaml"


def test_last_occurrence_wins(demo):
    out = demo("--stage", "3", "--stage", "10")
    assert values(out.stdout)["stage"] == "10"


def test_values_with_spaces_and_dollars_are_kept_verbatim(demo):
    out = demo("--speed_perturb_factors", "0.9 1.0 1.1", "--train_config", "$HOME/`x`.yaml")
    v = values(out.stdout)
    assert v["speed_perturb_factors"] == "0.9 1.0 1.1"
    assert v["train_config"] == "$HOME/`x`.yaml"


def test_unknown_option_is_invalid_and_exits_1(demo, tmp_path):
    out = demo("--no_such_option", "1")
    assert out.returncode == 1
    assert out.stderr.strip() == f"{tmp_path / 'demo.sh'}: invalid option --no_such_option"


def test_boolean_option_accepts_only_true_or_false(demo, tmp_path):
    assert values(demo("--use_lm", "false").stdout)["use_lm"] == "false"
    out = demo("--use_lm", "yes")
    assert out.returncode == 1
    assert out.stderr.strip() == f'{tmp_path / "demo.sh"}: expected "true" or "false": --use_lm yes'


def test_help_prints_the_help_message_and_exits_0(demo):
    out = demo("--help")
    assert out.returncode == 0
    assert out.stdout == ""
    assert "Usage: demo.sh [options]" in out.stderr and "--stage   # first stage" in out.stderr


def test_config_file_is_read_first_and_command_line_wins(demo, tmp_path):
    cfg = tmp_path / "opts.conf"
    cfg.write_text('stage=7\ntrain_config="conf/from_config.yaml"\n')
    out = demo("--stage", "9", "--config", str(cfg))
    v = values(out.stdout)
    assert out.returncode == 0
    assert v["stage"] == "9"  # given on the command line
    assert v["train_config"] == "conf/from_config.yaml"  # only in the config


def test_missing_config_file_is_an_error(demo, tmp_path):
    out = demo("--config", "nope.conf")
    assert out.returncode == 1
    assert out.stderr.strip() == f"{tmp_path / 'demo.sh'}: missing config 'nope.conf'"


def test_name_equals_value_form_is_rejected(demo, tmp_path):
    out = demo("--stage=3")
    assert out.returncode == 1
    assert "options to scripts must be of the form --name value, got '--stage=3'" in out.stderr


def test_parsing_stops_at_the_first_positional_argument(demo):
    out = demo("--stage", "2", "data/train", "--not-an-option")
    v = values(out.stdout)
    assert v["stage"] == "2"
    assert v["rest"] == "data/train --not-an-option"
