"""Fault-battery cases of the data dirs and their audio: what the import (``--corpus kaldi:<dir>``)
and the validator must refuse as a whole, and what they must exclude utterance by utterance.

Refused (exit 1, nothing written into data/): a duplicate id in any file of a Kaldi dir (the
message names file:line of the first and of the repeat), a line that is not UTF-8 (file, line,
bytes, offset and the iconv fix), a dir that is not a Kaldi dir; in a recipe data dir, whatever
the validator asr.sh runs reports. Excluded (exit 0, listed in excluded.txt with the reason and
file:line): a missing or unreadable audio file, a failing ``cmd |`` entry or one that writes no
audio, an empty transcript, a wav.scp line without a path, an utterance missing from utt2spk,
a duplicate id across two corpora.

Each case runs what a user types, from a throw-away recipe dir made as the recipe tests make
theirs (run.sh, asr.sh, path.sh ... linked to this checkout): ``./run.sh --stage 1 --stop_stage 1
--corpus "kaldi:<train> kaldi:<dev> kaldi:<test>" --test_sets auto``, or the validator
``python3 -m espnet_warmup.recipe.datadir validate`` after ``. ./path.sh``. No training.
"""

from __future__ import annotations

from pathlib import Path

from bench.faults.base import Case, Command

ROOT = Path(__file__).resolve().parents[2]
LINKS = ("run.sh", "asr.sh", "path.sh", "cmd.sh", "db.sh", "utils", "local", "conf")
#: the utterances of each imported dir: id -> words (speaker = the part before "-")
UTTS = {"s-1": "one", "s-2": "two", "s-3": "three"}


def recipe_dir(path: Path) -> Path:
    """A recipe dir wired to this checkout (as tests/recipe/conftest.py's make_recipe_dir)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in LINKS:
        (path / name).symlink_to(ROOT / name)
    return path


def write_wav(path: Path, seconds: float = 0.5, rate: int = 16000) -> None:
    import numpy as np
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, subtype="PCM_16")


def kaldi_dir(d: Path, utts: dict[str, str] = UTTS, lang: str = "en") -> Path:
    """A Kaldi dir ``d`` (wav.scp text utt2spk utt2lang) with one 0.5 s wav per utterance."""
    d.mkdir(parents=True)
    for u in utts:
        write_wav(d / "audio" / f"{u}.wav")
    (d / "wav.scp").write_text("".join(f"{u} {d}/audio/{u}.wav\n" for u in utts))
    (d / "text").write_text("".join(f"{u} {w}\n" for u, w in utts.items()))
    (d / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in utts))
    (d / "utt2lang").write_text("".join(f"{u} {lang}\n" for u in utts))
    return d


def corpus(tmp: Path) -> tuple[Path, Path]:
    """(recipe dir, the train dir) of a train/dev/test corpus of Kaldi dirs under ``tmp``."""
    recipe = recipe_dir(tmp / "asr1")
    kaldi_dir(tmp / "k" / "train")
    kaldi_dir(tmp / "k" / "dev", {"d-1": "four", "d-2": "five"})
    kaldi_dir(tmp / "k" / "test", {"t-1": "six", "t-2": "seven"})
    return recipe, tmp / "k" / "train"


def stage1(tmp: Path) -> Command:
    """./run.sh stage 1 on the corpus under ``tmp`` (what a user types)."""
    spec = " ".join(f"kaldi:{tmp}/k/{name}" for name in ("train", "dev", "test"))
    return Command(["./run.sh", "--stage", "1", "--stop_stage", "1", "--corpus", spec, "--test_sets", "auto"],
                   cwd=tmp / "asr1", timeout=300)


def append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def nothing_written(tmp: Path, recipe: Path | None) -> None:
    data = tmp / "asr1" / "data"
    if data.exists() and any(data.iterdir()):
        raise AssertionError(f"a refused import wrote into {data}: {sorted(p.name for p in data.iterdir())}")


def excluded(utt: str, reason: str):
    """An ``after`` check: ``utt`` is listed in data/train/excluded.txt with a reason starting
    with ``reason``, and is not in data/train/text; the other utterances are."""

    def check(tmp: Path, recipe: Path | None) -> None:
        train = tmp / "asr1" / "data" / "train"
        rows = [ln.split("\t") for ln in (train / "excluded.txt").read_text().splitlines()]
        if not any(r[0] == utt and r[1].startswith(reason) for r in rows):
            raise AssertionError(f"{utt} not excluded with {reason!r}: {rows}")
        kept = [ln.split()[0] for ln in (train / "text").read_text().splitlines()]
        if utt in kept or not kept:
            raise AssertionError(f"data/train/text holds {kept}")

    return check


# ---------------------------------------------------------------- setups
def dup_in(*names: str):
    def setup(tmp: Path, recipe: Path | None) -> Command:
        _, d = corpus(tmp)
        for name in names:
            first = (d / name).read_text().splitlines()[0]
            append(d / name, first.split()[0] + (" " + str(d / "audio" / "s-2.wav") if name == "wav.scp" else " x"))
        return stage1(tmp)

    return setup


def dup_in_segments(tmp: Path, recipe: Path | None) -> Command:
    _, d = corpus(tmp)
    (d / "wav.scp").write_text(f"rec {d}/audio/s-1.wav\n")
    (d / "segments").write_text("s-1 rec 0 0.2\ns-2 rec 0.2 0.4\ns-3 rec 0.3 0.5\ns-2 rec 0.1 0.3\n")
    return stage1(tmp)


def non_utf8_text(tmp: Path, recipe: Path | None) -> Command:
    _, d = corpus(tmp)
    (d / "text").write_bytes(b"s-1 one\ns-2 caf\xe9\ns-3 three\n")
    return stage1(tmp)


def refused_after_finished(tmp: Path, recipe: Path | None) -> Command:
    import subprocess

    _, d = corpus(tmp)
    cmd = stage1(tmp)
    subprocess.run(cmd.argv, cwd=cmd.cwd, capture_output=True, timeout=cmd.timeout, check=True)
    (tmp / "before.txt").write_text((tmp / "asr1" / "data" / "train" / "text").read_text())
    append(d / "text", "s-3 tre")
    # redo the data prep (./run.sh skips a finished stage 1, see the report of issue 10)
    spec = cmd.argv[cmd.argv.index("--corpus") + 1]
    return Command(["local/data.sh", "--corpus", spec], cwd=cmd.cwd, timeout=cmd.timeout)


def finished_kept(tmp: Path, recipe: Path | None) -> None:
    now = (tmp / "asr1" / "data" / "train" / "text").read_text()
    if now != (tmp / "before.txt").read_text() or not (tmp / "asr1" / "data" / "train" / ".done").is_file():
        raise AssertionError("the refused import changed the finished data/train")


def not_a_kaldi_dir(tmp: Path, recipe: Path | None) -> Command:
    _, d = corpus(tmp)
    (d / "text").unlink()
    return stage1(tmp)


def missing_wav(tmp: Path, recipe: Path | None) -> Command:
    _, d = corpus(tmp)
    (d / "audio" / "s-2.wav").unlink()
    return stage1(tmp)


def pipe_entry(command: str):
    def setup(tmp: Path, recipe: Path | None) -> Command:
        _, d = corpus(tmp)
        lines = (d / "wav.scp").read_text().splitlines()
        lines[1] = f"s-2 {command}"
        (d / "wav.scp").write_text("\n".join(lines) + "\n")
        return stage1(tmp)

    return setup


def edit_line(name: str, number: int, line: str | None):
    """Replace (or, with None, drop) line ``number`` (1-based) of the train dir's ``name``."""

    def setup(tmp: Path, recipe: Path | None) -> Command:
        _, d = corpus(tmp)
        lines = (d / name).read_text().splitlines()
        if line is None:
            del lines[number - 1]
        else:
            lines[number - 1] = line
        (d / name).write_text("\n".join(lines) + "\n")
        return stage1(tmp)

    return setup


def dup_across_corpora(tmp: Path, recipe: Path | None) -> Command:
    corpus(tmp)
    kaldi_dir(tmp / "k" / "train_it", {"s-2": "due"}, lang="it")
    cmd = stage1(tmp)
    argv = list(cmd.argv)
    argv[argv.index("--corpus") + 1] += f" kaldi:{tmp}/k/train_it"
    return Command(argv, cwd=cmd.cwd, timeout=cmd.timeout)


def first_corpus_kept(tmp: Path, recipe: Path | None) -> None:
    train = tmp / "asr1" / "data" / "train"
    want = f"s-2\tduplicate utterance id (first at {tmp}/k/train/text:2) when combining\t{tmp}/k/train_it/text:1\n"
    if (train / "excluded.txt").read_text() != want or "s-2 <en> two\n" not in (train / "text").read_text():
        raise AssertionError("the second corpus's s-2 was not the one excluded")


def validate_in(recipe_edit):
    """The validator on data/train of the battery's finished recipe, after ``recipe_edit(train)``."""

    def setup(tmp: Path, recipe: Path | None) -> Command:
        assert recipe is not None
        train = recipe / "data" / "train"
        recipe_edit(train)
        return Command(["bash", "-c", ". ./path.sh && python3 -m espnet_warmup.recipe.datadir validate "
                        "--check-audio --fs 16000 data/train"], cwd=recipe)

    return setup


def latin1_line(train: Path) -> None:
    lines = (train / "text").read_bytes().splitlines()
    lines[1] += " perch\xe9".encode("latin-1")
    (train / "text").write_bytes(b"\n".join(lines) + b"\n")


def dup_line(train: Path) -> None:
    lines = (train / "wav.scp").read_text().splitlines()
    (train / "wav.scp").write_text("\n".join(lines[:2] + [lines[1]] + lines[2:]) + "\n")


def rate_8k(train: Path) -> None:
    first = (train / "wav.scp").read_text().split("\n", 1)[0]
    utt, path = first.split(maxsplit=1)
    new = train.parent / "wav8k" / f"{utt}.wav"
    write_wav(new, rate=8000)
    rest = (train / "wav.scp").read_text().split("\n", 1)[1]
    (train / "wav.scp").write_text(f"{utt} {new}\n{rest}")


def crlf(train: Path) -> None:
    (train / "utt2spk").write_bytes((train / "utt2spk").read_bytes().replace(b"\n", b"\r\n"))


def unsorted(train: Path) -> None:
    lines = (train / "text").read_text().splitlines()
    lines[0], lines[1] = lines[1], lines[0]
    (train / "text").write_text("\n".join(lines) + "\n")


def lost_audio(train: Path) -> None:
    first = (train / "wav.scp").read_text().split("\n", 1)[0]
    rest = (train / "wav.scp").read_text().split("\n", 1)[1]
    (train / "wav.scp").write_text(f"{first.split()[0]} {train.parent}/gone.wav\n{rest}")


A = "data dirs"
CASES: list[Case] = [
    Case("kaldi dir: duplicate id in wav.scp only", A, dup_in("wav.scp"), 1,
         r"ERROR: .*/train/wav\.scp:4: duplicate key 's-1' \(first at .*/train/wav\.scp:1\)$", after=nothing_written),
    Case("kaldi dir: duplicate id in text only", A, dup_in("text"), 1,
         r"ERROR: .*/train/text:4: duplicate key 's-1' \(first at .*/train/text:1\)$", after=nothing_written),
    Case("kaldi dir: duplicate id in wav.scp and text", A, dup_in("wav.scp", "text"), 1,
         r"ERROR: .*/train/wav\.scp:4: duplicate key 's-1' \(first at .*/train/wav\.scp:1\)$", after=nothing_written),
    Case("kaldi dir: duplicate id in utt2spk", A, dup_in("utt2spk"), 1,
         r"ERROR: .*/train/utt2spk:4: duplicate key 's-1' \(first at .*/train/utt2spk:1\)$", after=nothing_written),
    Case("kaldi dir: duplicate id in utt2lang", A, dup_in("utt2lang"), 1,
         r"ERROR: .*/train/utt2lang:4: duplicate key 's-1' \(first at .*/train/utt2lang:1\)$", after=nothing_written),
    Case("kaldi dir: duplicate id in segments", A, dup_in_segments, 1,
         r"ERROR: .*/train/segments:4: duplicate key 's-2' \(first at .*/train/segments:2\)$", after=nothing_written),
    Case("kaldi dir: text not UTF-8 (Latin-1)", A, non_utf8_text, 1,
         r"ERROR: .*/train/text:2: not valid UTF-8 \(byte 0xe9 at column 8, file offset 15\); "
         r"convert the file to UTF-8: iconv -f", after=nothing_written),
    Case("kaldi dir: duplicate added after a finished import", A, refused_after_finished, 1,
         r"ERROR: .*/train/text:4: duplicate key 's-3' \(first at .*/train/text:3\)$", after=finished_kept),
    Case("kaldi dir: no text file", A, not_a_kaldi_dir, 1, r"is not a Kaldi data dir \(needs wav\.scp and text",
         after=nothing_written),
    # exit 0, and no line reads as an error (the report says "1 excluded (1 empty transcript)"): `after` checks it
    Case("kaldi dir: empty transcript", A, edit_line("text", 2, "s-2"), 0, r"Successfully finished",
         after=excluded("s-2", "empty transcript")),
    Case("kaldi dir: wav.scp line without a path", A, edit_line("wav.scp", 2, "s-2"), 0,
         r"1 excluded \(1 wav\.scp entry missing\)",
         after=excluded("s-2", "wav.scp entry missing (the line has the id only)")),
    Case("kaldi dir: utt2spk lacks an utterance", A, edit_line("utt2spk", 2, None), 0,
         r"1 excluded \(1 missing from utt2spk\)", after=excluded("s-2", "missing from utt2spk")),
    Case("kaldi dir: utterance missing from text", A, edit_line("text", 2, None), 0, r"Successfully finished",
         after=excluded("s-2", "no transcript (missing from text)")),
    Case("kaldi dir: same id in two corpora", A, dup_across_corpora, 0,
         r"1 excluded \(1 duplicate utterance id\)", after=first_corpus_kept),
    Case("recipe data dir: text not UTF-8", A, validate_in(latin1_line), 1,
         r"^ERROR: data/train/text line 2: not valid UTF-8 \(byte 0xe9 at column \d+, file offset \d+\); "
         r"convert the file to UTF-8", needs_recipe=True),
    Case("recipe data dir: duplicate wav.scp line", A, validate_in(dup_line), 1,
         r"^ERROR: data/train/wav\.scp line 3: duplicate key '.+' \(first on line 2\)$", needs_recipe=True),
    Case("recipe data dir: DOS line endings", A, validate_in(crlf), 1,
         r"^ERROR: data/train/utt2spk line 1: carriage return", needs_recipe=True),
    Case("recipe data dir: text not sorted", A, validate_in(unsorted), 1,
         r"^ERROR: data/train/text line 2: not sorted: .* \(sort with LC_ALL=C sort\)$", needs_recipe=True),
]

B = "audio"
CASES += [
    Case("kaldi dir: missing wav file", B, missing_wav, 0, r"1 excluded \(1 audio file missing\)",
         after=excluded("s-2", "audio file missing")),
    Case("kaldi dir: failing pipe (sox on a missing file)", B, pipe_entry("sox /nonexistent/x.wav -t wav - |"), 0,
         r"1 excluded \(1 recording command failed\)",
         after=excluded("s-2", "recording command failed (exit 2: sox FAIL formats: can't open input file")),
    Case("kaldi dir: pipe 'false |'", B, pipe_entry("false |"), 0, r"1 excluded \(1 recording command failed\)",
         after=excluded("s-2", "recording command failed (exit 1)")),
    Case("kaldi dir: pipe exits 0 without audio", B, pipe_entry("true |"), 0,
         r"1 excluded \(1 recording command failed\)",
         after=excluded("s-2", "recording command failed (exit 0 but nothing on stdout)")),
    Case("kaldi dir: pipe writes text, not audio", B, pipe_entry("echo hello |"), 0,
         r"1 excluded \(1 recording command failed\)",
         after=excluded("s-2", "recording command failed (exit 0 but its output is not audio: ")),
    Case("recipe data dir: 8 kHz file where 16 kHz is required", B, validate_in(rate_8k), 1,
         r"^ERROR: data/train/wav\.scp line 1: .*/wav8k/.*\.wav has sample rate 8000, expected 16000$",
         needs_recipe=True),
    Case("recipe data dir: wav.scp names a missing file", B, validate_in(lost_audio), 1,
         r"^ERROR: data/train/wav\.scp line 1: audio file .*/gone\.wav does not exist$", needs_recipe=True),
]
