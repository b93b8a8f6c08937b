"""Bad input: each case gives a clear report, bad utterances are listed, the rest proceeds;
a wrong corpus root fails fast showing the expected layout."""

from __future__ import annotations

from pathlib import Path

from espnet_warmup.recipe.datadir import read_kv
from tests.data import corpora_replicas as replicas


def excluded(d: Path) -> list[list[str]]:
    return [line.split("\t") for line in (d / "excluded.txt").read_text().splitlines()]


def test_missing_and_unreadable_audio_are_excluded_and_listed(tmp_path, data_sh):
    root = tmp_path / "ls"
    replicas.librispeech(root)
    chapter = root / "LibriSpeech" / "train-clean-100" / "103" / "1240"
    missing = chapter / "103-1240-0000.flac"
    missing.unlink()
    broken = chapter / "103-1240-0001.flac"
    broken.write_bytes(b"this is not a flac file")
    res = data_sh("--corpus", "librispeech", "--nj", "2", LIBRISPEECH=root)
    assert res.returncode == 0, res.stderr
    part = tmp_path / "data" / "local" / "librispeech_en_train_clean_100"
    rows = excluded(part)
    assert [r[0] for r in rows] == ["librispeech_en-103-1240-0000", "librispeech_en-103-1240-0001"]
    assert rows[0][1] == f"audio file missing: {missing}"
    assert rows[0][2] == f"{chapter / '103-1240.trans.txt'}:1"
    assert rows[1][1].startswith("audio unreadable (") and rows[1][1].endswith(f"): {broken}")
    assert (f"librispeech_en train-clean-100 (train): 1 utterances, 0.4 s; 2 excluded "
            f"(1 audio file missing, 1 audio unreadable), listed in {part}/excluded.txt") in res.stdout
    train = tmp_path / "data" / "train"
    assert list(read_kv(train / "text")) == ["librispeech_en-1034-121119-0000"]
    assert [r[0] for r in excluded(train)] == [r[0] for r in rows]


def test_empty_and_duplicate_transcripts_are_excluded_and_listed(tmp_path, data_sh):
    root = tmp_path / "cv"
    replicas.commonvoice(root, "en")
    tsv = root / "cv-corpus-17.0-2024-03-15" / "en" / "train.tsv"
    lines = tsv.read_text().splitlines()
    header = lines[0].split("\t")
    first = lines[1].split("\t")
    empty = list(first)
    empty[header.index("sentence")] = ""
    only_punct = list(lines[2].split("\t"))
    only_punct[header.index("sentence")] = "?!"
    # rows: the first clip, the same clip again (duplicate id), then 2 bad transcripts
    tsv.write_text("\n".join([lines[0], lines[1], lines[1], "\t".join(only_punct)]) + "\n")
    dev_tsv = tsv.with_name("dev.tsv")
    dev_lines = dev_tsv.read_text().splitlines()
    dev_row = dev_lines[1].split("\t")
    dev_row[header.index("sentence")] = "   "
    dev_tsv.write_text("\n".join([dev_lines[0], "\t".join(dev_row)]) + "\n")
    res = data_sh("--corpus", "commonvoice_en", COMMONVOICE=root)
    assert res.returncode == 0, res.stderr
    rows = excluded(tmp_path / "data" / "local" / "commonvoice_en_train")
    spk0, spk1 = "commonvoice_en-00ababababababab", "commonvoice_en-01ababababababab"
    assert rows == [
        [f"{spk1}-common_voice_en_102", "empty transcript after normalisation ('?!')", f"{tsv}:4"],
        [f"{spk0}-common_voice_en_101", f"duplicate utterance id (first at {tsv}:2)", f"{tsv}:3"],
    ]
    assert excluded(tmp_path / "data" / "local" / "commonvoice_en_dev") == [
        [f"{spk0}-common_voice_en_103", "empty transcript", f"{dev_tsv}:2"]]
    assert "2 excluded (1 empty transcript after normalisation, 1 duplicate utterance id)" in res.stdout
    assert list(read_kv(tmp_path / "data" / "train" / "text")) == [f"{spk0}-common_voice_en_101"]
    # No dev utterance left: the set is written empty, and the report says so.
    dev = tmp_path / "data" / "dev"
    assert f"WARNING: {dev} has no utterances left; see {dev}/excluded.txt" in res.stdout
    assert (dev / "text").read_text() == ""


def test_non_utf8_transcript_is_excluded_with_the_byte_named(tmp_path, data_sh):
    root = tmp_path / "mls"
    replicas.mls(root, "it")
    transcripts = root / "mls_italian" / "train" / "transcripts.txt"
    lines = transcripts.read_bytes().splitlines()
    lines[1] = b"280_1001_000001\tperch\xe9 non vieni"  # Latin-1, not UTF-8
    transcripts.write_bytes(b"\n".join(lines) + b"\n")
    res = data_sh("--corpus", "mls_it", MLS=root)
    assert res.returncode == 0, res.stderr
    assert excluded(tmp_path / "data" / "local" / "mls_it_train") == [
        ["mls_it-280-1001_000001", "transcript is not valid UTF-8 (byte 0xe9 at column 22)", f"{transcripts}:2"]]
    assert "1 excluded (1 transcript is not valid UTF-8)" in res.stdout
    assert list(read_kv(tmp_path / "data" / "train" / "text")) == ["mls_it-1595-1234_000000"]


def test_nonexistent_root_fails_fast_with_the_expected_layout(tmp_path, data_sh):
    replicas.fleurs(tmp_path / "fleurs", "it")
    missing = tmp_path / "nowhere"
    res = data_sh("--corpus", "fleurs_it", "--corpus", "librispeech", FLEURS=tmp_path / "fleurs", LIBRISPEECH=missing)
    assert res.returncode == 1
    assert res.stderr.startswith(
        f"local/data.sh: ERROR: librispeech_en: corpus root LIBRISPEECH={missing} does not exist "
        "(set LIBRISPEECH in db.sh).\nExpected layout:\n"
        "  $LIBRISPEECH/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt\n")
    # Nothing was prepared, not even the corpus whose root is fine: the check comes first.
    assert not (tmp_path / "data").exists()


def test_wrong_root_fails_fast_with_the_expected_layout(tmp_path, data_sh):
    wrong = tmp_path / "wrong"
    (wrong / "mls_italian" / "oops").mkdir(parents=True)
    res = data_sh("--corpus", "voxpopuli_it", VOXPOPULI=wrong)
    assert res.returncode == 1
    assert res.stderr == (
        f"local/data.sh: ERROR: voxpopuli (it): no transcribed_data/it/ under {wrong}.\nExpected layout:\n"
        "  $VOXPOPULI/transcribed_data/<lang>/asr_train.tsv asr_dev.tsv asr_test.tsv\n"
        "      tab-separated, header: id raw_text normalized_text speaker_id split gender [...]\n"
        "  $VOXPOPULI/transcribed_data/<lang>/<year>/<id>.ogg      (<year> = first 4 characters of <id>)\n"
        "  <lang>: en | it   (the layout produced by voxpopuli/get_asr_data.py)\n")
    res = data_sh("--corpus", "mls_it", MLS=wrong)
    assert res.returncode == 1
    assert "mls (it): none of the standard splits (train, dev, test) found under" in res.stderr
    assert "$MLS/mls_<language>/<split>/transcripts.txt" in res.stderr


def test_tsv_without_the_expected_columns_is_a_layout_error(tmp_path, data_sh):
    root = tmp_path / "cv"
    replicas.commonvoice(root, "it")
    tsv = root / "cv-corpus-17.0-2024-03-15" / "it" / "train.tsv"
    tsv.write_text("client\tfile\ttext\nabc\tx.mp3\tciao\n")
    res = data_sh("--corpus", "commonvoice_it", COMMONVOICE=root)
    assert res.returncode == 1
    assert (f"local/data.sh: ERROR: commonvoice: {tsv} lacks the column(s) client_id, path, sentence "
            "(header: client file text).\nExpected layout:") in res.stderr


def test_unknown_corpus_names_the_allowed_values(tmp_path, data_sh):
    res = data_sh("--corpus", "tedlium")
    assert res.returncode == 1
    assert res.stderr == (
        "local/data.sh: ERROR: unknown --corpus 'tedlium'; allowed: digits, sentences, librispeech, librispeech_en, mls_en, mls_it, "
        "commonvoice_en, commonvoice_it, fleurs_en, fleurs_it, voxpopuli_en, voxpopuli_it, kaldi:<dir>[:<lang>]\n")
    res = data_sh()
    assert res.returncode == 1
    assert res.stderr.startswith("local/data.sh: ERROR: no --corpus given; allowed: digits, sentences, librispeech,")
