"""--corpus kaldi:<dir>[:<lang>]: any existing Kaldi data dir joins the recipe's sets."""

from __future__ import annotations

from pathlib import Path

from espnet_warmup.recipe.datadir import read_kv, validate
from tests.data import corpora_replicas as replicas


def make_kaldi_dir(d: Path, utts: dict[str, tuple[str, str]], audio_root: Path, with_lang: str = "") -> None:
    d.mkdir(parents=True)
    wav, text, utt2spk = [], [], []
    for i, (utt, (spk, words)) in enumerate(sorted(utts.items())):
        path = audio_root / f"{utt}.wav"
        replicas.write_audio(path, 0.5, seed=i)
        wav.append(f"{utt} {path}")
        text.append(f"{utt} {words}")
        utt2spk.append(f"{utt} {spk}")
    (d / "wav.scp").write_text("\n".join(wav) + "\n")
    (d / "text").write_text("\n".join(text) + "\n")
    (d / "utt2spk").write_text("\n".join(utt2spk) + "\n")
    if with_lang:
        (d / "utt2lang").write_text("".join(f"{u} {with_lang}\n" for u in sorted(utts)))


def test_kaldi_dirs_join_train_and_test_sets_by_their_names(tmp_path, data_sh):
    audio = tmp_path / "audio"
    make_kaldi_dir(tmp_path / "k" / "train_it", {"spkA-u1": ("spkA", "CIAO, Mondo!"), "spkA-u2": ("spkA", "<it> va bene")},
                   audio)
    make_kaldi_dir(tmp_path / "k" / "test_it", {"spkB-u3": ("spkB", "arrivederci")}, audio, with_lang="it")
    ls = replicas.librispeech(tmp_path / "ls")
    res = data_sh("--corpus", f"kaldi:{tmp_path}/k/train_it:it", "--corpus", f"kaldi:{tmp_path}/k/test_it",
                  "--corpus", "librispeech", LIBRISPEECH=tmp_path / "ls")
    assert res.returncode == 0, res.stderr
    data = tmp_path / "data"
    train_text = read_kv(data / "train" / "text")
    assert train_text["spkA-u1"] == "<it> ciao mondo"
    assert train_text["spkA-u2"] == "<it> va bene"  # an existing tag is kept, not doubled
    assert set(train_text) == {"spkA-u1", "spkA-u2", *ls["train"]}
    assert dict(read_kv(data / "test_kaldi_test_it" / "text")) == {"spkB-u3": "<it> arrivederci"}
    assert read_kv(data / "test_kaldi_test_it" / "utt2dur")["spkB-u3"] == "0.500"
    for name in ("train", "dev", "test_kaldi_test_it", "test_librispeech_en_test_clean"):
        assert validate(data / name) == [], name
    # the test sets, in --corpus order, for asr.sh --test_sets auto
    assert (data / "test_sets").read_text() == "test_kaldi_test_it test_librispeech_en_test_clean\n"


def test_kaldi_dir_without_language_excludes_its_utterances_with_the_reason(tmp_path, data_sh):
    make_kaldi_dir(tmp_path / "train_x", {"s-1": ("s", "hello")}, tmp_path / "audio")
    res = data_sh("--corpus", f"kaldi:{tmp_path}/train_x")
    assert res.returncode == 0, res.stderr
    rows = (tmp_path / "data" / "local" / "kaldi_train_x" / "excluded.txt").read_text().splitlines()
    assert rows == [f"s-1\tno language (no <xx> tag, no utt2lang entry, no kaldi:<dir>:<lang>)\t{tmp_path}/train_x/text:1"]


def test_an_edited_kaldi_dir_is_imported_again_on_a_rerun(tmp_path, data_sh):
    src = tmp_path / "train_en"
    make_kaldi_dir(src, {"s-1": ("s", "helo"), "s-2": ("s", "world")}, tmp_path / "audio", with_lang="en")
    assert data_sh("--corpus", f"kaldi:{src}").returncode == 0
    part = tmp_path / "data" / "local" / "kaldi_train_en"
    assert read_kv(part / "text")["s-1"] == "<en> helo"
    done = (part / ".done").stat().st_mtime_ns
    # an unchanged dir is not read again ...
    assert data_sh("--corpus", f"kaldi:{src}").returncode == 0
    assert (part / ".done").stat().st_mtime_ns == done
    # ... but a fixed transcript is taken, in the part and in the combined set
    (src / "text").write_text("s-1 hello\ns-2 world\n")
    res = data_sh("--corpus", f"kaldi:{src}")
    assert res.returncode == 0, res.stderr
    assert read_kv(part / "text")["s-1"] == "<en> hello"
    assert read_kv(tmp_path / "data" / "train" / "text")["s-1"] == "<en> hello"


def test_a_directory_that_is_not_a_kaldi_dir_fails_fast(tmp_path, data_sh):
    (tmp_path / "train_y").mkdir()
    res = data_sh("--corpus", f"kaldi:{tmp_path}/train_y:en")
    assert res.returncode == 1
    assert res.stderr == (f"local/data.sh: ERROR: kaldi:{tmp_path}/train_y: {tmp_path}/train_y is not a Kaldi data dir "
                          "(needs wav.scp and text; optional utt2spk, utt2lang, utt2dur, segments).\n")


def test_duplicate_ids_across_corpora_are_excluded_when_combining(tmp_path, data_sh):
    audio = tmp_path / "audio"
    make_kaldi_dir(tmp_path / "a" / "train_a", {"s-1": ("s", "one"), "s-2": ("s", "two")}, audio / "a", with_lang="en")
    make_kaldi_dir(tmp_path / "b" / "train_b", {"s-1": ("s", "uno")}, audio / "b", with_lang="it")
    res = data_sh("--corpus", f"kaldi:{tmp_path}/a/train_a", "--corpus", f"kaldi:{tmp_path}/b/train_b")
    assert res.returncode == 0, res.stderr
    train = tmp_path / "data" / "train"
    assert dict(read_kv(train / "text")) == {"s-1": "<en> one", "s-2": "<en> two"}
    assert (train / "excluded.txt").read_text() == (
        f"s-1\tduplicate utterance id (first at {tmp_path}/a/train_a/text:1) when combining\t{tmp_path}/b/train_b/text:1\n")
    assert "1 excluded (1 duplicate utterance id)" in res.stdout
