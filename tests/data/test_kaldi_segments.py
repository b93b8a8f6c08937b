"""--corpus kaldi:<dir> with a ``segments`` file: each segment becomes an utterance with its own
wav, exactly the samples [round(start*fs), round(end*fs)) of its recording."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_warmup.recipe.data import prepare
from espnet_warmup.recipe.datadir import read_kv, validate
from tests.data import corpora_replicas as replicas


def expected_samples(rep: dict, utt: str) -> tuple[np.ndarray, int]:
    """The recording's samples the cut of ``utt`` must hold (clipped at the recording's end)."""
    rec, start, end, channel, *_ = rep["utts"][utt]
    samples, fs = rep["recordings"][rec]
    cut = samples[round(start * fs):min(round(end * fs), len(samples))]
    if channel is not None:
        return cut[:, channel], fs
    return (cut[:, 0] if cut.shape[1] == 1 else cut), fs


def assert_cut(path: Path, rep: dict, utt: str) -> None:
    got, fs = sf.read(path, dtype="int16")
    want, want_fs = expected_samples(rep, utt)
    assert fs == want_fs, utt
    assert sf.info(path).subtype == "PCM_16"
    np.testing.assert_array_equal(got, want, err_msg=utt)


def runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def excluded(d: Path) -> dict[str, tuple[str, str]]:
    rows = [line.split("\t") for line in (d / "excluded.txt").read_text().splitlines()]
    assert all(len(r) == 3 for r in rows), rows
    return {utt: (reason, source) for utt, reason, source in rows}


def test_segments_are_cut_into_one_wav_per_utterance(tmp_path, data_sh):
    rep = replicas.kaldi_segmented(tmp_path / "k")
    res = data_sh("--corpus", f"kaldi:{rep['dir']}:en", "--nj", "2")
    assert res.returncode == 0, res.stderr
    data, part = tmp_path / "data", tmp_path / "data" / "local" / "kaldi_train_seg"
    utts = rep["utts"]
    assert dict(read_kv(data / "train" / "text")) == {
        "spk1-a1": "<en> hello one", "spk1-a2": "<en> hello two", "spk2-a3": "<it> ciao tre",
        "spk2-a4": "<en> four", "spk3-b1": "<en> five", "spk3-b2": "<en> six"}
    assert dict(read_kv(data / "train" / "utt2spk")) == {u: v[5] for u, v in utts.items()}
    assert dict(read_kv(data / "train" / "utt2lang")) == {u: v[6] for u, v in utts.items()}
    wav = dict(read_kv(data / "train" / "wav.scp"))
    assert wav == {u: str(part / "wav" / f"{u}.wav") for u in utts}
    for utt, path in wav.items():
        assert_cut(Path(path), rep, utt)
    assert sf.info(wav["spk1-a1"]).channels == 2  # channels kept, as for the other corpora
    assert sf.info(wav["spk2-a4"]).channels == 1  # the segment's channel field picks one
    assert dict(read_kv(data / "train" / "utt2dur")) == {
        "spk1-a1": "0.750", "spk1-a2": "0.880", "spk2-a3": "0.800", "spk2-a4": "0.500",
        "spk3-b1": "0.800", "spk3-b2": "0.900"}  # a4: 2.5-3.2 s of a 3 s recording, clipped
    assert runs(rep["counter"]) == 1  # the pipe ran once for its two segments
    assert (part / "excluded.txt").read_text() == ""
    assert validate(data / "train") == []
    assert (f"kaldi:{rep['dir']} train_seg (train): 6 utterances, 4.6 s; "
            f"6 segments of 2 recordings cut into {part}/wav") in res.stdout
    assert "sample rates: 8000 Hz: 2, 16000 Hz: 4" in res.stdout


def test_each_recording_is_opened_once_for_all_its_segments(tmp_path, monkeypatch):
    rep = replicas.kaldi_segmented(tmp_path / "k")
    opened = tmp_path / "opened.log"
    rec_a = str(tmp_path / "k" / "recA.wav")

    class CountingSoundFile(sf.SoundFile):  # the real class, logging each open of recA (also in workers)
        def __init__(self, file, *args, **kwargs):
            if str(file) == rec_a:
                with open(opened, "a") as log:
                    log.write(f"{os.getpid()}\n")
            super().__init__(file, *args, **kwargs)

    monkeypatch.setattr(sf, "SoundFile", CountingSoundFile)
    rc = prepare.main(["--corpus", f"kaldi:{rep['dir']}:en", "--data_dir", str(tmp_path / "data"),
                       "--nj", "2", "--progress", "false"])
    assert rc == 0
    assert runs(opened) == 1 and runs(rep["counter"]) == 1
    assert len(read_kv(tmp_path / "data" / "train" / "wav.scp")) == 6


def test_bad_segments_are_excluded_with_the_reason_and_the_rest_is_cut(tmp_path, data_sh):
    rep = replicas.kaldi_segmented(tmp_path / "k")
    d = rep["dir"]
    garbage = tmp_path / "k" / "garbage.wav"
    garbage.write_bytes(b"RIFF but not really a wav file")
    missing = tmp_path / "k" / "missing.wav"
    pipe = "sox /nonexistent/recP.flac -t wav - |"
    with open(d / "wav.scp", "a") as f:
        f.write(f"recM {missing}\nrecU {garbage}\nrecP {pipe}\n")
    bad_segments = [
        "bad-fields recA 0.5",          # 7
        "bad-norec recZ 0 1",           # 8
        "bad-empty recA 1.0 1.0",       # 9
        "bad-neg recA -0.5 1.0",        # 10
        "bad-nan recA abc 1.0",         # 11
        "bad-far recA 2.0 3.6",         # 12: 0.6 s past the 3 s recording
        "bad-late recA 3.2 3.4",        # 13: starts after the end
        "bad-chan recA 0 1 5",          # 14
        "bad-miss1 recM 0 1",           # 15
        "bad-miss2 recM 1 2",           # 16
        "bad-unread recU 0 1",          # 17
        "bad-pipe recP 0 1",            # 18
        "bad-chnum recA 0 1 x",         # 19
        "bad-notext recA 0 1",          # 20
    ]
    with open(d / "segments", "a") as f:
        f.write("\n".join(bad_segments) + "\n")
    with open(d / "text", "a") as f:  # lines 7-: every bad one has a transcript, plus one without segment
        f.write("".join(f"{line.split()[0]} words\n" for line in bad_segments if not line.startswith("bad-notext")))
        f.write("bad-nosegment words\n")
    with open(d / "utt2spk", "a") as f:  # each its own speaker
        f.write("".join(f"{u} {u}\n" for u in [line.split()[0] for line in bad_segments] + ["bad-nosegment"]))
    res = data_sh("--corpus", f"kaldi:{d}:en", "--nj", "2")
    assert res.returncode == 0, res.stderr
    part = tmp_path / "data" / "local" / "kaldi_train_seg"
    seg, text, rec_a = f"{d}/segments", f"{d}/text", tmp_path / "k" / "recA.wav"
    rows = excluded(part)
    unread_reason, unread_source = rows.pop("bad-unread")
    assert unread_reason.startswith("recording unreadable (") and unread_reason.endswith(f"): {garbage}")
    assert unread_source == f"{seg}:17"
    pipe_reason, pipe_source = rows.pop("bad-pipe")
    assert pipe_reason.startswith("recording command failed (exit 2: sox FAIL formats: can't open input file "
                                  "`/nonexistent/recP.flac': No such file or directory)")
    assert pipe_reason.endswith(f"): {pipe}") and pipe_source == f"{seg}:18"
    assert rows == {
        "bad-fields": ("malformed segments line (3 fields; expected <utt> <recording> <start> <end> [<channel>])",
                       f"{seg}:7"),
        "bad-norec": ("recording not in wav.scp (recZ)", f"{seg}:8"),
        "bad-empty": ("segment is empty (end 1.0 s <= start 1.0 s)", f"{seg}:9"),
        "bad-neg": ("segment starts before 0 (start -0.5 s)", f"{seg}:10"),
        "bad-nan": ("segment times are not numbers (start 'abc', end '1.0')", f"{seg}:11"),
        "bad-far": (f"segment outside its recording (2.000-3.600 s; the recording is 3.000 s long): {rec_a}",
                    f"{seg}:12"),
        "bad-late": (f"segment outside its recording (3.200-3.400 s; the recording is 3.000 s long): {rec_a}",
                     f"{seg}:13"),
        "bad-chan": (f"segment channel 5 not in its recording (2 channel(s)): {rec_a}", f"{seg}:14"),
        "bad-miss1": (f"recording file missing: {missing}", f"{seg}:15"),
        "bad-miss2": (f"recording file missing: {missing}", f"{seg}:16"),
        "bad-chnum": ("segment channel is not a channel number ('x'; 0 is the first)", f"{seg}:19"),
        "bad-notext": ("no transcript (missing from text)", f"{seg}:20"),
        "bad-nosegment": ("no segments entry", f"{text}:20"),
    }
    # Each bad utterance is reported once; the good ones are all there, cut exactly.
    assert len((part / "excluded.txt").read_text().splitlines()) == 15
    wav = dict(read_kv(tmp_path / "data" / "train" / "wav.scp"))
    assert set(wav) == set(rep["utts"])
    for utt, path in wav.items():
        assert_cut(Path(path), rep, utt)
    assert sorted(os.listdir(part / "wav")) == sorted([".source", *(f"{u}.wav" for u in rep["utts"])])
    assert "6 utterances, 4.6 s; 15 excluded (" in res.stdout
    assert "2 segment outside its recording" in res.stdout
    assert "2 recording file missing" in res.stdout and "1 recording command failed" in res.stdout


def test_a_rerun_keeps_complete_cuts_and_recuts_the_rest(tmp_path, data_sh):
    rep = replicas.kaldi_segmented(tmp_path / "k")
    spec = f"kaldi:{rep['dir']}:en"
    part = tmp_path / "data" / "local" / "kaldi_train_seg"
    cuts = part / "wav"

    def stamps(prefix: str) -> dict[str, tuple[int, int]]:
        return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cuts.glob(f"{prefix}*.wav")}

    def rerun_after_interruption() -> str:
        (part / ".done").unlink()  # as if the run had stopped before finishing the part
        res = data_sh("--corpus", spec, "--nj", "2")
        assert res.returncode == 0, res.stderr
        for utt in rep["utts"]:
            assert_cut(cuts / f"{utt}.wav", rep, utt)
        assert sorted(os.listdir(cuts)) == sorted([".source", *(f"{u}.wav" for u in rep["utts"])])
        return res.stdout

    assert data_sh("--corpus", spec, "--nj", "2").returncode == 0
    first_a = stamps("spk1") | stamps("spk2")
    # A finished part is not redone at all.
    assert data_sh("--corpus", spec).returncode == 0
    assert runs(rep["counter"]) == 1 and stamps("spk1") | stamps("spk2") == first_a
    # A fixed transcript redoes the part (its source files changed) but keeps every cut.
    text = rep["dir"] / "text"
    first_utt = text.read_text().split()[0]
    text.write_text("".join(f"{line.split()[0]} corrected words\n" if line.split()[0] == first_utt else line + "\n"
                            for line in text.read_text().splitlines()))
    res = data_sh("--corpus", spec, "--nj", "2")
    assert res.returncode == 0, res.stderr
    assert read_kv(part / "text")[first_utt] == "<en> corrected words"
    assert runs(rep["counter"]) == 1 and stamps("spk1") | stamps("spk2") == first_a
    assert "(2 recording(s) already cut, kept)" in res.stdout

    # Interrupted while cutting recB: one cut missing, a temporary left behind.
    (cuts / "spk3-b1.wav").unlink()
    (cuts / ".spk3-b1.wav.4242.tmp").write_bytes(b"RIFF half a wav")
    out = rerun_after_interruption()
    assert runs(rep["counter"]) == 2  # recB read again, once
    assert stamps("spk1") | stamps("spk2") == first_a  # recA's cuts kept, not rewritten
    assert "6 segments of 2 recordings cut into" in out and "(1 recording(s) already cut, kept)" in out

    # A truncated cut (header and frame count disagree with the segment) is redone with its recording.
    data = (cuts / "spk1-a2.wav").read_bytes()
    (cuts / "spk1-a2.wav").write_bytes(data[: len(data) // 2])
    rerun_after_interruption()
    assert runs(rep["counter"]) == 2  # recB's cuts kept
    assert all(stamps("spk1")[n][0] != first_a[n][0] for n in stamps("spk1"))  # recA's rewritten

    # Another recording under the same id (wav.scp changed, same length): every old cut is discarded.
    rec_a2 = rep["recordings"]["recA"][0][::-1].copy()
    sf.write(tmp_path / "k" / "recA2.wav", rec_a2, 16000, subtype="PCM_16")
    scp = rep["dir"] / "wav.scp"
    scp.write_text(scp.read_text().replace("recA.wav", "recA2.wav"))
    rep["recordings"]["recA"] = (rec_a2, 16000)
    rerun_after_interruption()
    assert runs(rep["counter"]) == 3


def test_end_minus_one_runs_to_the_end_and_a_missing_archive_is_reported(tmp_path):
    rep = replicas.kaldi_segmented(tmp_path / "k")
    d = rep["dir"]
    (d / "segments").write_text("spk1-a1 recA 2.25 -1\nspk3-b1 recB 0.5 -1\nspk9-x1 recX 0 1\n")
    (d / "text").write_text("spk1-a1 one\nspk3-b1 two\nspk9-x1 three\n")
    with open(d / "wav.scp", "a") as f:
        f.write("recX data/raw.ark:123\n")
    with open(d / "utt2spk", "a") as f:
        f.write("spk9-x1 spk9\n")
    rep["utts"]["spk1-a1"] = ("recA", 2.25, 3.0, None)
    rep["utts"]["spk3-b1"] = ("recB", 0.5, 2.0, None)
    data = tmp_path / "data"
    argv = ["--corpus", f"kaldi:{d}:en", "--data_dir", str(data), "--nj", "1", "--progress", "false"]
    assert prepare.main(argv) == 0
    wav = dict(read_kv(data / "train" / "wav.scp"))
    assert sorted(wav) == ["spk1-a1", "spk3-b1"]
    for utt, path in wav.items():
        assert_cut(Path(path), rep, utt)
    assert dict(read_kv(data / "train" / "utt2dur")) == {"spk1-a1": "0.750", "spk3-b1": "1.500"}
    part = data / "local" / "kaldi_train_seg"
    assert excluded(part) == {"spk9-x1": (
        "recording unreadable (archive file missing: data/raw.ark): data/raw.ark:123",
        f"{d}/segments:3")}
    # Rerun of an unfinished part: the file's length is read from its header, so its cut to the
    # end is kept; a command's length is only known by running it again.
    cut_a = (part / "wav" / "spk1-a1.wav").stat().st_ino
    (part / ".done").unlink()
    assert prepare.main(argv) == 0
    assert (part / "wav" / "spk1-a1.wav").stat().st_ino == cut_a
    assert runs(rep["counter"]) == 2
