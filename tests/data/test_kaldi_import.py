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


# ---------------------------------------------------------------- refused as a whole: nothing written
THREE = {"s-1": ("s", "one"), "s-2": ("s", "two"), "s-3": ("s", "three")}


def tree(d: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``d`` with its content and modification time (what a refused run must not touch)."""
    return {str(p.relative_to(d)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.rglob("*")) if p.is_file()}


def kaldi_with_lang(tmp_path: Path) -> Path:
    src = tmp_path / "train_en"
    make_kaldi_dir(src, THREE, tmp_path / "audio", with_lang="en")
    (src / "utt2dur").write_text("s-1 0.5\ns-2 0.5\ns-3 0.5\n")
    return src


#: file -> the line appended to it that repeats an id of line 1 (or 2)
REPEATS = {"wav.scp": ("s-1 {audio}/s-2.wav", 1), "text": ("s-2 another transcript", 2),
           "utt2spk": ("s-3 t", 3), "utt2lang": ("s-1 it", 1), "utt2dur": ("s-2 0.7", 2)}


def test_a_duplicate_id_in_any_file_refuses_the_import_naming_both_lines(tmp_path, data_sh):
    src = kaldi_with_lang(tmp_path)
    for name, (line, first) in REPEATS.items():
        f = src / name
        before = f.read_text()
        f.write_text(before + line.format(audio=tmp_path / "audio") + "\n")
        res = data_sh("--corpus", f"kaldi:{src}")
        assert (res.returncode, res.stderr) == (
            1, f"local/data.sh: ERROR: {f}:4: duplicate key '{line.split()[0]}' (first at {f}:{first})\n"), name
        assert not (tmp_path / "data").exists(), name
        f.write_text(before)


def test_duplicates_in_wav_scp_and_text_are_both_named_in_one_run(tmp_path, data_sh):
    src = kaldi_with_lang(tmp_path)
    with open(src / "wav.scp", "a") as f:
        f.write(f"s-1 {tmp_path}/audio/s-3.wav\n")
    (src / "text").write_text("s-1 one\ns-1 uno\ns-2 two\ns-3 three\ns-3 tre\n")
    res = data_sh("--corpus", f"kaldi:{src}")
    assert res.returncode == 1
    assert res.stderr == (
        f"local/data.sh: ERROR: {src}/wav.scp:4: duplicate key 's-1' (first at {src}/wav.scp:1)\n"
        f"local/data.sh: ERROR: {src}/text:2: duplicate key 's-1' (first at {src}/text:1) "
        "(and 1 more problem(s) in this file)\n")
    assert not (tmp_path / "data").exists()


def test_a_duplicate_segment_id_refuses_the_import(tmp_path, data_sh):
    rep = replicas.kaldi_segmented(tmp_path / "k")
    seg = rep["dir"] / "segments"
    with open(seg, "a") as f:
        f.write("spk1-a2 recB 0.1 0.2\n")
    res = data_sh("--corpus", f"kaldi:{rep['dir']}:en")
    assert (res.returncode, res.stderr) == (
        1, f"local/data.sh: ERROR: {seg}:7: duplicate key 'spk1-a2' (first at {seg}:2)\n")
    assert not (tmp_path / "data").exists()
    assert not rep["counter"].exists()  # refused before any recording was read


def test_a_refused_import_leaves_the_finished_one_untouched(tmp_path, data_sh):
    src = kaldi_with_lang(tmp_path)
    other = tmp_path / "k" / "test_it"
    make_kaldi_dir(other, {"t-1": ("t", "ciao")}, tmp_path / "audio_it", with_lang="it")
    specs = ("--corpus", f"kaldi:{src}", "--corpus", f"kaldi:{other}")
    assert data_sh(*specs).returncode == 0
    data = tmp_path / "data"
    finished = tree(data)
    assert read_kv(data / "train" / "text")["s-2"] == "<en> two"
    # the second dir is fine, the first one now has a repeated id: nothing is rewritten, not even the fine one
    (src / "text").write_text("s-1 one\ns-2 two\ns-2 deux\ns-3 three\n")
    (other / "text").write_text("t-1 ciao ciao\n")
    res = data_sh(*specs)
    assert (res.returncode, res.stderr) == (
        1, f"local/data.sh: ERROR: {src}/text:3: duplicate key 's-2' (first at {src}/text:2)\n")
    assert tree(data) == finished
    # a non-UTF-8 line is refused the same way
    (src / "text").write_bytes(b"s-1 one\ns-2 deux \xe9t\xe9\ns-3 three\n")
    res = data_sh(*specs)
    assert res.returncode == 1
    assert res.stderr == (
        f"local/data.sh: ERROR: {src}/text:2: not valid UTF-8 (byte 0xe9 at column 10, file offset 17); convert the "
        f"file to UTF-8: iconv -f <its encoding, e.g. ISO-8859-1> -t UTF-8 {src}/text > {src}/text.utf8, then move it "
        f"in place (file -i {src}/text guesses the encoding)\n")
    assert "Traceback" not in res.stdout + res.stderr
    assert tree(data) == finished


def test_non_utf8_utt2spk_is_refused_before_anything_is_written(tmp_path, data_sh):
    src = kaldi_with_lang(tmp_path)
    (src / "utt2spk").write_bytes(b"s-1 s\ns-2 s\ns-3 Jos\xc3\n")
    res = data_sh("--corpus", f"kaldi:{src}")
    assert res.returncode == 1
    assert res.stderr.startswith(f"local/data.sh: ERROR: {src}/utt2spk:3: not valid UTF-8 "
                                 "(byte 0xc3 at column 8, file offset 19); convert the file to UTF-8: iconv -f ")
    assert len(res.stderr.splitlines()) == 1 and not (tmp_path / "data").exists()


# ---------------------------------------------------------------- single utterances excluded, the rest kept
def test_utterances_without_a_path_or_a_speaker_are_excluded_with_the_line(tmp_path, data_sh):
    src = kaldi_with_lang(tmp_path)
    (src / "wav.scp").write_text(f"s-1 {tmp_path}/audio/s-1.wav\ns-2\ns-3 {tmp_path}/audio/s-3.wav\n")
    (src / "utt2spk").write_text("s-1 s\ns-2 s\n")
    res = data_sh("--corpus", f"kaldi:{src}")
    assert res.returncode == 0, res.stderr
    part = tmp_path / "data" / "local" / "kaldi_train_en"
    assert (part / "excluded.txt").read_text() == (
        f"s-2\twav.scp entry missing (the line has the id only)\t{src}/wav.scp:2\n"
        f"s-3\tmissing from utt2spk (it lists other utterances only)\t{src}/text:3\n")
    assert list(read_kv(tmp_path / "data" / "train" / "text")) == ["s-1"]


def test_failing_pipe_commands_are_excluded_at_import_and_working_ones_kept(tmp_path, data_sh):
    src = tmp_path / "train_pipes"
    audio = tmp_path / "audio"
    utts = {f"s-{i}": ("s", f"word {i}") for i in range(1, 8)}
    make_kaldi_dir(src, utts, audio, with_lang="en")
    runs = tmp_path / "runs"
    pipes = {
        "s-2": f"{{ echo s-2 >> {runs}; sox {audio}/s-2.wav -t wav -; }} |",   # works
        "s-3": f"{{ echo s-3 >> {runs}; sox {audio}/missing.wav -t wav -; }} |",
        "s-4": "false |",
        "s-5": "true |",                                                      # exit 0, no audio
        "s-6": "echo not audio |",                                            # exit 0, not audio
        "s-7": "kill -9 $$ |",
    }
    (src / "wav.scp").write_text("".join(f"{u} {pipes.get(u, f'{audio}/{u}.wav')}\n" for u in sorted(utts)))
    res = data_sh("--corpus", f"kaldi:{src}", "--nj", "2")
    assert res.returncode == 0, res.stderr
    part, train = tmp_path / "data" / "local" / "kaldi_train_pipes", tmp_path / "data" / "train"
    rows = [line.split("\t") for line in (part / "excluded.txt").read_text().splitlines()]
    assert [r[0] for r in rows] == ["s-3", "s-4", "s-5", "s-6", "s-7"]
    assert rows[0] == ["s-3", "recording command failed (exit 2: sox FAIL formats: can't open input file "
                       f"`{audio}/missing.wav': No such file or directory): {pipes['s-3']}", f"{src}/text:3"]
    assert rows[1] == ["s-4", "recording command failed (exit 1): false |", f"{src}/text:4"]
    assert rows[2] == ["s-5", "recording command failed (exit 0 but nothing on stdout): true |", f"{src}/text:5"]
    assert rows[3][1].startswith("recording command failed (exit 0 but its output is not audio: ")
    assert rows[3][1].endswith("): echo not audio |")
    assert rows[4] == ["s-7", "recording command failed (killed by signal 9): kill -9 $$ |", f"{src}/text:7"]
    # the working pipe is kept as it is, measured from the audio it wrote; every command ran once
    assert dict(read_kv(train / "wav.scp")) == {"s-1": f"{audio}/s-1.wav", "s-2": pipes["s-2"]}
    assert dict(read_kv(train / "utt2dur")) == {"s-1": "0.500", "s-2": "0.500"}
    assert sorted(runs.read_text().split()) == ["s-2", "s-3"]
    assert (f"2 utterances, 1.0 s; 5 excluded (5 recording command failed), listed in {part}/excluded.txt"
            in res.stdout)
    assert validate(train) == []
