"""The Python side of the recipe stages (espnet_warmup.recipe.*), on small hand-made data dirs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_warmup.recipe import datadir
from espnet_warmup.recipe.stages import format_audio, length_filter, scp, speed_perturb, token_list


def make_dir(root: Path, texts: dict[str, str], fs: int = 16000, seconds: float = 0.5) -> Path:
    """A valid data dir with a sine per utterance; speaker = the id's first field."""
    d = root / "data"
    (d / "wav").mkdir(parents=True, exist_ok=True)
    wav, utt2spk, utt2lang = {}, {}, {}
    for i, utt in enumerate(texts):
        path = d / "wav" / f"{utt}.wav"
        t = np.arange(int(fs * seconds)) / fs
        sf.write(path, 0.3 * np.sin(2 * np.pi * (200 + 20 * i) * t), fs, subtype="PCM_16")
        wav[utt] = str(path)
        utt2spk[utt] = utt.split("-")[0]
        utt2lang[utt] = "en"
    datadir.write_kv(d / "wav.scp", wav)
    datadir.write_kv(d / "text", texts)
    datadir.write_kv(d / "utt2spk", utt2spk)
    datadir.write_kv(d / "utt2lang", utt2lang)
    datadir.write_kv(d / "spk2utt", datadir.spk2utt_from_utt2spk(utt2spk))
    return d


TEXTS = {"spkA-u1": "<en> one two", "spkA-u2": "<en> three", "spkB-u3": "<it> uno due", "spkB-u4": "<it> tre"}


# ------------------------------------------------------------------ data dirs
def test_valid_data_dir_has_no_problems(tmp_path):
    assert datadir.validate(make_dir(tmp_path, TEXTS)) == []


def test_empty_transcripts_are_named(tmp_path):
    d = make_dir(tmp_path, {**TEXTS, "spkA-u2": "<en>"})
    (d / "text").write_text((d / "text").read_text().replace("spkA-u1 <en> one two", "spkA-u1"))
    problems = datadir.validate(d)
    assert problems == [f"{d / 'text'}: 2 utterance(s) with an empty transcript: spkA-u1 spkA-u2"]


def test_mismatched_files_and_unsorted_files_are_reported(tmp_path):
    d = make_dir(tmp_path, TEXTS)
    lines = (d / "utt2spk").read_text().splitlines()
    (d / "utt2spk").write_text("\n".join(reversed(lines[1:])) + "\n")
    problems = datadir.validate(d)
    assert (f"{d / 'utt2spk'} line 3: not sorted: 'spkA-u2' comes after 'spkB-u3' "
            "(sort with LC_ALL=C sort)") in problems
    assert f"{d / 'wav.scp'} line 1: utterance 'spkA-u1' is not in utt2spk" in problems


def test_missing_data_dir_is_reported(tmp_path):
    assert datadir.validate(tmp_path / "nope") == [f"{tmp_path / 'nope'}: data directory does not exist"]


def test_duplicate_keys_are_an_error(tmp_path):
    f = tmp_path / "text"
    f.write_text("a x\na y\n")
    with pytest.raises(datadir.DataDirError, match=r"text:2: duplicate key 'a'"):
        datadir.read_kv(f)


def test_fix_drops_utterances_missing_from_a_file(tmp_path):
    d = make_dir(tmp_path, TEXTS)
    datadir.write_kv(d / "text", {k: v for k, v in TEXTS.items() if k != "spkB-u4"})
    assert datadir.fix_dir(d) == 1
    assert list(datadir.read_kv(d / "wav.scp")) == ["spkA-u1", "spkA-u2", "spkB-u3"]
    assert datadir.read_kv(d / "spk2utt")["spkB"] == "spkB-u3"
    assert datadir.validate(d) == []


def test_combine_refuses_colliding_utterance_ids(tmp_path):
    d = make_dir(tmp_path, TEXTS)
    with pytest.raises(datadir.DataDirError, match="utterance 'spkA-u1' occurs in more than one"):
        datadir.combine_dirs(tmp_path / "c", [d, d])


# ------------------------------------------------------------------ scp
def test_split_makes_contiguous_parts_differing_by_at_most_one():
    parts = scp.split_lines([f"u{i}\n" for i in range(7)], 3)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert sum(parts, []) == [f"u{i}\n" for i in range(7)]


def test_split_refuses_more_parts_than_lines():
    with pytest.raises(ValueError, match=r"cannot split 2 line\(s\) into 3 non-empty parts"):
        scp.split_lines(["a\n", "b\n"], 3)


def test_split_scp_pl_wrapper_has_kaldis_interface(tmp_path):
    src = tmp_path / "wav.scp"
    src.write_text("a 1\nb 2\nc 3\n")
    utils = Path(__file__).resolve().parents[2] / "utils"
    subprocess.run([str(utils / "split_scp.pl"), str(src), str(tmp_path / "o.1"), str(tmp_path / "o.2")], check=True)
    assert (tmp_path / "o.1").read_text() == "a 1\nb 2\n" and (tmp_path / "o.2").read_text() == "c 3\n"
    out = subprocess.run([str(utils / "filter_scp.pl"), "--exclude", str(tmp_path / "o.2"), str(src)],
                         check=True, capture_output=True, text=True)
    assert out.stdout == "a 1\nb 2\n"


# ------------------------------------------------------------------ stage 2
def test_speed_perturbation_prefixes_ids_and_chains_sox(tmp_path):
    d = make_dir(tmp_path, TEXTS)
    speed_perturb.speed_perturb(d, tmp_path / "train_sp", [0.9, 1.0, 1.1])
    sp = tmp_path / "train_sp"
    wav = datadir.read_kv(sp / "wav.scp")
    assert len(wav) == 12
    assert wav["sp0.9-spkA-u1"] == f"sox -t wav {d / 'wav' / 'spkA-u1.wav'} -t wav - speed 0.9 |"
    assert wav["spkA-u1"] == str(d / "wav" / "spkA-u1.wav")
    assert datadir.read_kv(sp / "utt2spk")["sp1.1-spkB-u3"] == "sp1.1-spkB"
    assert datadir.read_kv(sp / "text")["sp1.1-spkB-u3"] == "<it> uno due"
    assert datadir.validate(sp) == []
    assert speed_perturb.perturbed_wav_entry("gen x |", 1.1) == "gen x | sox -t wav - -t wav - speed 1.1 |"


def test_speed_factors_must_be_positive_numbers():
    with pytest.raises(ValueError, match="expected numbers such as '0.9 1.0 1.1', got 'fast'"):
        speed_perturb.parse_factors("fast")
    with pytest.raises(ValueError, match="factors must be positive"):
        speed_perturb.parse_factors("0.9 -1")


# ------------------------------------------------------------------ stage 3
def test_format_audio_resamples_runs_pipes_and_counts_samples(tmp_path):
    d = make_dir(tmp_path, TEXTS, fs=8000, seconds=0.5)
    speed_perturb.speed_perturb(d, tmp_path / "sp", [1.0, 1.25])
    problems = format_audio.format_split(str(tmp_path / "sp" / "wav.scp"), 16000, str(tmp_path / "audio"),
                                         str(tmp_path / "wav.out"), str(tmp_path / "n.out"))
    assert problems == []
    n = datadir.read_kv(tmp_path / "n.out")
    assert n["spkA-u1"] == "8000"  # 0.5 s at 16 kHz
    assert abs(int(n["sp1.25-spkA-u1"]) - 6400) <= 2  # 0.4 s after speeding up by 1.25
    data, rate = sf.read(datadir.read_kv(tmp_path / "wav.out")["sp1.25-spkA-u1"])
    assert rate == 16000 and data.ndim == 1


def test_format_audio_writes_flac_with_the_same_samples_as_wav(tmp_path):
    d = make_dir(tmp_path, TEXTS, fs=8000, seconds=0.5)
    outs = {}
    for fmt in ("wav", "flac"):
        assert format_audio.format_split(str(d / "wav.scp"), 16000, str(tmp_path / fmt), str(tmp_path / f"{fmt}.scp"),
                                         str(tmp_path / f"{fmt}.n"), audio_format=fmt) == []
        outs[fmt] = datadir.read_kv(tmp_path / f"{fmt}.scp")
        assert all(p.endswith(f".{fmt}") and sf.info(p).subtype == "PCM_16" for p in outs[fmt].values())
        assert datadir.read_kv(tmp_path / f"{fmt}.n") == datadir.read_kv(tmp_path / "wav.n")
    for utt, path in outs["flac"].items():
        assert sf.info(path).format == "FLAC"
        np.testing.assert_array_equal(sf.read(path, dtype="int16")[0], sf.read(outs["wav"][utt], dtype="int16")[0])
    with pytest.raises(ValueError, match="audio format must be one of wav, flac, got 'mp3'"):
        format_audio.format_split(str(d / "wav.scp"), 16000, str(tmp_path / "x"), str(tmp_path / "x.scp"),
                                  str(tmp_path / "x.n"), audio_format="mp3")


def test_format_audio_names_every_missing_or_corrupt_file_and_writes_nothing(tmp_path):
    d = make_dir(tmp_path, TEXTS)
    (d / "wav" / "spkA-u2.wav").write_bytes(b"RIFF\x00\x00garbage")
    (d / "wav" / "spkB-u3.wav").unlink()
    out = subprocess.run(
        [sys.executable, "-m", "espnet_warmup.recipe.stages.format_audio", "--audio-dir", str(tmp_path / "a"),
         "--out-wav-scp", str(tmp_path / "w"), "--out-num-samples", str(tmp_path / "n"), str(d / "wav.scp")],
        capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0] == f"ERROR: 2 utterance(s) with missing or unreadable audio in {d / 'wav.scp'}:"
    assert lines[1].startswith(f"ERROR: bad audio: spkA-u2: {d / 'wav' / 'spkA-u2.wav'}: unreadable audio")
    assert lines[2] == f"ERROR: bad audio: spkB-u3: {d / 'wav' / 'spkB-u3.wav'}: file not found"
    assert not (tmp_path / "w").exists() and not (tmp_path / "n").exists()


def test_failing_pipe_is_reported_with_its_exit_status(tmp_path):
    scp_file = tmp_path / "wav.scp"
    scp_file.write_text("u1 false |\n")
    problems = format_audio.format_split(str(scp_file), 16000, str(tmp_path / "a"), str(tmp_path / "w"), str(tmp_path / "n"))
    assert problems == ["u1: false |: command failed (exit 1): "]


# ------------------------------------------------------------------ stage 4
def test_length_filter_is_strict_on_both_bounds():
    n = {"a": "1600", "b": "1601", "c": "31999", "d": "32000"}
    assert length_filter.keep_by_length(n, 16000, 0.1, 2.0) == ["b", "c"]


def test_length_filter_refuses_to_leave_nothing(tmp_path):
    d = make_dir(tmp_path, TEXTS)
    datadir.write_kv(d / "utt2num_samples", {u: "8000" for u in TEXTS})
    with pytest.raises(datadir.DataDirError, match=r"all 4 utterances are outside \(1.0, 20.0\) seconds"):
        length_filter.filter_dir(d, tmp_path / "out", 16000, 1.0, 20.0)


# ------------------------------------------------------------------ stage 5
def test_word_token_list_has_espnets_layout(tmp_path):
    d = make_dir(tmp_path, TEXTS)
    tokens = token_list.make_token_list(d / "text", "word", tmp_path / "word")
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    # <en> and <it> occur twice each, then the words once each, ties in C order
    assert tokens[2:-1] == ["<en>", "<it>", "due", "one", "three", "tre", "two", "uno"]
    assert (tmp_path / "word" / "tokens.txt").read_text().splitlines() == tokens


def test_char_tokens_keep_language_tags_whole_and_mark_spaces():
    assert token_list.char_tokens("<en> ab c", ["<en>"]) == ["<en>", "<space>", "a", "b", "<space>", "c"]


def test_bpe_token_list_uses_sentencepiece_with_language_tags_as_user_symbols(tmp_path):
    import sentencepiece as spm

    d = make_dir(tmp_path, TEXTS)
    tokens = token_list.make_token_list(d / "text", "bpe", tmp_path / "bpe", nbpe=15, bpemode="unigram")
    assert len(tokens) == 15 - 3 + 3  # spm's <unk> <s> </s> replaced by <blank> <unk> <sos/eos>
    assert tokens[:4] == ["<blank>", "<unk>", "<en>", "<it>"] and tokens[-1] == "<sos/eos>"
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "bpe" / "bpe.model"))
    assert "<en>" in sp.encode("<en> one", out_type=str)  # kept whole, never split


def test_too_large_bpe_vocabulary_is_a_clear_error(tmp_path):
    d = make_dir(tmp_path, TEXTS)
    with pytest.raises(ValueError, match=r"sentencepiece could not train --nbpe 500 --bpemode unigram: .*Vocabulary size too high"):
        token_list.make_token_list(d / "text", "bpe", tmp_path / "bpe", nbpe=500)
    assert not (tmp_path / "bpe").exists()


def test_format_audio_names_a_missing_sox_for_sox_pipes_only(tmp_path, monkeypatch):
    scp_file = tmp_path / "keys.1.scp"
    scp_file.write_text("a sox /x/a.wav -t wav - speed 0.9 |\nb /x/b.wav\n")
    monkeypatch.setattr(format_audio.shutil, "which", lambda name: None)
    assert format_audio.missing_sox(scp_file) == (
        f"'sox' not found on PATH; it is needed for the sox pipes in {scp_file} (install it, e.g. apt-get install sox)")
    scp_file.write_text("a gen a |\nb /x/b.wav\n")  # a pipe without sox, and a file: sox is not needed
    assert format_audio.missing_sox(scp_file) is None
