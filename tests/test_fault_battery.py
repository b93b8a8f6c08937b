"""The fault battery (bench/fault_battery.py, cases in bench/faults/): its cases, its runner's
verdicts and table, and a few real cases run end to end through the runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import fault_battery  # noqa: E402
from bench.faults.base import AREAS, Case, Command, first_error_line  # noqa: E402


def test_the_battery_has_at_least_40_uniquely_named_cases_in_every_area():
    cases = fault_battery.load_cases()
    assert len(cases) >= 40
    assert len({c.name for c in cases}) == len(cases)
    assert {c.area for c in cases} == set(AREAS)


def test_a_case_in_an_unknown_area_or_with_a_bad_regex_is_refused():
    cmd = lambda tmp, recipe: Command(["true"], tmp)  # noqa: E731
    with pytest.raises(ValueError, match="area 'disks' is not one of"):
        Case("x", "disks", cmd, 0, "")
    with pytest.raises(Exception):
        Case("x", "disk", cmd, 0, "(unclosed")


def test_first_error_line_picks_the_first_line_that_reads_as_an_error():
    out = "2026 (asr.sh) Stage 1: Data preparation\nERROR: data/x/text:3: duplicate key 'a'\nERROR: more\n"
    assert first_error_line(out) == "ERROR: data/x/text:3: duplicate key 'a'"
    assert first_error_line("all fine\nSuccessfully finished\n") == "Successfully finished"
    assert first_error_line("") == ""


def _case(rc_expected: int, expect: str, after=None) -> Case:
    def setup(tmp: Path, recipe):
        (tmp / "in.txt").write_text("x\n")
        return Command(["bash", "-c", "echo starting; echo 'ERROR: in.txt:1: boom' >&2; exit 3"], tmp)

    return Case("boom", "configs", setup, rc_expected, expect, after=after)


def test_run_case_checks_exit_code_error_line_and_after_check(tmp_path):
    good = fault_battery.run_case(_case(3, r"in\.txt:1: boom"), tmp_path, None)
    assert good["ok"] and good["rc"] == 3 and good["first_error_line"] == "ERROR: in.txt:1: boom"
    wrong_rc = fault_battery.run_case(_case(1, "boom"), tmp_path, None)
    assert not wrong_rc["ok"] and wrong_rc["problems"] == ["exit code 3, expected 1"]
    wrong_line = fault_battery.run_case(_case(3, "no such text"), tmp_path, None)
    assert wrong_line["problems"] == ["first error line does not match /no such text/"]

    def lost(tmp, recipe):
        raise AssertionError("in.txt was rewritten")

    after = fault_battery.run_case(_case(3, "boom", after=lost), tmp_path, None)
    assert after["problems"] == ["after-check: in.txt was rewritten"]
    table = tmp_path / "faults.md"
    fault_battery.write_table([good, wrong_rc], table)
    text = table.read_text()
    assert "2 cases, 1 as expected, 1 not." in text
    assert "| configs | boom | 3 | `ERROR: in.txt:1: boom` | yes |" in text
    assert "NO: exit code 3, expected 1" in text


def test_real_cases_run_through_the_runner_as_expected(tmp_path):
    """Cases that need no trained recipe (an option check, a config check, a Kaldi-dir import,
    a pipe excluded at import) through the runner's own command line."""
    only = (r"^(stage after stop_stage|piecewise lists of different lengths|"
            r"kaldi dir: duplicate id in wav.scp only|kaldi dir: pipe 'false \|')$")
    proc = subprocess.run([sys.executable, "bench/fault_battery.py", "--workdir", str(tmp_path), "--only", only],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "faults.json").read_text())
    assert len(results) == 4 and all(r["ok"] for r in results), results
    by_name = {r["case"]: r for r in results}
    assert by_name["stage after stop_stage"]["rc"] != 0
    assert "wav.scp" in by_name["kaldi dir: duplicate id in wav.scp only"]["first_error_line"]
    assert "4 cases, 4 as expected" in proc.stderr
