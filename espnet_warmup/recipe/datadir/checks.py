"""The one data-dir validator (what Kaldi's utils/validate_data_dir.sh checks, with precise messages).

Rules, each problem naming the file and the line or utterances:
- the dir exists and holds wav.scp, utt2spk, spk2utt and (unless ``need_text`` is False) text;
- every file is UTF-8, one ``key value`` per line, no CR or leading white space, keys unique and
  sorted in C order (``LC_ALL=C sort``);
- text, utt2lang, utt2dur, utt2num_samples, utt2category (when present) and wav.scp cover exactly
  the utterances of utt2spk; with a ``segments`` file, wav.scp is keyed by recording instead and
  every recording of segments must be in it;
- wav.scp and utt2spk lines have a value; a speaker is one word; spk2utt lists exactly each
  speaker's utterances of utt2spk, in order, and sorting utt2spk by speaker keeps the utterance
  order (Kaldi's utt/speaker sort consistency: utterance ids start with their speaker);
- no transcript is empty (a language tag such as ``<en>`` alone counts as empty);
- durations are positive numbers;
- with ``check_audio``: each wav.scp file exists and is readable audio with samples (at ``fs`` Hz,
  if given); an archive entry's archive exists; a ``command |`` entry is not run (as in Kaldi).
At most :data:`MAX_PROBLEMS_PER_FILE` problems of one kind are listed per file.
"""

from __future__ import annotations

import os
from pathlib import Path

from espnet_warmup.recipe.datadir.kv import KvFile, is_empty_transcript, scan_kv, sort_key
from espnet_warmup.recipe.wavscp import is_archive_entry, is_pipe_entry

MAX_PROBLEMS_PER_FILE = 10
#: files compared with utt2spk, when present
PER_UTT_FILES = ("text", "utt2lang", "utt2dur", "utt2num_samples", "utt2category")


def _required(need_text: bool) -> tuple[str, ...]:
    return ("wav.scp", *(("text",) if need_text else ()), "utt2spk", "spk2utt")


def _compare_keys(reference: KvFile, other: KvFile) -> list[str]:
    ref_name = reference.path.name
    extra = [k for k in other.keys if k not in reference.values]
    missing = [k for k in reference.keys if k not in other.values]
    return ([f"{other.path} line {other.lines[k]}: utterance {k!r} is not in {ref_name}"
             for k in extra[:MAX_PROBLEMS_PER_FILE]]
            + [f"{other.path}: no line for utterance {k!r} ({ref_name} line {reference.lines[k]})"
               for k in missing[:MAX_PROBLEMS_PER_FILE]])


def _without_value(table: KvFile) -> list[str]:
    bad = [k for k, v in table.values.items() if not v]
    return [f"{table.path}: {len(bad)} line(s) without a value: " + " ".join(bad[:10])] if bad else []


def _check_speakers(utt2spk: KvFile, spk2utt: KvFile) -> list[str]:
    problems = []
    implied: dict[str, list[str]] = {}
    for utt, spk in utt2spk.values.items():
        if len(spk.split()) > 1:
            problems.append(f"{utt2spk.path} line {utt2spk.lines[utt]}: expected '<uttid> <speaker>'")
        elif spk:
            implied.setdefault(spk, []).append(utt)
    order = sorted(utt2spk.keys, key=lambda u: (sort_key(utt2spk.values[u]), sort_key(u)))
    for position, (by_spk, by_utt) in enumerate(zip(order, utt2spk.keys)):
        if by_spk != by_utt:
            problems.append(f"{utt2spk.path} line {position + 1}: sorting by speaker reorders utterances "
                            f"({by_utt!r} vs {by_spk!r}); utterance ids must start with their speaker id")
            break
    for spk in spk2utt.keys:
        listed = spk2utt.values[spk].split()
        if not listed:
            problems.append(f"{spk2utt.path} line {spk2utt.lines[spk]}: speaker {spk!r} has no utterances")
        elif listed != implied.get(spk, []):
            problems.append(f"{spk2utt.path} line {spk2utt.lines[spk]}: speaker {spk!r} does not list "
                            f"exactly its utterances of utt2spk in sorted order")
    problems += [f"{spk2utt.path}: no line for speaker {spk!r} of utt2spk" for spk in implied
                 if spk not in spk2utt.values]
    return problems


def _check_text(text: KvFile) -> list[str]:
    empty = [u for u, t in text.values.items() if is_empty_transcript(t)]
    if not empty:
        return []
    return [f"{text.path}: {len(empty)} utterance(s) with an empty transcript: "
            + " ".join(empty[:10]) + (" ..." if len(empty) > 10 else "")]


def _check_durations(utt2dur: KvFile) -> list[str]:
    for utt, value in utt2dur.values.items():
        try:
            ok = float(value) > 0
        except ValueError:
            ok = False
        if not ok:
            return [f"{utt2dur.path} line {utt2dur.lines[utt]}: duration {value!r} of {utt!r} "
                    "is not a positive number"]
    return []


def _audio_problem(value: str, key: str, fs: int | None) -> str | None:
    import soundfile

    if not value or is_pipe_entry(value):
        return None  # no value: reported above; a command pipe: only running it would tell
    if is_archive_entry(value):
        ark = value.rpartition(":")[0]
        return None if os.path.isfile(ark) else f"archive {ark} of {key!r} does not exist"
    if not os.path.isfile(value):
        return f"audio file {value} does not exist"
    try:
        info = soundfile.info(value)
    except (RuntimeError, OSError) as e:
        return f"{value} is not readable audio ({e})"
    if info.frames == 0:
        return f"{value} has no samples"
    if fs is not None and info.samplerate != fs:
        return f"{value} has sample rate {info.samplerate}, expected {fs}"
    return None


def _check_audio(wav_scp: KvFile, fs: int | None) -> list[str]:
    problems = []
    for key, value in wav_scp.values.items():
        why = _audio_problem(value, key, fs)
        if why:
            problems.append(f"{wav_scp.path} line {wav_scp.lines[key]}: {why}")
            if len(problems) >= MAX_PROBLEMS_PER_FILE:
                break
    return problems


def validate(d: str | os.PathLike, need_text: bool = True, check_audio: bool = False,
             fs: int | None = None) -> list[str]:
    """The problems of data dir ``d`` by the rules of the module docstring (empty list: valid)."""
    d = Path(d)
    if not d.is_dir():
        return [f"{d}: data directory does not exist"]
    required = _required(need_text)
    missing = [name for name in required if not (d / name).is_file()]
    if missing:
        return [f"{d / name}: missing (a Kaldi data dir needs {', '.join(required)})" for name in missing]
    tables = {name: scan_kv(d / name, MAX_PROBLEMS_PER_FILE)
              for name in ("wav.scp", "utt2spk", "spk2utt", *PER_UTT_FILES, "segments") if (d / name).is_file()}
    problems = [p for t in tables.values() for p in t.problems]
    utt2spk, wav = tables["utt2spk"], tables["wav.scp"]
    if not utt2spk.values and not problems:
        return [f"{utt2spk.path}: no utterances"]
    for name in (*PER_UTT_FILES, "segments"):
        if name in tables:
            problems += _compare_keys(utt2spk, tables[name])
    if "segments" in tables:
        recordings = {v.split()[0] for v in tables["segments"].values.values() if v.split()}
        problems += [f"{tables['segments'].path}: recording {rec!r} is not in wav.scp"
                     for rec in sorted(recordings - set(wav.values))]
    else:
        problems += _compare_keys(utt2spk, wav)
    problems += _without_value(wav) + _without_value(utt2spk)
    problems += _check_speakers(utt2spk, tables["spk2utt"])
    if "text" in tables:
        problems += _check_text(tables["text"])
    if "utt2dur" in tables:
        problems += _check_durations(tables["utt2dur"])
    if check_audio:
        problems += _check_audio(wav, fs)
    return problems
