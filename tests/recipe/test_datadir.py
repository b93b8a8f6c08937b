"""The one Kaldi data-dir module: the one reader (duplicates, undecodable lines), the dir writer,
markers, atomic swaps, and the data-dir commands' one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from espnet_warmup.recipe import datadir
from espnet_warmup.recipe.atomic import atomic_dir


@dataclass(frozen=True)
class Utt:
    utt_id: str
    speaker: str
    audio: str
    text: str
    lang: str
    duration: float | None = 1.25


UTTS = [Utt("s2-b", "s2", "/w/b.wav", "due", "it"), Utt("s1-a", "s1", "/w/a.wav", "one two", "en")]


def test_the_reader_names_file_line_bytes_and_fix_of_undecodable_text(tmp_path):
    f = tmp_path / "text"
    f.write_bytes(b"a x\n\nb caf\xe9\nc na\xefve\n")
    with pytest.raises(datadir.DataDirError) as err:
        datadir.read_kv(f)
    assert str(err.value) == (
        f"{f}:3: not valid UTF-8 (byte 0xe9 at column 6, file offset 10); convert the file to UTF-8: "
        f"iconv -f <its encoding, e.g. ISO-8859-1> -t UTF-8 {f} > {f}.utf8, then move it in place "
        f"(file -i {f} guesses the encoding) (and 1 more problem(s) in this file)")
    # the validator lists each line (the fix once)
    assert datadir.scan_kv(f).problems == [
        f"{f} line 2: empty line",
        f"{f} line 3: not valid UTF-8 (byte 0xe9 at column 6, file offset 10); {datadir.convert_hint(f)}",
        f"{f} line 4: not valid UTF-8 (byte 0xef at column 5, file offset 16)"]


def test_the_reader_refuses_a_duplicate_key_naming_both_lines(tmp_path):
    f = tmp_path / "wav.scp"
    f.write_text("a /w/1.wav\nb /w/2.wav\na /w/3.wav\n")
    with pytest.raises(datadir.DataDirError) as err:
        datadir.read_kv(f)
    assert str(err.value) == f"{f}:3: duplicate key 'a' (first at {f}:1)"
    with pytest.raises(datadir.DataDirError, match=rf"^ref file {f}:3: duplicate key 'a' \(first at {f}:1\)$"):
        datadir.read_kv(f, what="ref")
    # an optional file (missing_ok) may be absent, never wrong
    with pytest.raises(datadir.DataDirError, match=r"duplicate key 'a'"):
        datadir.read_table(f, missing_ok=True)
    f.write_text("a 1\nb 2\na 3\nb 4\n")
    with pytest.raises(datadir.DataDirError) as err:
        datadir.read_kv(f)
    assert str(err.value) == f"{f}:3: duplicate key 'a' (first at {f}:1) (and 1 more problem(s) in this file)"
    table = datadir.read_table(tmp_path / "nope", missing_ok=True)
    assert table.values == {} and table.lines == {}
    with pytest.raises(datadir.DataDirError, match=rf"^{tmp_path}/nope: file not found$"):
        datadir.read_kv(tmp_path / "nope")


def test_the_reader_gives_each_key_its_line(tmp_path):
    f = tmp_path / "text"
    f.write_text("a x y\n\nb\tz  \nc\n")
    table = datadir.read_table(f)
    assert table.values == {"a": "x y", "b": "z", "c": ""} and table.lines == {"a": 1, "b": 3, "c": 4}
    with pytest.raises(datadir.DataDirError, match=rf"^{f}:4: key 'c' has no value$"):
        datadir.read_kv(f, allow_empty_value=False)


def test_splitting_an_scp_names_the_undecodable_line(tmp_path):
    from espnet_warmup.recipe.stages import scp

    src = tmp_path / "wav.scp"
    src.write_bytes(b"a /w/1.wav\nb /w/caf\xe9.wav\n")
    with pytest.raises(datadir.DataDirError, match=rf"^{src}:2: not valid UTF-8 \(byte 0xe9 at column 9, file offset 19\)"):
        scp.split_scp(str(src), [str(tmp_path / "1.scp")])
    assert not (tmp_path / "1.scp").exists()
    # lines are split at "\n" only: a transcript may hold U+2028 or \x1c
    src.write_text("a one\u2028two\nb three\x1cfour\n", encoding="utf-8")
    scp.split_scp(str(src), [str(tmp_path / "1.scp"), str(tmp_path / "2.scp")])
    assert (tmp_path / "1.scp").read_text(encoding="utf-8") == "a one\u2028two\n"
    assert (tmp_path / "2.scp").read_text(encoding="utf-8") == "b three\x1cfour\n"


def test_data_dir_is_written_sorted_with_tags_speakers_and_marker(tmp_path):
    d = datadir.write_data_dir(tmp_path / "train", UTTS, signature="sig 1", duration_digits=4)
    assert (d / "text").read_text() == "s1-a <en> one two\ns2-b <it> due\n"
    assert (d / "spk2utt").read_text() == "s1 s1-a\ns2 s2-b\n"
    assert (d / "utt2dur").read_text() == "s1-a 1.2500\ns2-b 1.2500\n"
    assert not (d / "excluded.txt").exists()  # only when exclusions are given (even none)
    assert datadir.is_done(d, "sig 1") and not datadir.is_done(d, "sig 2")
    assert datadir.validate(d) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]  # no temp dir left beside it


def test_a_failed_check_leaves_the_old_dir_and_names_the_final_paths(tmp_path):
    d = datadir.write_data_dir(tmp_path / "train", UTTS, signature="old")
    def check(new: Path) -> list[str]:
        return datadir.validate(new)

    with pytest.raises(datadir.DataDirError) as err:
        datadir.write_data_dir(d, [Utt("s1-a", "s1", "/w/a.wav", "", "en")], signature="new", check=check)
    assert err.value.problems == [f"{d}/text: 1 utterance(s) with an empty transcript: s1-a"]
    assert datadir.read_signature(d) == "old" and len(datadir.read_kv(d / "text")) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]


def test_atomic_dir_keeps_named_entries_and_discards_on_error(tmp_path):
    d = tmp_path / "part"
    (d / "wav").mkdir(parents=True)
    (d / "wav" / "x.wav").write_bytes(b"RIFF")
    (d / "old.txt").write_text("old")
    with atomic_dir(d, keep=["wav"]) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in d.iterdir()) == ["new.txt", "wav"]
    with pytest.raises(RuntimeError):
        with atomic_dir(d) as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("killed")
    assert sorted(p.name for p in d.iterdir()) == ["new.txt", "wav"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part"]


def test_language_tags_and_special_tokens_have_one_definition():
    assert datadir.lang_tag("it") == "<it>" and datadir.tag_lang("<it>") == "it"
    assert datadir.tag_lang("it") is None and datadir.tag_lang("<a b>") is None
    assert datadir.is_empty_transcript("<en> <noise>") and not datadir.is_empty_transcript("<en> ciao")


def run_cli(*argv: str, cwd: Path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run([sys.executable, "-m", *argv], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_the_validator_names_both_lines_of_a_duplicate_id_in_every_file(tmp_path):
    d = datadir.write_data_dir(tmp_path / "train", UTTS, signature="s")
    for name in ("wav.scp", "text", "utt2spk", "utt2lang", "utt2dur"):
        (d / name).write_text((d / name).read_text() + (d / name).read_text().splitlines()[1] + "\n")
    res = run_cli("espnet_warmup.recipe.datadir", "validate", str(d), cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [f"ERROR: {d}/{name} line 3: duplicate key 's2-b' (first on line 2)"
                                       for name in ("wav.scp", "utt2spk", "text", "utt2lang", "utt2dur")]


def test_every_data_dir_cli_turns_undecodable_text_into_one_error_line(tmp_path):
    d = datadir.write_data_dir(tmp_path / "train", UTTS, signature="s")
    for name in ("wav.scp", "text"):
        lines = (d / name).read_bytes().splitlines(keepends=True)
        (d / name).write_bytes(lines[0] + lines[1].replace(b"\n", b" \xe0\n"))
    wav_error = (f"ERROR: {d}/wav.scp:2: not valid UTF-8 (byte 0xe0 at column 15, file offset 28); "
                 + datadir.convert_hint(d / "wav.scp"))
    text_error = (f"ERROR: {d}/text:2: not valid UTF-8 (byte 0xe0 at column 15, file offset 32); "
                  + datadir.convert_hint(d / "text"))
    clis = {
        ("espnet_warmup.recipe.datadir", "copy", str(d), "copy"): wav_error,
        ("espnet_warmup.recipe.datadir", "fix", str(d)): wav_error,
        ("espnet_warmup.recipe.stages.scp", "split", f"{d}/wav.scp", "k.1", "k.2"): wav_error,
        ("espnet_warmup.recipe.stages.scp", "filter", f"{d}/text", f"{d}/utt2spk"): text_error,
        ("espnet_warmup.recipe.stages.format_audio", "--audio-dir", "a", "--out-wav-scp", "o", "--out-num-samples", "n",
         f"{d}/wav.scp"): wav_error,
        ("espnet_warmup.recipe.stages.speed_perturb", "--factors", "0.9 1.1", str(d), "sp"): wav_error,
        ("espnet_warmup.recipe.stages.token_list", "--token-type", "word", "--text", f"{d}/text", "--outdir", "t"):
            text_error,
    }
    for argv, error in clis.items():
        res = run_cli(*argv, cwd=tmp_path)
        assert (res.returncode, res.stderr, res.stdout) == (1, error + "\n", ""), argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]  # nothing written by any of them


def test_stage_1_imports_an_edited_kaldi_dir_again_instead_of_skipping_it(tmp_path):
    """Stage 1's marker holds the kaldi:<dir> sources' sizes and times: a transcript fixed after
    a finished stage 1 reaches data/ on the next ./run.sh, not only on a direct local/data.sh."""
    from tests.data.test_kaldi_import import make_kaldi_dir
    from tests.recipe.conftest import make_recipe_dir, run_recipe

    src = tmp_path / "src"
    for name, utt in (("train_en", "s-1"), ("dev_en", "s-2"), ("test_en", "s-3")):
        make_kaldi_dir(src / name, {utt: ("s", "helo")}, tmp_path / "audio", with_lang="en")
    corpus = " ".join(f"kaldi:{src / n}" for n in ("train_en", "dev_en", "test_en"))
    recipe = make_recipe_dir(tmp_path / "asr1")
    args = ("--stage", "1", "--stop_stage", "1", "--corpus", corpus, "--test_sets", "auto")
    first = run_recipe(recipe, *args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert datadir.read_kv(recipe / "data" / "train" / "text")["s-1"] == "<en> helo"
    again = run_recipe(recipe, *args)
    assert "Stage 1: Data preparation: data already done, skipped" in again.stderr
    (src / "train_en" / "text").write_text("s-1 hello\n")
    fixed = run_recipe(recipe, *args)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert "already done" not in fixed.stderr
    assert datadir.read_kv(recipe / "data" / "train" / "text")["s-1"] == "<en> hello"
