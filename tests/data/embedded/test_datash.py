"""local/data.sh end to end on a tiny corpus: real espeak-ng + sox audio, Kaldi data dirs, reruns, bad input."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = str(Path(__file__).resolve().parents[3])
DATA_SH = os.path.join(REPO, "local", "data.sh")
TINY = ["--num_train", "24", "--num_dev", "6", "--num_test", "6"]
SPLITS = ("train", "dev", "test")


def run_data_sh(cwd, *args, path=None):
    """Run local/data.sh from ``cwd`` (a recipe root) with this interpreter's bin dir first on PATH."""
    env = dict(os.environ)
    env["PATH"] = path if path is not None else os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return subprocess.run(["/bin/bash", DATA_SH, *args], cwd=cwd, env=env, capture_output=True, text=True)


def read_table(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split(" ", 1) for line in f]


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    proc = run_data_sh(root, *TINY, "--nj", "2")
    assert proc.returncode == 0, proc.stderr
    return root, proc


def test_data_sh_writes_valid_kaldi_data_dirs(corpus):
    root, _ = corpus
    for split in SPLITS:
        d = root / "data" / split
        for name in ("wav.scp", "text", "utt2spk", "spk2utt", "utt2lang", "utt2dur", ".done"):
            assert (d / name).is_file(), name
        proc = subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.datadir", "validate", str(d),
                               "--check-audio", "--fs", "16000"], capture_output=True, text=True)
        assert (proc.returncode, proc.stderr) == (0, "")
        assert not (d / ".corpus_config.json").exists()  # one marker: .done holds the configuration
        assert json.loads((d / ".done").read_text())["corpus"] == "digits"


def test_data_sh_names_the_test_sets_for_asr_sh(corpus):
    root, _ = corpus
    assert (root / "data" / "test_sets").read_text() == "test\n"


def test_split_sizes_follow_the_size_options(corpus):
    root, _ = corpus
    sizes = {split: len(read_table(root / "data" / split / "utt2spk")) for split in SPLITS}
    assert sizes == {"train": 24, "dev": 6, "test": 6}


def test_audio_is_16khz_mono_16bit_nonsilent_with_durations_as_in_utt2dur(corpus):
    root, _ = corpus
    for split in SPLITS:
        durations = {u: float(d) for u, d in read_table(root / "data" / split / "utt2dur")}
        for uttid, path in read_table(root / "data" / split / "wav.scp"):
            assert os.path.isabs(path) and path.startswith(str(root / "downloads" / "synth" / "digits" / split))
            info = soundfile.info(path)
            assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
            x, _ = soundfile.read(path)
            assert 0.4 < len(x) / 16000 < 4.0
            assert abs(durations[uttid] - len(x) / 16000) < 1e-4
            assert np.sqrt(np.mean(x ** 2)) > 0.02  # speech, not silence
            assert np.max(np.abs(x)) <= 1.0


def test_text_starts_with_the_language_token_of_utt2lang(corpus):
    root, _ = corpus
    for split in SPLITS:
        langs = dict(read_table(root / "data" / split / "utt2lang"))
        for uttid, text in read_table(root / "data" / split / "text"):
            token, *words = text.split()
            assert token == f"<{langs[uttid]}>" and token in ("<en>", "<it>")
            assert words and all(w.isalpha() and w.islower() for w in words)


def test_ids_are_sorted_and_speakers_consistent(corpus):
    root, _ = corpus
    for split in SPLITS:
        d = root / "data" / split
        utt2spk = read_table(d / "utt2spk")
        ids = [u for u, _ in utt2spk]
        assert ids == sorted(ids, key=str.encode) and len(set(ids)) == len(ids)
        for name in ("wav.scp", "text", "utt2lang", "utt2dur"):
            assert [u for u, _ in read_table(d / name)] == ids
        assert all(u.startswith(s + "-") for u, s in utt2spk)
        spk2utt = {s: us.split() for s, us in read_table(d / "spk2utt")}
        assert spk2utt == {s: [u for u, s2 in utt2spk if s2 == s] for s in {s for _, s in utt2spk}}


def test_dev_and_test_speakers_are_unseen_in_training(corpus):
    root, _ = corpus
    speakers = {split: {s for _, s in read_table(root / "data" / split / "utt2spk")} for split in SPLITS}
    variants = {split: {s.split("-", 1)[1] for s in speakers[split]} for split in SPLITS}
    assert not variants["test"] & variants["train"] and not variants["dev"] & variants["train"]
    assert variants["test"] == {"m3", "f4"}
    texts = {split: {t for _, t in read_table(root / "data" / split / "text")} for split in SPLITS}
    assert not texts["test"] & texts["train"]


def test_data_sh_reports_its_synthesis_rate(corpus):
    _, proc = corpus
    assert "synthesized 36 utterances in" in proc.stderr and "utt/s with nj=2" in proc.stderr


def test_rerun_with_the_same_options_skips_finished_work(corpus):
    root, _ = corpus
    before = {p: os.stat(p).st_mtime_ns for p in (root / "data" / "train").iterdir()}
    proc = run_data_sh(root, *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "already prepared (digits); nothing to do" in proc.stderr
    assert {p: os.stat(p).st_mtime_ns for p in (root / "data" / "train").iterdir()} == before


def test_same_seed_gives_identical_corpus_regardless_of_nj(corpus, tmp_path):
    root, _ = corpus
    proc = run_data_sh(tmp_path, *TINY, "--nj", "1")
    assert proc.returncode == 0, proc.stderr
    for split in SPLITS:
        for name in ("text", "utt2spk", "spk2utt", "utt2lang", "utt2dur"):
            assert (tmp_path / "data" / split / name).read_text() == (root / "data" / split / name).read_text()
        ours = read_table(tmp_path / "data" / split / "wav.scp")
        theirs = read_table(root / "data" / split / "wav.scp")
        assert [file_digest(p) for _, p in ours] == [file_digest(p) for _, p in theirs]


def test_another_seed_gives_another_corpus(tmp_path):
    proc = run_data_sh(tmp_path, "--num_train", "6", "--num_dev", "2", "--num_test", "2", "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    other = run_data_sh(tmp_path, "--num_train", "6", "--num_dev", "2", "--num_test", "2", "--seed", "8",
                        "--data_dir", "data8")
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "data" / "train" / "text").read_text() != (tmp_path / "data8" / "train" / "text").read_text()


def test_interrupted_run_is_redone_not_taken_as_done(tmp_path):
    args = ["--num_train", "6", "--num_dev", "2", "--num_test", "2"]
    assert run_data_sh(tmp_path, *args).returncode == 0
    # Simulate a run killed while swapping in data/dev (a data dir is built aside and swapped in whole,
    # so the dir is either complete or not there), after some wavs were lost.
    dev = tmp_path / "data" / "dev"
    lost = read_table(dev / "wav.scp")[0][1]
    shutil.rmtree(dev)
    os.remove(lost)
    proc = run_data_sh(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    assert "synthesizing 1 of 10 utterances (9 already made)" in proc.stderr
    assert (dev / ".done").is_file() and os.path.isfile(lost)
    assert all(line.split()[1] in ("<en>", "<it>") for line in (dev / "text").read_text().splitlines())


def test_a_deleted_wav_under_a_finished_corpus_is_made_again(tmp_path):
    args = ["--num_train", "4", "--num_dev", "2", "--num_test", "2"]
    assert run_data_sh(tmp_path, *args).returncode == 0
    lost = read_table(tmp_path / "data" / "train" / "wav.scp")[0][1]
    os.remove(lost)
    proc = run_data_sh(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    assert "preparing them again" in proc.stderr and os.path.isfile(lost)


def test_help_lists_the_options():
    proc = subprocess.run(["/bin/bash", DATA_SH, "--help"], capture_output=True, text=True,
                          env={**os.environ, "PATH": os.path.dirname(sys.executable) + ":" + os.environ["PATH"]})
    assert proc.returncode == 0
    for option in ("--corpus", "--seed", "--nj", "--num_train", "--num_dev", "--num_test", "--data_dir",
                   "--audio_dir", "--train_variants", "--dev_variants", "--test_variants", "--num_adapt",
                   "--num_adapt_dev", "--overwrite"):
        assert option in proc.stdout
    assert "digits, sentences, librispeech" in " ".join(proc.stdout.split())  # the catalog's entries


def test_dashed_and_underscored_option_names_are_the_same(tmp_path):
    proc = run_data_sh(tmp_path, "--num-train", "2", "--num_dev", "2", "--num-test", "2", "--data-dir", "d")
    assert proc.returncode == 0, proc.stderr
    assert len(read_table(tmp_path / "d" / "train" / "utt2spk")) == 2


# ------------------------------------------------------------------ bad input


def _fake_bin(tmp_path, tools):
    """A PATH dir with python3 (this interpreter) and only ``tools`` from the system."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bindir / "python3").chmod(0o755)
    for tool in tools:
        os.symlink(f"/usr/bin/{tool}", bindir / tool)
    return str(bindir)


def test_missing_espeak_ng_names_the_tool_and_package(tmp_path):
    proc = run_data_sh(tmp_path, *TINY, path=_fake_bin(tmp_path, ["sox"]))
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        "local/data.sh: ERROR: espeak-ng not found on PATH; install it with: apt-get install espeak-ng")
    assert not (tmp_path / "data").exists()


def test_missing_sox_names_the_tool_and_package(tmp_path):
    proc = run_data_sh(tmp_path, *TINY, path=_fake_bin(tmp_path, ["espeak-ng"]))
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        "local/data.sh: ERROR: sox not found on PATH; install it with: apt-get install sox")


def test_unknown_corpus_lists_the_allowed_values(tmp_path):
    proc = run_data_sh(tmp_path, "--corpus", "timit")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("local/data.sh: ERROR: unknown --corpus 'timit'; allowed: digits, sentences, "
                                          "librispeech, ")


def test_unknown_option_is_an_error(tmp_path):
    proc = run_data_sh(tmp_path, "--num_trian", "3")
    assert proc.returncode == 1
    assert "local/data.sh: error: unrecognized arguments: --num_trian 3" in proc.stderr


def test_bad_values_are_rejected(tmp_path):
    proc = run_data_sh(tmp_path, "--nj", "0")
    assert (proc.returncode, proc.stderr.strip()) == (1, "local/data.sh: ERROR: --nj must be at least 1, got 0")
    proc = run_data_sh(tmp_path, "--overwrite", "yes")
    assert proc.returncode == 1
    assert "argument --overwrite: expected true or false, got 'yes'" in proc.stderr


def test_test_variants_seen_in_training_are_rejected(tmp_path):
    proc = run_data_sh(tmp_path, *TINY, "--test_variants", "m3 m1")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("local/data.sh: ERROR: test voice variants must be unseen in training, but m1 "
                                   "is in both --train_variants and --test_variants")


def test_unknown_variant_and_voice_are_rejected(tmp_path):
    proc = run_data_sh(tmp_path, *TINY, "--dev_variants", "m6 zz9")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("local/data.sh: ERROR: unknown espeak-ng voice variant 'zz9' for dev; "
                                   "see `espeak-ng --voices=variant`")
    proc = run_data_sh(tmp_path, *TINY, "--it_voices", "it-xx")
    assert proc.stderr.strip() == ("local/data.sh: ERROR: unknown espeak-ng voice 'it-xx' for language 'it'; "
                                   "see `espeak-ng --voices=it`")


def test_existing_data_dirs_of_another_seed_are_not_overwritten(tmp_path):
    args = ["--num_train", "4", "--num_dev", "2", "--num_test", "2"]
    assert run_data_sh(tmp_path, *args, "--seed", "1").returncode == 0
    text_before = (tmp_path / "data" / "train" / "text").read_text()
    proc = run_data_sh(tmp_path, *args, "--seed", "2")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("local/data.sh: ERROR: data/train data/dev data/test hold a different corpus "
                                   "(seed: 1 -> 2); remove them or pass --overwrite true")
    assert (tmp_path / "data" / "train" / "text").read_text() == text_before
    proc = run_data_sh(tmp_path, *args, "--seed", "2", "--overwrite", "true")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "data" / "train" / "text").read_text() != text_before


def test_existing_data_dir_of_another_corpus_is_not_overwritten(tmp_path):
    args = ["--num_train", "2", "--num_dev", "2", "--num_test", "2"]
    assert run_data_sh(tmp_path, *args).returncode == 0
    proc = run_data_sh(tmp_path, *args, "--corpus", "sentences")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("local/data.sh: ERROR: data/train data/dev data/test hold a different corpus "
                                   "(corpus: 'digits' -> 'sentences'); remove them or pass --overwrite true")


def test_a_data_dir_not_made_by_data_sh_is_not_overwritten(tmp_path):
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "text").write_text("utt1 hello\n")
    proc = run_data_sh(tmp_path, *TINY)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("local/data.sh: ERROR: data/train exists and was not made by local/data.sh; "
                                   "remove it or pass --overwrite true")
    assert (tmp_path / "data" / "train" / "text").read_text() == "utt1 hello\n"


def test_sentences_corpus_has_longer_utterances(tmp_path):
    proc = run_data_sh(tmp_path, "--corpus", "sentences", "--num_train", "6", "--num_dev", "2", "--num_test", "2")
    assert proc.returncode == 0, proc.stderr
    durations = [float(d) for _, d in read_table(tmp_path / "data" / "train" / "utt2dur")]
    assert sum(durations) / len(durations) > 2.0
    assert "downloads/synth/sentences/train" in (tmp_path / "data" / "train" / "wav.scp").read_text()


def test_adaptation_sets_are_added_beside_a_finished_corpus_without_touching_it(tmp_path):
    args = ["--num_train", "4", "--num_dev", "2", "--num_test", "4"]
    assert run_data_sh(tmp_path, *args).returncode == 0
    data = tmp_path / "data"
    before = {p: os.stat(p).st_mtime_ns for split in SPLITS for p in (data / split).iterdir()}
    adapt = ["--num_adapt", "8", "--num_adapt_dev", "4"]
    proc = run_data_sh(tmp_path, *args, *adapt)
    assert proc.returncode == 0, proc.stderr
    assert "data/train, data/dev, data/test already prepared (digits); nothing to do" in proc.stderr
    assert "wrote data/adapt: adapt: 8 utterances (en 4, it 4)" in proc.stderr
    assert "wrote data/adapt_dev: adapt_dev: 4 utterances (en 2, it 2)" in proc.stderr
    assert {p: os.stat(p).st_mtime_ns for split in SPLITS for p in (data / split).iterdir()} == before
    assert (data / "test_sets").read_text().split() == ["test"]
    speakers = {s: {spk for _, spk in read_table(data / s / "utt2spk")} for s in ("test", "adapt", "adapt_dev")}
    assert speakers["adapt"] <= {f"{v.replace('-', '')}-{var}" for v in ("en-us", "en-gb", "en-gb-scotland", "it")
                                 for var in ("m3", "f4")}
    assert speakers["test"] <= speakers["adapt"]  # the test speakers are the ones adapted to
    texts = {s: {t for _, t in read_table(data / s / "text")} for s in ("dev", "test", "adapt", "adapt_dev")}
    assert not texts["adapt"] & (texts["dev"] | texts["test"])
    assert not texts["adapt_dev"] & (texts["dev"] | texts["test"] | texts["adapt"])
    for split in ("adapt", "adapt_dev"):
        for _, wav in read_table(data / split / "wav.scp"):
            assert soundfile.info(wav).samplerate == 16000
    # A rerun does nothing; another size is refused (naming what changed) unless --overwrite true.
    proc = run_data_sh(tmp_path, *args, *adapt)
    assert "data/adapt, data/adapt_dev already prepared (digits); nothing to do" in proc.stderr
    text_before = (data / "adapt" / "text").read_text()
    proc = run_data_sh(tmp_path, *args, "--num_adapt", "6", "--num_adapt_dev", "4")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("local/data.sh: ERROR: data/adapt data/adapt_dev hold a different corpus "
                                   "(num_adapt: 8 -> 6); remove them or pass --overwrite true")
    assert (data / "adapt" / "text").read_text() == text_before


def test_bad_adaptation_set_sizes_are_rejected(tmp_path):
    proc = run_data_sh(tmp_path, *TINY, "--num_adapt", "-1")
    assert (proc.returncode, proc.stderr.strip()) == (
        1, "local/data.sh: ERROR: --num_adapt must be at least 0 (0: no such set), got -1")
    proc = run_data_sh(tmp_path, *TINY, "--num_adapt_dev", "4")
    assert (proc.returncode, proc.stderr.strip()) == (
        1, "local/data.sh: ERROR: --num_adapt_dev 4 needs --num_adapt (the adaptation set it is the dev set of); "
           "got --num_adapt 0")
    assert not (tmp_path / "data").exists()
