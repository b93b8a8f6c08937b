"""The one Kaldi data dir validator (espnet_warmup.recipe.datadir.validate, with the audio checks on):
a valid dir passes; each kind of damage gives its exact message."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from espnet_warmup.recipe.data.sources.embedded import SynthesizedUtterance
from espnet_warmup.recipe.datadir import validate, write_data_dir


def validate_data_dir(data_dir, check_wav=True, fs=None):
    return validate(data_dir, check_audio=check_wav, fs=fs)


@pytest.fixture
def data_dir(tmp_path):
    """A valid 3-utterance data dir with real 16 kHz wavs (two speakers, both languages)."""
    rows = []
    for uttid, spk, lang, text in [("enus-m1-train00000", "enus-m1", "en", "one two"),
                                   ("enus-m1-train00002", "enus-m1", "en", "turn on the light"),
                                   ("it-m1-train00001", "it-m1", "it", "uno due")]:
        wav = str(tmp_path / "wav" / f"{uttid}.wav")
        os.makedirs(os.path.dirname(wav), exist_ok=True)
        soundfile.write(wav, (0.1 * np.sin(np.arange(8000) / 5)).astype(np.float32), 16000, subtype="PCM_16")
        rows.append(SynthesizedUtterance(uttid, spk, lang, text, wav, 0.5))
    d = tmp_path / "train"
    write_data_dir(d, rows, duration_digits=4)
    return d


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.datadir", "validate", *map(str, args)],
                          capture_output=True, text=True)


def test_valid_dir_passes_and_cli_exits_0(data_dir):
    assert validate_data_dir(str(data_dir)) == []
    proc = _cli(data_dir, "--check-audio", "--fs", "16000")
    assert proc.returncode == 0
    assert proc.stderr == ""


def test_written_files_are_sorted_with_a_language_token(data_dir):
    assert (data_dir / "text").read_text() == ("enus-m1-train00000 <en> one two\n"
                                              "enus-m1-train00002 <en> turn on the light\n"
                                              "it-m1-train00001 <it> uno due\n")
    assert (data_dir / "spk2utt").read_text() == ("enus-m1 enus-m1-train00000 enus-m1-train00002\n"
                                                 "it-m1 it-m1-train00001\n")


def _edit(path, old, new):
    path.write_text(path.read_text().replace(old, new))


def _expect(data_dir, message, **kwargs):
    errors = validate_data_dir(str(data_dir), **kwargs)
    assert message in errors, errors
    proc = _cli(data_dir, "--check-audio", *(["--fs", kwargs["fs"]] if "fs" in kwargs else []))
    assert proc.returncode == 1
    assert f"ERROR: {message}" in proc.stderr.splitlines()


def test_missing_file_is_named(data_dir):
    os.remove(data_dir / "spk2utt")
    _expect(data_dir, f"{data_dir}/spk2utt: missing (a Kaldi data dir needs wav.scp, text, utt2spk, spk2utt)")


def test_not_a_directory(tmp_path):
    proc = _cli(tmp_path / "nope")
    assert proc.returncode == 1
    assert f"ERROR: {tmp_path}/nope: data directory does not exist" in proc.stderr


def test_unsorted_file_names_the_line(data_dir):
    lines = (data_dir / "text").read_text().splitlines()
    (data_dir / "text").write_text("\n".join([lines[1], lines[0], lines[2]]) + "\n")
    _expect(data_dir, f"{data_dir}/text line 2: not sorted: 'enus-m1-train00000' comes after "
                      "'enus-m1-train00002' (sort with LC_ALL=C sort)")


def test_duplicate_id_names_both_lines(data_dir):
    with open(data_dir / "utt2lang", "a") as f:
        f.write("it-m1-train00001 it\n")
    _expect(data_dir, f"{data_dir}/utt2lang line 4: duplicate key 'it-m1-train00001' (first on line 3)")


def test_empty_transcript_and_language_token_only_are_rejected(data_dir):
    _edit(data_dir / "text", "<it> uno due", "<it>")
    _expect(data_dir, f"{data_dir}/text: 1 utterance(s) with an empty transcript: it-m1-train00001")
    _edit(data_dir / "text", "<it>", "")
    _expect(data_dir, f"{data_dir}/text: 1 utterance(s) with an empty transcript: it-m1-train00001")


def test_utterance_missing_from_text_is_named(data_dir):
    _edit(data_dir / "text", "enus-m1-train00002 <en> turn on the light\n", "")
    _expect(data_dir, f"{data_dir}/text: no line for utterance 'enus-m1-train00002' (utt2spk line 2)")


def test_extra_utterance_in_wav_scp_is_named(data_dir):
    with open(data_dir / "wav.scp", "a") as f:
        f.write("zz-extra /dev/null\n")
    _expect(data_dir, f"{data_dir}/wav.scp line 4: utterance 'zz-extra' is not in utt2spk")


def test_spk2utt_inconsistent_with_utt2spk(data_dir):
    _edit(data_dir / "spk2utt", "enus-m1 enus-m1-train00000 enus-m1-train00002", "enus-m1 enus-m1-train00000")
    _expect(data_dir, f"{data_dir}/spk2utt line 1: speaker 'enus-m1' does not list exactly its utterances "
                      "of utt2spk in sorted order")


def test_utterance_ids_not_prefixed_by_speaker_break_sort_consistency(data_dir):
    _edit(data_dir / "utt2spk", "it-m1-train00001 it-m1", "it-m1-train00001 aa-spk")
    _expect(data_dir, f"{data_dir}/utt2spk line 1: sorting by speaker reorders utterances "
                      "('enus-m1-train00000' vs 'it-m1-train00001'); utterance ids must start with their speaker id")


def test_missing_and_corrupt_audio_are_named(data_dir):
    wavs = [line.split()[1] for line in (data_dir / "wav.scp").read_text().splitlines()]
    os.remove(wavs[0])
    with open(wavs[2], "wb") as f:
        f.write(b"RIFF not really a wav")
    errors = validate_data_dir(str(data_dir))
    assert f"{data_dir}/wav.scp line 1: audio file {wavs[0]} does not exist" in errors
    assert any(e.startswith(f"{data_dir}/wav.scp line 3: {wavs[2]} is not readable audio (") for e in errors)
    assert validate_data_dir(str(data_dir), check_wav=False) == []
    assert _cli(data_dir).returncode == 0  # the audio checks are off unless --check-audio


def test_wrong_sample_rate_is_named_when_fs_is_given(data_dir):
    wav = (data_dir / "wav.scp").read_text().split()[1]
    soundfile.write(wav, np.zeros(800, dtype=np.float32) + 0.1, 8000, subtype="PCM_16")
    _expect(data_dir, f"{data_dir}/wav.scp line 1: {wav} has sample rate 8000, expected 16000", fs=16000)


def test_bad_duration_and_crlf_are_named(data_dir):
    _edit(data_dir / "utt2dur", "enus-m1-train00002 0.5000", "enus-m1-train00002 -1")
    _expect(data_dir, f"{data_dir}/utt2dur line 2: duration '-1' of 'enus-m1-train00002' is not a positive number")
    _edit(data_dir / "utt2lang", "it-m1-train00001 it\n", "it-m1-train00001 it\r\n")
    assert (f"{data_dir}/utt2lang line 3: carriage return (\\r) in line (DOS line endings?)"
            in validate_data_dir(str(data_dir)))
