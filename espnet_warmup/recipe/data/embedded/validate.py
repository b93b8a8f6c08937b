"""Validate a Kaldi data directory, as Kaldi's utils/validate_data_dir.sh does, with precise messages.

Usage (a stable CLI; recipe stages call it)::

    python -m espnet_warmup.recipe.data.embedded.validate data/train [data/dev ...] [--no-wav] [--fs 16000]

Checks: wav.scp, text, utt2spk and spk2utt exist; every file is UTF-8, one ``key value`` per line,
sorted in C order (``LC_ALL=C sort``) with unique keys; wav.scp, text and utt2spk (and utt2lang,
utt2dur when present) cover the same utterances; spk2utt is what utt2spk implies and sorting by
speaker keeps the utterance order (Kaldi's utt/speaker sort consistency); no transcript is empty
(a language token such as ``<en>`` alone counts as empty); durations are positive numbers; each wav
file exists and is readable audio (at ``--fs`` Hz, if given). With a ``segments`` file, wav.scp is
keyed by recording and the other files by segment. Each problem names the file and line; the CLI
prints them and exits 1.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import soundfile

from espnet_warmup.recipe.wavscp import is_archive_entry, is_pipe_entry

REQUIRED = ("wav.scp", "text", "utt2spk", "spk2utt")
MAX_ERRORS_PER_FILE = 10
_SPECIAL_TOKEN = re.compile(r"^<[^<>\s]+>$")


class DataDirError(ValueError):
    """A data directory failed validation; ``errors`` holds one message per problem."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


class _Table:
    """A ``key value`` file as read: keys in file order, values, 1-based line numbers, problems found."""

    def __init__(self, path: str, errors: list[str]):
        self.path, self.keys, self.values, self.lines = path, [], {}, {}
        n_errors = len(errors)

        def error(msg: str) -> None:
            if len(errors) - n_errors < MAX_ERRORS_PER_FILE:
                errors.append(msg)

        try:
            with open(path, "rb") as f:
                raw_lines = f.read().split(b"\n")
        except OSError as e:
            error(f"{path}: cannot read: {e.strerror}")
            return
        if raw_lines and raw_lines[-1] == b"":
            raw_lines.pop()
        previous = None
        for number, raw in enumerate(raw_lines, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                error(f"{path} line {number}: not valid UTF-8")
                continue
            if "\r" in line:
                error(f"{path} line {number}: carriage return (\\r) in line (DOS line endings?)")
            elif line[:1].isspace():
                error(f"{path} line {number}: leading white space")
            fields = line.split(maxsplit=1)
            if not fields:
                error(f"{path} line {number}: empty line")
                continue
            key = fields[0]
            if key in self.values:
                error(f"{path} line {number}: duplicate key {key!r} (first on line {self.lines[key]})")
                continue
            if previous is not None and key.encode() < previous.encode():
                error(f"{path} line {number}: not sorted: {key!r} comes after {previous!r} "
                      "(sort with LC_ALL=C sort)")
            previous = key
            self.keys.append(key)
            self.values[key] = fields[1].strip() if len(fields) > 1 else ""
            self.lines[key] = number


def _compare_keys(reference: _Table, other: _Table, errors: list[str]) -> None:
    ref_name = os.path.basename(reference.path)
    extra = [k for k in other.keys if k not in reference.values]
    missing = [k for k in reference.keys if k not in other.values]
    for key in extra[:MAX_ERRORS_PER_FILE]:
        errors.append(f"{other.path} line {other.lines[key]}: utterance {key!r} is not in {ref_name}")
    for key in missing[:MAX_ERRORS_PER_FILE]:
        errors.append(f"{other.path}: no line for utterance {key!r} "
                      f"({ref_name} line {reference.lines[key]})")


def _check_speakers(utt2spk: _Table, spk2utt: _Table, errors: list[str]) -> None:
    implied: dict[str, list[str]] = {}
    for utt in utt2spk.keys:
        spk = utt2spk.values[utt]
        if not spk or len(spk.split()) != 1:
            errors.append(f"{utt2spk.path} line {utt2spk.lines[utt]}: expected '<uttid> <speaker>'")
            continue
        implied.setdefault(spk, []).append(utt)
    # Kaldi requires that sorting utt2spk by speaker keeps it sorted by utterance (speaker-prefixed ids).
    order = sorted(utt2spk.keys, key=lambda u: (utt2spk.values[u].encode(), u.encode()))
    for position, (by_spk, by_utt) in enumerate(zip(order, utt2spk.keys)):
        if by_spk != by_utt:
            errors.append(f"{utt2spk.path} line {position + 1}: sorting by speaker reorders utterances "
                          f"({by_utt!r} vs {by_spk!r}); utterance ids must start with their speaker id")
            break
    for spk in spk2utt.keys:
        listed = spk2utt.values[spk].split()
        if not listed:
            errors.append(f"{spk2utt.path} line {spk2utt.lines[spk]}: speaker {spk!r} has no utterances")
        elif listed != implied.get(spk, []):
            errors.append(f"{spk2utt.path} line {spk2utt.lines[spk]}: speaker {spk!r} does not list "
                          f"exactly its utterances of utt2spk in sorted order")
    for spk in implied:
        if spk not in spk2utt.values:
            errors.append(f"{spk2utt.path}: no line for speaker {spk!r} of utt2spk")


def _check_text(text: _Table, errors: list[str]) -> None:
    for utt in text.keys:
        words = [w for w in text.values[utt].split() if not _SPECIAL_TOKEN.match(w)]
        if not words:
            errors.append(f"{text.path} line {text.lines[utt]}: empty transcript for {utt!r}")
            if sum("empty transcript" in e for e in errors) >= MAX_ERRORS_PER_FILE:
                return


def _check_durations(utt2dur: _Table, errors: list[str]) -> None:
    for utt in utt2dur.keys:
        value = utt2dur.values[utt]
        try:
            ok = float(value) > 0
        except ValueError:
            ok = False
        if not ok:
            errors.append(f"{utt2dur.path} line {utt2dur.lines[utt]}: duration {value!r} of {utt!r} "
                          "is not a positive number")
            return


def _check_audio(wav_scp: _Table, fs: int | None, errors: list[str]) -> None:
    n_errors = len(errors)
    for key in wav_scp.keys:
        if len(errors) - n_errors >= MAX_ERRORS_PER_FILE:
            return
        value = wav_scp.values[key]
        where = f"{wav_scp.path} line {wav_scp.lines[key]}"
        if not value:
            errors.append(f"{where}: no audio path for {key!r}")
        elif is_pipe_entry(value):
            continue  # a command pipe: only running it would tell, as in Kaldi
        elif is_archive_entry(value):
            ark = value.rpartition(":")[0]
            if not os.path.isfile(ark):
                errors.append(f"{where}: archive {ark} of {key!r} does not exist")
        elif not os.path.isfile(value):
            errors.append(f"{where}: audio file {value} does not exist")
        else:
            try:
                info = soundfile.info(value)
            except (RuntimeError, OSError) as e:
                errors.append(f"{where}: {value} is not readable audio ({e})")
                continue
            if info.frames == 0:
                errors.append(f"{where}: {value} has no samples")
            elif fs is not None and info.samplerate != fs:
                errors.append(f"{where}: {value} has sample rate {info.samplerate}, expected {fs}")


def validate_data_dir(data_dir: str, check_wav: bool = True, fs: int | None = None) -> list[str]:
    """Problems found in the Kaldi data dir ``data_dir`` (empty list: valid)."""
    if not os.path.isdir(data_dir):
        return [f"{data_dir}: not a directory"]
    errors: list[str] = []
    missing = [name for name in REQUIRED if not os.path.isfile(os.path.join(data_dir, name))]
    if missing:
        return [f"{os.path.join(data_dir, name)}: missing (a Kaldi data dir needs {', '.join(REQUIRED)})"
                for name in missing]
    tables = {name: _Table(os.path.join(data_dir, name), errors)
              for name in (*REQUIRED, "utt2lang", "utt2dur", "segments")
              if os.path.isfile(os.path.join(data_dir, name))}
    utt2spk = tables["utt2spk"]
    if not utt2spk.keys and not errors:
        return [f"{utt2spk.path}: no utterances"]
    for name in ("text", "utt2lang", "utt2dur", "segments"):
        if name in tables:
            _compare_keys(utt2spk, tables[name], errors)
    if "segments" in tables:
        recordings = {v.split()[0] for v in tables["segments"].values.values() if v.split()}
        for rec in sorted(recordings - set(tables["wav.scp"].values)):
            errors.append(f"{tables['segments'].path}: recording {rec!r} is not in wav.scp")
    else:
        _compare_keys(utt2spk, tables["wav.scp"], errors)
    _check_speakers(utt2spk, tables["spk2utt"], errors)
    _check_text(tables["text"], errors)
    if "utt2dur" in tables:
        _check_durations(tables["utt2dur"], errors)
    if check_wav:
        _check_audio(tables["wav.scp"], fs, errors)
    return errors


def check_data_dir(data_dir: str, check_wav: bool = True, fs: int | None = None) -> None:
    """Raise DataDirError listing every problem of ``data_dir``."""
    errors = validate_data_dir(data_dir, check_wav=check_wav, fs=fs)
    if errors:
        raise DataDirError(errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.data.embedded.validate",
                                     description="Validate Kaldi data directories (exit 1 on a problem).")
    parser.add_argument("data_dirs", nargs="+", metavar="DATA_DIR")
    parser.add_argument("--no-wav", "--no_wav", dest="check_wav", action="store_false",
                        help="do not open the audio files of wav.scp")
    parser.add_argument("--fs", type=int, default=None, help="required sample rate of the audio (Hz)")
    args = parser.parse_args(argv)
    status = 0
    for data_dir in args.data_dirs:
        errors = validate_data_dir(data_dir, check_wav=args.check_wav, fs=args.fs)
        if errors:
            status = 1
            for error in errors:
                print(f"validate: {error}", file=sys.stderr)
            print(f"validate: {data_dir}: {len(errors)} problem(s) found", file=sys.stderr)
        else:
            n_utts = sum(1 for _ in open(os.path.join(data_dir, "utt2spk"), encoding="utf-8"))
            print(f"validate: {data_dir}: OK ({n_utts} utterances)", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
