"""The one Kaldi data-dir module: strict and lenient reading, the dir writer, markers, atomic swaps."""

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


def test_strict_reading_names_file_and_line_of_bad_bytes_and_repeats(tmp_path):
    f = tmp_path / "text"
    f.write_bytes(b"a x\n\nb caf\xe9\n")
    with pytest.raises(datadir.DataDirError, match=rf"^{f}:3: not valid UTF-8$"):
        datadir.read_kv(f)
    f.write_text("a x\na y\n")
    with pytest.raises(datadir.DataDirError, match=rf"^ref file {f}:2: duplicate key 'a'$"):
        datadir.read_kv(f, what="ref")
    with pytest.raises(datadir.DataDirError, match=rf"^{tmp_path}/nope: file not found$"):
        datadir.read_kv(tmp_path / "nope")


def test_lenient_reading_takes_what_it_can(tmp_path):
    f = tmp_path / "utt2spk"
    f.write_bytes(b"a s1\nb caf\xe9\na s2\n")
    assert datadir.read_kv(f, strict=False) == {"a": "s2", "b": "caf\ufffd"}
    assert datadir.read_kv(tmp_path / "nope", strict=False) == {}


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
