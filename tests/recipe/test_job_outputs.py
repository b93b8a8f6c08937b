"""Merging a split stage's job outputs (stages 3, 10, 12) and the commands record (stages 10-13), in Python."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from espnet_warmup.recipe import datadir
from espnet_warmup.recipe.stages import commands, job_outputs


# ------------------------------------------------------------------ stage 3
def test_format_merge_sorts_every_part_in_c_order_and_writes_the_type_files(tmp_path):
    log = tmp_path / "out" / "logdir"
    log.mkdir(parents=True)
    (log / "wav.1.scp").write_text("b /x/b.wav\nZ /x/Z.wav\n")
    (log / "wav.2.scp").write_text("a /x/a.wav\nä /x/ä.wav\n")
    (log / "utt2num_samples.1").write_text("b 20\nZ 26\n")
    (log / "utt2num_samples.2").write_text("a 10\nä 30\n")
    assert job_outputs.merge_format(tmp_path / "out", 2, "flac") == 4
    out = tmp_path / "out"
    # C order: upper case before lower case, UTF-8 (ä) after ASCII, as `LC_ALL=C sort`
    assert (out / "wav.scp").read_text() == "Z /x/Z.wav\na /x/a.wav\nb /x/b.wav\nä /x/ä.wav\n"
    assert (out / "utt2num_samples").read_text() == "Z 26\na 10\nb 20\nä 30\n"
    assert (out / "feats_type").read_text() == "raw\n" and (out / "audio_format").read_text() == "flac\n"
    sorted_by_sort = subprocess.run(["sort"], input=(log / "wav.1.scp").read_bytes() + (log / "wav.2.scp").read_bytes(),
                                    capture_output=True, env={"LC_ALL": "C"}).stdout
    assert (out / "wav.scp").read_bytes() == sorted_by_sort


def test_format_merge_names_the_missing_part(tmp_path):
    (tmp_path / "out" / "logdir").mkdir(parents=True)
    (tmp_path / "out" / "logdir" / "wav.1.scp").write_text("a x\n")
    with pytest.raises(datadir.DataDirError, match=r"logdir/wav.2.scp: missing \(did job 2 fail\?\)"):
        job_outputs.merge_format(tmp_path / "out", 2, "wav")
    assert not (tmp_path / "out" / "wav.scp").exists()


# ------------------------------------------------------------------ stage 10
def _stats_job(d, shapes: dict[str, str], feats: np.ndarray) -> None:
    for part in job_outputs.STATS_PARTS:
        p = d / part
        p.mkdir(parents=True)
        (p / "batch_keys").write_text("speech\ntext\n")
        (p / "stats_keys").write_text("feats\n")
        (p / "speech_shape").write_text("".join(f"{u} 1600\n" for u in shapes))
        (p / "text_shape").write_text("".join(f"{u} {n}\n" for u, n in shapes.items()))
        np.savez(p / "feats_stats.npz", count=np.array(len(shapes)), sum=feats, sum_square=feats ** 2)


def test_stats_merge_sums_the_jobs_and_appends_the_vocabulary_size(tmp_path):
    stats = tmp_path / "asr_stats"
    _stats_job(stats / "logdir" / "stats.1", {"u2": "5", "u1": "3"}, np.array([1.0, 2.0]))
    _stats_job(stats / "logdir" / "stats.2", {"u3": "7"}, np.array([0.5, 0.5]))
    (stats / "train").mkdir()
    (stats / "train" / "stale").write_text("from an older run")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("<blank>\n<unk>\na\n<sos/eos>\n")
    job_outputs.merge_stats(stats, 2, tokens, "word")
    for part in job_outputs.STATS_PARTS:
        assert (stats / part / "text_shape").read_text() == "u1 3\nu2 5\nu3 7\n"
        assert (stats / part / "text_shape.word").read_text() == "u1 3,4\nu2 5,4\nu3 7,4\n"
        summed = np.load(stats / part / "feats_stats.npz")
        assert int(summed["count"]) == 3 and summed["sum"].tolist() == [1.5, 2.5]
    assert not (stats / "train" / "stale").exists()  # each part is replaced whole
    assert sorted(p.name for p in stats.iterdir()) == ["logdir", "train", "valid"]  # no temp dir left


def test_vocab_size_is_appended_to_every_shape_line():
    assert job_outputs.with_vocab_size("a 3\nb 12\n", 98) == "a 3,98\nb 12,98\n"


# ------------------------------------------------------------------ stage 12
def test_decode_merge_sorts_and_checks_every_key(tmp_path):
    keys = tmp_path / "keys"
    datadir.write_kv(keys, {"a": "x", "b": "y", "c": "z"})
    for j, part in ((1, {"b": "<en> two"}), (2, {"a": "<en> one", "c": ""})):
        datadir.write_kv(tmp_path / "dec" / "logdir" / f"output.{j}" / "1best_recog" / "text", part)
    assert job_outputs.merge_decode(tmp_path / "dec", 2, keys) == 3
    assert (tmp_path / "dec" / "text").read_text() == "a <en> one\nb <en> two\nc\n"
    datadir.write_kv(keys, {"a": "x", "b": "y", "c": "z", "d": "w"})
    with pytest.raises(datadir.DataDirError, match=r"1 of 4 utterances have no hypothesis, e.g. \['d'\]"):
        job_outputs.merge_decode(tmp_path / "dec", 2, keys)


def test_cli_reports_a_failed_job_and_exits_1(tmp_path):
    out = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.stages.job_outputs", "decode", "--nj", "1",
                          "--keys", str(tmp_path / "keys"), str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.startswith("ERROR: ")


# ------------------------------------------------------------------ commands.sh
def test_recording_a_step_again_replaces_its_entry_and_moves_it_last(tmp_path):
    f = tmp_path / "commands.sh"
    commands.record(f, "stage 11: train", ["python3", "-m", "espnet2.bin.launch", "--cmd", "run.pl --name x"])
    commands.record(f, "stage 12: decode test (JOB=1:2)", ["python3", "dec", "--config", "a b.yaml"])
    commands.record(f, "stage 11: train", ["python3", "train", "--x", ""])
    assert f.read_text() == ("# stage 12: decode test (JOB=1:2)\npython3 dec --config 'a b.yaml'\n"
                             "# stage 11: train\npython3 train --x ''\n")


def test_commands_cli_takes_the_words_after_a_double_dash(tmp_path):
    f = tmp_path / "exp" / "commands.sh"
    assert commands.main([str(f), "stage 13: score test", "--", "python3", "--ref", "x y"]) == 0
    assert f.read_text() == "# stage 13: score test\npython3 --ref 'x y'\n"
