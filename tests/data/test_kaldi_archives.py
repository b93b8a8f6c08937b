"""wav.scp entries that are archive offsets (``x.ark:123``): Kaldi's wav-copy and ESPnet's
``wav.ark``/``flac.ark`` dumps. The import extracts them into wav files; stage 2 and 3
helpers read them too."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import kaldiio
import numpy as np
import soundfile as sf

from espnet_warmup.recipe import wavscp
from espnet_warmup.recipe.data import prepare
from espnet_warmup.recipe.datadir import validate
from espnet_warmup.recipe.stages import format_audio, speed_perturb
from espnet_warmup.recipe.datadir import read_kv


def _signal(n: int, seed: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (3000 * rng.standard_normal((n, channels))).astype(np.int16)
    return x[:, 0] if channels == 1 else x


def _archives(root: Path) -> dict[str, tuple[str, np.ndarray, int]]:
    """Three utterances in two archives, each kind of audio payload: {utt: (entry, samples, rate)}."""
    root.mkdir(parents=True, exist_ok=True)
    a, b, c = _signal(8000, 1), _signal(12000, 2, channels=2), _signal(4000, 3)
    # Kaldi's wav payload (RIFF), as wav-copy writes it
    kaldiio.save_ark(str(root / "wav.ark"), {"u-a": (16000, a), "u-b": (16000, b)}, scp=str(root / "wav_ark.scp"))
    # kaldiio's soundfile payload, as ESPnet's format stage writes its *.ark audio formats
    with kaldiio.WriteHelper(f"ark,scp:{root / 'sf.ark'},{root / 'sf_ark.scp'}", write_function="soundfile") as w:
        w["u-c"] = (c, 8000)
    scp = dict(read_kv(root / "wav_ark.scp")) | dict(read_kv(root / "sf_ark.scp"))
    return {"u-a": (scp["u-a"], a, 16000), "u-b": (scp["u-b"], b, 16000), "u-c": (scp["u-c"], c, 8000)}


def test_archive_entries_are_recognised_and_read_exactly(tmp_path):
    arcs = _archives(tmp_path)
    assert wavscp.is_archive_entry(arcs["u-a"][0])
    for entry in ("/x/a.wav", "sox a.wav -t wav - |", "cat x.ark:12 |", ":12", "a.ark:12x"):
        assert not wavscp.is_archive_entry(entry), entry
    for utt, (entry, samples, rate) in arcs.items():
        wav = wavscp.archive_entry_wav_bytes(entry)
        data, fs = sf.read(io.BytesIO(wav), dtype="int16")
        assert fs == rate and sf.info(io.BytesIO(wav)).subtype == "PCM_16"
        np.testing.assert_array_equal(data, samples, err_msg=utt)


def test_import_extracts_archive_entries_into_wav_files(tmp_path):
    arcs = _archives(tmp_path / "arc")
    feats = tmp_path / "arc" / "feats.ark"
    kaldiio.save_ark(str(feats), {"u-f": np.ones((3, 4), dtype=np.float32)}, scp=str(tmp_path / "arc" / "feats.scp"))
    d = tmp_path / "train_arc"
    d.mkdir()
    wav = {utt: entry for utt, (entry, _, _) in arcs.items()}
    wav["u-f"] = read_kv(tmp_path / "arc" / "feats.scp")["u-f"]  # features, not audio
    wav["u-g"] = f"{tmp_path}/arc/gone.ark:5"
    (d / "wav.scp").write_text("".join(f"{u} {e}\n" for u, e in sorted(wav.items())))
    (d / "text").write_text("".join(f"{u} words of {u}\n" for u in sorted(wav)))
    data = tmp_path / "data"
    assert prepare.main(["--corpus", f"kaldi:{d}:en", "--data_dir", str(data), "--nj", "2",
                         "--progress", "false"]) == 0
    out = dict(read_kv(data / "train" / "wav.scp"))
    assert sorted(out) == ["u-a", "u-b", "u-c"]
    durs = dict(read_kv(data / "train" / "utt2dur"))
    for utt, (_, samples, rate) in arcs.items():
        got, fs = sf.read(out[utt], dtype="int16")
        assert fs == rate and Path(out[utt]).parent == data / "local" / "kaldi_train_arc" / "wav"
        np.testing.assert_array_equal(got, samples, err_msg=utt)
        assert float(durs[utt]) == round(len(samples) / rate, 3)
    rows = dict(line.split("\t")[:2] for line in
                (data / "local" / "kaldi_train_arc" / "excluded.txt").read_text().splitlines())
    assert rows["u-f"] == ("recording unreadable (the archive holds a matrix at this offset (features?), "
                           f"not audio): {wav['u-f']}")
    assert rows["u-g"] == f"recording unreadable (archive file missing: {tmp_path}/arc/gone.ark): {wav['u-g']}"
    assert validate(data / "train", check_audio=True) == []


def test_stage_helpers_read_archive_entries(tmp_path, monkeypatch):
    # the recipe's path.sh puts the environment's python3 first on PATH; so does the test
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    arcs = _archives(tmp_path / "arc")
    entry, samples, rate = arcs["u-c"]
    # stage 3 reads it (as float, like every other entry) ...
    data, fs = format_audio.load_entry(entry)
    assert fs == 8000 and data.shape == (4000, 1)
    np.testing.assert_array_equal(np.round(data[:, 0] * 32768).astype(np.int16), samples)
    # ... and so does stage 2's sox pipe (4000 samples at speed 0.5 -> ~8000)
    pipe = speed_perturb.perturbed_wav_entry(entry, 0.5)
    assert pipe.startswith("python3 -m espnet_warmup.recipe.wavscp ") and pipe.endswith("speed 0.5 |")
    slow, fs = format_audio.load_entry(pipe)
    assert fs == 8000 and abs(slow.shape[0] - 8000) <= 8
    # a broken archive entry gets the reason, and validation names the missing archive
    try:
        format_audio.load_entry(f"{tmp_path}/nope.ark:9")
    except format_audio.AudioError as err:
        assert str(err) == f"archive file missing: {tmp_path}/nope.ark"
    else:
        raise AssertionError("no error for a missing archive")
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text(f"u1 {entry}\nu2 {tmp_path}/nope.ark:9\n")
    for name, body in (("text", "u1 a\nu2 b\n"), ("utt2spk", "u1 u1\nu2 u2\n"), ("spk2utt", "u1 u1\nu2 u2\n")):
        (d / name).write_text(body)
    assert validate(d, check_audio=True) == [f"{d}/wav.scp line 2: archive {tmp_path}/nope.ark of 'u2' does not exist"]


def test_wavscp_cli_writes_the_wav_or_names_the_problem(tmp_path):
    arcs = _archives(tmp_path)
    entry, samples, _ = arcs["u-b"]
    ok = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.wavscp", entry], capture_output=True)
    assert ok.returncode == 0, ok.stderr
    got, fs = sf.read(io.BytesIO(ok.stdout), dtype="int16")
    assert fs == 16000
    np.testing.assert_array_equal(got, samples)  # both channels
    bad = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.wavscp", f"{tmp_path}/nope.ark:3"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == f"espnet_warmup.recipe.wavscp: {tmp_path}/nope.ark:3: archive file missing: {tmp_path}/nope.ark\n"
