"""Each corpus, as a miniature replica of its published layout, through local/data.sh.

The data dirs must be valid Kaldi dirs (checked with the engine's validator) with the
expected utterance ids, texts (language tag + normalised words), speakers, languages and
durations; training parts of several corpora/languages combine into data/train and
data/dev, while test splits stay separate sets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_warmup.recipe.datadir import read_kv, validate
from tests.data import corpora_replicas as replicas


def assert_sets(data: Path, expected: dict) -> None:
    for name, utts in expected.items():
        d = data / name
        assert validate(d) == [], name
        assert dict(read_kv(d / "text")) == {u: t for u, (t, _, _) in utts.items()}, name
        assert dict(read_kv(d / "utt2spk")) == {u: s for u, (_, s, _) in utts.items()}, name
        assert dict(read_kv(d / "utt2lang")) == {u: t.split()[0][1:-1] for u, (t, _, _) in utts.items()}, name
        durs = {u: float(v) for u, v in read_kv(d / "utt2dur").items()}
        assert durs == pytest.approx({u: dur for u, (_, _, dur) in utts.items()}, abs=2e-3), name
        for utt, path in read_kv(d / "wav.scp").items():
            assert Path(path).is_file(), (utt, path)
        assert (d / "excluded.txt").read_text() == "", name


@pytest.mark.parametrize(
    "corpus, var, build",
    [
        ("librispeech", "LIBRISPEECH", replicas.librispeech),
        ("mls_it", "MLS", lambda root: replicas.mls(root, "it")),
        ("mls_en", "MLS", lambda root: replicas.mls(root, "en", opus=True)),
        ("commonvoice_en", "COMMONVOICE", lambda root: replicas.commonvoice(root, "en")),
        ("commonvoice_it", "COMMONVOICE", lambda root: replicas.commonvoice(root, "it")),
        ("fleurs_en", "FLEURS", lambda root: replicas.fleurs(root, "en")),
        ("fleurs_it", "FLEURS", lambda root: replicas.fleurs(root, "it")),
        ("voxpopuli_en", "VOXPOPULI", lambda root: replicas.voxpopuli(root, "en")),
        ("voxpopuli_it", "VOXPOPULI", lambda root: replicas.voxpopuli(root, "it")),
    ],
)
def test_published_layout_yields_valid_data_dirs(tmp_path, data_sh, corpus, var, build):
    root = tmp_path / "corpus"
    expected = build(root)
    res = data_sh("--corpus", corpus, "--nj", "2", **{var: root})
    assert res.returncode == 0, res.stderr
    assert_sets(tmp_path / "data", expected)
    test_sets = [n for n in expected if n.startswith("test_")]
    assert f"test sets: {' '.join(test_sets)}" in res.stdout


def test_two_corpora_two_languages_combine_into_one_training_set(tmp_path, data_sh):
    ls = replicas.librispeech(tmp_path / "ls")
    it = replicas.fleurs(tmp_path / "fleurs", "it")
    res = data_sh("--corpus", "librispeech", "--corpus", "fleurs_it", LIBRISPEECH=tmp_path / "ls",
                  FLEURS=tmp_path / "fleurs")
    assert res.returncode == 0, res.stderr
    data = tmp_path / "data"
    expected = {
        "train": {**ls["train"], **it["train"]},
        "dev": {**ls["dev"], **it["dev"]},
        "test_librispeech_en_test_clean": ls["test_librispeech_en_test_clean"],
        "test_fleurs_it_test": it["test_fleurs_it_test"],
    }
    assert_sets(data, expected)
    assert set(read_kv(data / "train" / "utt2lang").values()) == {"en", "it"}
    assert (data / "nlsyms.txt").read_text() == "<en>\n<it>\n"
    assert "data/train: 5 utterances" in res.stdout
    # The parts stay available (with their own excluded.txt) under data/local/.
    assert sorted(p.name for p in (data / "local").iterdir()) == [
        "fleurs_it_dev", "fleurs_it_test", "fleurs_it_train",
        "librispeech_en_dev_clean", "librispeech_en_test_clean", "librispeech_en_train_clean_100"]


def test_missing_standard_splits_are_named_and_the_rest_is_prepared(tmp_path, data_sh):
    replicas.librispeech(tmp_path / "ls")
    res = data_sh("--corpus", "librispeech", LIBRISPEECH=tmp_path / "ls")
    assert res.returncode == 0, res.stderr
    assert ("WARNING: librispeech_en: standard split(s) not found under "
            f"{tmp_path / 'ls' / 'LibriSpeech'}, skipped: train-clean-360 train-other-500 dev-other test-other") in res.stdout


def test_rerun_skips_finished_parts(tmp_path, data_sh):
    replicas.mls(tmp_path / "mls", "it")
    assert data_sh("--corpus", "mls_it", MLS=tmp_path / "mls").returncode == 0
    marker = tmp_path / "data" / "local" / "mls_it_train" / ".done"
    before = marker.stat().st_mtime_ns
    text_before = (tmp_path / "data" / "train" / "text").read_text()
    res = data_sh("--corpus", "mls_it", MLS=tmp_path / "mls")
    assert res.returncode == 0, res.stderr
    assert marker.stat().st_mtime_ns == before
    assert (tmp_path / "data" / "train" / "text").read_text() == text_before


def _print_test_sets(*args: str, **env: str) -> list[str]:
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "espnet_warmup.recipe.data.prepare", "--print_test_sets", *args],
        capture_output=True, text=True, check=True, env={**os.environ, **env},
    ).stdout.split()


def test_print_test_sets_lists_the_test_splits_on_disk(tmp_path):
    replicas.librispeech(tmp_path / "ls")  # test-clean only
    replicas.mls(tmp_path / "mls", "it")
    assert _print_test_sets("--corpus", "librispeech mls_it", LIBRISPEECH=str(tmp_path / "ls"),
                            MLS=str(tmp_path / "mls")) == ["test_librispeech_en_test_clean", "test_mls_it_test"]


def test_print_test_sets_falls_back_to_the_standard_splits_without_roots(tmp_path):
    out = _print_test_sets("--corpus", "librispeech mls_it", "--corpus", "kaldi:/x/test_clean:en",
                           "--corpus", "kaldi:/x/train_a", LIBRISPEECH=str(tmp_path / "none"))
    assert out == ["test_librispeech_en_test_clean", "test_librispeech_en_test_other", "test_mls_it_test",
                   "test_kaldi_test_clean"]
