"""The stage-13 scorer end to end: outputs, per-language split, CER, warnings and each error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from espnet_warmup.recipe.scoring import cli, scorer

REF = """\
spk1_u1 <en> one two three
spk1_u2 <it> uno due tre
spk2_u1 <en> turn left now
"""
UTT2SPK = "spk1_u1 spk1\nspk1_u2 spk1\nspk2_u1 spk2\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path):
    """A test set (data/test) and a decode dir whose hyp has 1 sub, 1 missing utt, 1 deletion."""
    d = tmp_path / "data" / "test"
    write(d / "text", REF)
    write(d / "utt2spk", UTT2SPK)
    dec = tmp_path / "decode_asr" / "test"
    write(dec / "text", "spk1_u1 <en> one too three\nspk2_u1 <en> turn left\n")
    return d, dec


def run_cli(*argv):
    return cli.main([str(a) for a in argv])


def score(d, dec, *extra):
    return run_cli("--ref", d / "text", "--hyp", dec / "text", "--utt2spk", d / "utt2spk", "--outdir", dec, *extra)


def test_writes_espnet_score_dirs_and_scores_json(data, capsys):
    d, dec = data
    assert score(d, dec, "--remove_tokens", "<en> <it>") == 0
    for metric in ("wer", "cer"):
        assert sorted(os.listdir(dec / f"score_{metric}")) == ["hyp.trn", "ref.trn", "result.txt"]
    assert (dec / "score_wer" / "ref.trn").read_text() == (
        "one two three\t(spk1-spk1_u1)\nuno due tre\t(spk1-spk1_u2)\nturn left now\t(spk2-spk2_u1)\n"
    )
    assert (dec / "score_wer" / "hyp.trn").read_text() == (
        "one too three\t(spk1-spk1_u1)\n\t(spk1-spk1_u2)\nturn left\t(spk2-spk2_u1)\n"
    )
    scores = json.loads((dec / "scores.json").read_text())
    assert scores["wer"]["all"] == {
        "err": 55.56, "sub": 11.11, "del": 44.44, "ins": 0.0, "corr": 44.44, "s_err": 100.0,
        "n_ref": 9, "n_snt": 3, "n_err": 5, "n_corr": 4, "n_sub": 1, "n_del": 4, "n_ins": 0, "n_snt_err": 3,
    }  # fmt: skip
    assert list(scores["wer"]) == ["all", "en", "it"]
    assert (scores["wer"]["en"]["n_err"], scores["wer"]["en"]["n_ref"]) == (2, 6)
    assert (scores["wer"]["it"]["n_del"], scores["wer"]["it"]["n_ref"]) == (3, 3)
    assert scores["meta"]["n_missing_hyp"] == 1
    out = capsys.readouterr().out.strip()
    assert out.startswith("WER 55.56% (S 11.11 D 44.44 I 0.00; 9 tokens, 3 utts) [en 33.33% it 100.00%] | CER ")
    assert out.endswith(f"| 1 missing hyp(s) -> {dec}")
    assert not [p for p in dec.rglob("*.tmp")]


def test_missing_hypotheses_are_deletions_and_warned_with_their_count(data, capsys):
    d, dec = data
    score(d, dec, "--remove_tokens", "<en> <it>")
    err = capsys.readouterr().err
    assert err == (
        f"WARNING: 1 of 3 reference utterance(s) have no hypothesis in {dec / 'text'}; "
        "they are scored as all deletions: spk1_u2\n"
    )


def test_cer_counts_characters_with_space_symbols(data):
    d, dec = data
    score(d, dec, "--remove_tokens", "<en> <it>")
    ref_trn = (dec / "score_cer" / "ref.trn").read_text().splitlines()
    assert ref_trn[0] == "o n e <space> t w o <space> t h r e e\t(spk1-spk1_u1)"
    cer = json.loads((dec / "scores.json").read_text())["cer"]
    # one two three (13) + uno due tre (11) + turn left now (13)
    assert cer["all"]["n_ref"] == 37
    # "two"->"too": 1 sub; missing utt: 11 del; " now": 4 del
    assert (cer["all"]["n_sub"], cer["all"]["n_del"], cer["all"]["n_ins"]) == (1, 15, 0)


def test_language_tokens_never_count_as_errors(tmp_path):
    d = tmp_path
    write(d / "text", "u1 <en> yes\n")
    write(d / "utt2spk", "u1 s\n")
    write(d / "hyp", "u1 <it> yes\n")
    assert run_cli("--ref", d / "text", "--hyp", d / "hyp", "--utt2spk", d / "utt2spk",
                   "--remove_tokens", "<en> <it>", "--outdir", d / "out") == 0  # fmt: skip
    scores = json.loads((d / "out" / "scores.json").read_text())
    assert scores["wer"]["all"]["err"] == 0.0
    # Without removal the tag mismatch is one substitution out of two words.
    run_cli("--ref", d / "text", "--hyp", d / "hyp", "--utt2spk", d / "utt2spk", "--outdir", d / "raw")
    assert json.loads((d / "raw" / "scores.json").read_text())["wer"]["all"]["err"] == 50.0


def test_utt2lang_overrides_the_language_tokens(data):
    d, dec = data
    write(d / "utt2lang", "spk1_u1 eng\nspk1_u2 ita\nspk2_u1 ita\n")
    score(d, dec, "--remove_tokens", "<en> <it>", "--utt2lang", d / "utt2lang")
    wer = json.loads((dec / "scores.json").read_text())["wer"]
    assert list(wer) == ["all", "eng", "ita"]
    assert wer["eng"]["n_ref"] == 3 and wer["ita"]["n_ref"] == 6


def test_comparison_is_case_insensitive_unless_asked(tmp_path):
    write(tmp_path / "text", "u1 Hello World\n")
    write(tmp_path / "utt2spk", "u1 s\n")
    write(tmp_path / "hyp", "u1 hello world\n")
    args = ["--ref", tmp_path / "text", "--hyp", tmp_path / "hyp", "--utt2spk", tmp_path / "utt2spk"]
    run_cli(*args, "--outdir", tmp_path / "ci")
    run_cli(*args, "--case_sensitive", "--outdir", tmp_path / "cs")
    assert json.loads((tmp_path / "ci" / "scores.json").read_text())["wer"]["all"]["err"] == 0.0
    assert json.loads((tmp_path / "cs" / "scores.json").read_text())["wer"]["all"]["n_sub"] == 2


def test_lower_punct_cleaner_applies_to_ref_and_hyp(tmp_path):
    write(tmp_path / "text", "u1 Hello, world.\n")
    write(tmp_path / "utt2spk", "u1 s\n")
    write(tmp_path / "hyp", "u1 hello world!\n")
    run_cli("--ref", tmp_path / "text", "--hyp", tmp_path / "hyp", "--utt2spk", tmp_path / "utt2spk",
            "--cleaner", "lower_punct", "--case-sensitive", "--outdir", tmp_path / "o")  # fmt: skip
    assert json.loads((tmp_path / "o" / "scores.json").read_text())["wer"]["all"]["err"] == 0.0


def test_empty_reference_utterance_counts_hypothesis_words_as_insertions(tmp_path):
    write(tmp_path / "text", "u1 a b\nu2\n")
    write(tmp_path / "utt2spk", "u1 s\nu2 s\n")
    write(tmp_path / "hyp", "u1 a b\nu2 uh\n")
    run_cli("--ref", tmp_path / "text", "--hyp", tmp_path / "hyp", "--utt2spk", tmp_path / "utt2spk",
            "--outdir", tmp_path / "o")  # fmt: skip
    wer = json.loads((tmp_path / "o" / "scores.json").read_text())["wer"]["all"]
    assert (wer["n_ref"], wer["n_ins"], wer["err"], wer["n_snt_err"]) == (2, 1, 50.0, 1)


# --------------------------------------------------------------------------- errors
def expect_error(capsys, argv, message):
    assert run_cli(*argv) == 1
    assert capsys.readouterr().err == f"error: {message}\n"


def test_hyp_ids_not_in_ref_are_an_error_naming_the_first_few(data, capsys):
    d, dec = data
    write(dec / "text", "".join(f"x{i} a\n" for i in range(7)) + "spk1_u1 one\n")
    expect_error(
        capsys,
        ["--ref", d / "text", "--hyp", dec / "text", "--utt2spk", d / "utt2spk", "--outdir", dec],
        f"hyp file {dec / 'text'} has 7 utterance id(s) not in ref file {d / 'text'}: "
        "x0, x1, x2, x3, x4, ... (2 more)",
    )
    assert not (dec / "scores.json").exists()


def test_empty_ref_file_is_an_error(data, capsys):
    d, dec = data
    write(d / "text", "")
    expect_error(
        capsys,
        ["--ref", d / "text", "--hyp", dec / "text", "--utt2spk", d / "utt2spk", "--outdir", dec],
        f"ref file {d / 'text'} is empty: nothing to score",
    )


def test_ref_with_only_language_tokens_is_an_error(tmp_path, capsys):
    write(tmp_path / "text", "u1 <en>\n")
    write(tmp_path / "utt2spk", "u1 s\n")
    write(tmp_path / "hyp", "u1\n")
    expect_error(
        capsys,
        ["--ref", tmp_path / "text", "--hyp", tmp_path / "hyp", "--utt2spk", tmp_path / "utt2spk",
         "--remove_tokens", "<en> <it>", "--outdir", tmp_path / "o"],
        f"ref file {tmp_path / 'text'} has no words to score after removing <en> <it>",
    )  # fmt: skip


def test_utt2spk_missing_an_utterance_is_an_error(data, capsys):
    d, dec = data
    write(d / "utt2spk", "spk1_u1 spk1\n")
    expect_error(
        capsys,
        ["--ref", d / "text", "--hyp", dec / "text", "--utt2spk", d / "utt2spk", "--outdir", dec],
        f"utt2spk file {d / 'utt2spk'} lacks 2 utterance id(s) of ref file {d / 'text'}: spk1_u2, spk2_u1",
    )


def test_utt2lang_missing_an_utterance_is_an_error(data, capsys):
    d, dec = data
    write(d / "utt2lang", "spk1_u1 en\nspk1_u2 it\n")
    expect_error(
        capsys,
        ["--ref", d / "text", "--hyp", dec / "text", "--utt2spk", d / "utt2spk",
         "--utt2lang", d / "utt2lang", "--outdir", dec],
        f"utt2lang file {d / 'utt2lang'} lacks 1 utterance id(s) of ref file {d / 'text'}: spk2_u1",
    )  # fmt: skip


def test_missing_hyp_file_is_an_error(data, capsys):
    d, dec = data
    expect_error(
        capsys,
        ["--ref", d / "text", "--hyp", dec / "nope", "--utt2spk", d / "utt2spk", "--outdir", dec],
        f"hyp file not found: {dec / 'nope'}",
    )


def test_unknown_cleaner_is_rejected_by_the_parser(data, capsys):
    d, dec = data
    with pytest.raises(SystemExit) as e:
        score(d, dec, "--cleaner", "upper")
    assert e.value.code == 2
    assert "argument --cleaner: invalid choice: 'upper' (choose from 'none', 'lower_punct')" in capsys.readouterr().err


# --------------------------------------------------------------------------- outputs are never half done
def test_failed_input_check_leaves_previous_outputs_untouched(data):
    d, dec = data
    score(d, dec)
    before = {p: p.read_bytes() for p in dec.rglob("*") if p.is_file()}
    write(dec / "text", "ghost a\n")
    assert score(d, dec) == 1
    after = {p: p.read_bytes() for p in dec.rglob("*") if p.is_file() and p.name != "text"}
    assert after == {p: b for p, b in before.items() if p.name != "text"}


def test_crash_while_writing_removes_the_completion_mark(data, monkeypatch):
    d, dec = data
    score(d, dec)
    assert (dec / "scores.json").exists()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(scorer, "write_result_txt", boom)
    with pytest.raises(OSError, match="disk full"):
        score(d, dec)
    assert not (dec / "scores.json").exists()


def test_rerun_gives_identical_outputs(data):
    d, dec = data
    score(d, dec, "--remove_tokens", "<en> <it>")
    first = {p: p.read_bytes() for p in dec.rglob("*") if p.is_file()}
    score(d, dec, "--remove_tokens", "<en> <it>")
    assert {p: p.read_bytes() for p in dec.rglob("*") if p.is_file()} == first


# --------------------------------------------------------------------------- entry points
def test_python_m_entry_point_and_console_subcommand_agree(data):
    d, dec = data
    args = ["--ref", str(d / "text"), "--hyp", str(dec / "text"), "--utt2spk", str(d / "utt2spk"),
            "--remove-tokens", "<en> <it>"]  # fmt: skip
    a = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.scoring.cli", *args, "--outdir", str(dec / "a")],
                       capture_output=True, text=True)  # fmt: skip
    b = subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "score", *args, "--outdir", str(dec / "b")],
                       capture_output=True, text=True)  # fmt: skip
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stdout.startswith("WER 55.56% ") and b.stdout.startswith("WER 55.56% ")
    ja, jb = (json.loads((dec / x / "scores.json").read_text()) for x in ("a", "b"))
    assert ja["wer"] == jb["wer"] and ja["cer"] == jb["cer"]
    # Each records the command that made it, in a form that can be pasted back.
    assert ja["meta"]["command"].startswith(f"python -m espnet_warmup.recipe.scoring.cli --ref {d / 'text'} ")
    assert jb["meta"]["command"].startswith("python -m espnet_warmup.cli score --ref ")
    assert ja["meta"]["command"].endswith("--remove-tokens '<en> <it>' --outdir " + str(dec / "a"))
