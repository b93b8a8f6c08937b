"""Segmented Kaldi data dirs: read ``segments``, cut each segment into its own wav file.

A segmented dir (TEDLIUM, AMI, any long-form recording) keys wav.scp by recording and lists
its utterances in ``segments``: ``<utt> <recording> <start s> <end s> [<channel>]`` (end
``-1``: to the end of the recording; channel: 0-based, keeps that channel only). Importing
it with ``--corpus kaldi:<dir>`` cuts every segment, exactly the samples
``[round(start*fs), round(end*fs))`` of its recording, into ``<part>/wav/<utt>.wav`` (16-bit
PCM, the recording's sample rate and channels), so the later stages see an ordinary
per-utterance wav.scp and need no ``segments`` support.

Each recording is read once for all its segments, in ``--nj`` processes (progress bar): a
file path with soundfile (seeking to each segment), a ``command |`` entry by running the
command once and reading the wav it writes to stdout. Each cut is written to a temporary
name, fsynced and renamed, so an interrupted import never leaves a half-written wav. On a
rerun of an unfinished part, a recording whose cuts all exist with the expected frame count
(for a recording file, one header read checks its rate and length, and the cuts must be
newer than it) is not read again, nor its command run; ``wav/.source`` records what the
cuts were made from (part signature, hashes of ``segments`` and wav.scp), and a mismatch
discards them all.

An unsegmented dir's ``command |`` entries are checked the same way (:func:`probe_pipes`): each
command runs once, in ``--nj`` processes (progress bar), and the wav it writes is decoded to
measure it; its wav.scp entry is kept as it is (the format stage runs it again to convert it).

Bad input excludes the utterance with the reason (excluded.txt), the rest proceeds: a
malformed line, times that are not numbers, a negative start, an empty segment, a recording
missing from wav.scp (:func:`read_segments`); a segment outside its recording
(an end up to :data:`MAX_OVERSHOOT` past it is clipped, as Kaldi's ``extract-segments``
does), a missing or unreadable recording, a failing command or one that writes no audio
(:func:`cut_segments`, :func:`probe_pipes`). A duplicate id, in segments or any other file,
refuses the whole dir before this (:mod:`espnet_warmup.recipe.data.sources.kaldi_dir`).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import quote

from espnet_warmup.recipe.atomic import atomic_output, atomic_write_text
from espnet_warmup.recipe.data.base import Excluded, Segment, CorpusUtterance
from espnet_warmup.recipe.datadir.kv import KvFile
from espnet_warmup.recipe.wavscp import ArchiveError, CommandError, audio_source, is_file_entry, is_pipe_entry

#: seconds by which a segment may end after its recording and still be kept (clipped to the
#: recording's end); further out it is excluded. Kaldi's extract-segments default.
MAX_OVERSHOOT = 0.5
#: the subdirectory of a prepared part holding its cut segments
CUT_DIR = "wav"
#: file in CUT_DIR naming what its cuts were made from
STAMP = ".source"
FIELDS = "<utt> <recording> <start> <end> [<channel>]"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_segments(table: KvFile, recordings: Mapping[str, str]) -> tuple[dict[str, Segment], list[Excluded]]:
    """Parse a ``segments`` file, read by the one Kaldi-table reader (which refused duplicate
    ids and undecodable lines already): ({utt: Segment}, excluded lines with the reason).

    ``recordings`` is wav.scp (recording id -> entry).
    """
    segs: dict[str, Segment] = {}
    bad: list[Excluded] = []
    for utt, value in table.values.items():
        fields = [utt, *value.split()]
        source = f"{table.path}:{table.lines[utt]}"

        def exclude(reason: str) -> None:
            bad.append(Excluded(utt, reason, source))

        if len(fields) not in (4, 5):
            exclude(f"malformed segments line ({len(fields)} fields; expected {FIELDS})")
            continue
        rec, start_s, end_s = fields[1:4]
        start, end = _number(start_s), _number(end_s)
        channel: int | None = None
        if start is None or end is None:
            exclude(f"segment times are not numbers (start {start_s!r}, end {end_s!r})")
        elif start < 0:
            exclude(f"segment starts before 0 (start {start_s} s)")
        elif end != -1 and end <= start:
            exclude(f"segment is empty (end {end_s} s <= start {start_s} s)")
        elif len(fields) == 5 and not (fields[4].isdigit() and fields[4].isascii()):
            exclude(f"segment channel is not a channel number ({fields[4]!r}; 0 is the first)")
        elif rec not in recordings:
            exclude(f"recording not in wav.scp ({rec})")
        else:
            if len(fields) == 5:
                channel = int(fields[4])
            segs[utt] = Segment(rec, start, None if end == -1 else end, channel, source)
    return segs, bad


def _hash(path: Path) -> str:
    if not path.is_file():  # archive entries without a segments file
        return "none"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_stamp(kaldi_dir: Path, signature: str) -> str:
    """What a part's cuts are made from: its signature and the contents of segments and wav.scp."""
    return f"{signature}\nsegments {_hash(kaldi_dir / 'segments')}\nwav.scp {_hash(kaldi_dir / 'wav.scp')}\n"


def cut_name(utt_id: str) -> str:
    """File name of an utterance's cut (the id, with anything unsafe in a file name %-quoted)."""
    return quote(utt_id, safe="-_.+=,@~") + ".wav"


def _frame(seconds: float, rate: int) -> int:
    """The sample nearest to ``seconds`` (halves rounded up)."""
    return int(math.floor(seconds * rate + 0.5))


def _one_line(text: str, keep: int = 300) -> str:
    """Whitespace collapsed (excluded.txt is one tab-separated line per utterance), the tail kept."""
    text = " ".join(text.split())
    return text if len(text) <= keep else "..." + text[-keep:]


# One job: (wav.scp entry, [(utt, start, end, channel, output path), ...] sorted by start).
Item = tuple[str, float, "float | None", "int | None", str]
Result = tuple[str, "tuple[float, int] | str"]


def _reuse(entry: str, items: Sequence[Item]) -> list[Result] | None:
    """The results of a previous run if every cut of this recording is there and complete:
    16-bit wav with the frame count the segment gives (for a recording file, also: its sample
    rate, its length for a clipped end, and not modified since the cut was written)."""
    import soundfile

    if not all(os.path.isfile(item[4]) for item in items):
        return None
    rec_frames = rec_rate = rec_mtime = None
    if is_file_entry(entry):  # a header read; a pipe would have to run
        try:
            rec_mtime = os.stat(entry).st_mtime_ns
            info = soundfile.info(entry)
        except Exception:
            return None
        rec_frames, rec_rate = info.frames, int(info.samplerate)
    out: list[Result] = []
    for utt, start, end, channel, path in items:
        try:
            mtime = os.stat(path).st_mtime_ns
            info = soundfile.info(path)
        except Exception:  # not a readable wav
            return None
        rate = int(info.samplerate)
        a = _frame(start, rate)
        b = rec_frames if end is None else _frame(end, rate)
        if b is None:  # a pipe's length is unknown without running it
            return None
        if rec_frames is not None:
            b = min(b, rec_frames)
        if (info.format != "WAV" or info.subtype != "PCM_16" or rate <= 0 or info.frames != b - a
                or (rec_rate is not None and rate != rec_rate)
                or (channel is not None and info.channels != 1)
                or (rec_mtime is not None and mtime < rec_mtime)):
            return None
        out.append((utt, (info.frames / rate, rate)))
    return out


def _open(entry: str):
    """A soundfile.SoundFile on the recording, or the reason it cannot be read."""
    import soundfile

    if is_file_entry(entry) and not os.path.exists(entry):
        return f"recording file missing: {entry}"
    try:
        source = audio_source(entry)
    except CommandError as err:
        rc = err.returncode
        how = f"exit {rc}" if rc > 0 else f"killed by signal {-rc}"
        tail = _one_line(err.stderr)
        return f"recording command failed ({how}{': ' + tail if tail else ''}): {entry}"
    except ArchiveError as err:
        return f"recording unreadable ({err}): {entry}"
    pipe = is_pipe_entry(entry)
    if pipe and not source.getbuffer().nbytes:
        return f"recording command failed (exit 0 but nothing on stdout): {entry}"
    try:
        f = soundfile.SoundFile(source)
    except Exception as e:  # libsndfile raises RuntimeError/LibsndfileError/TypeError
        msg = _one_line(str(e).strip().splitlines()[-1]) if str(e).strip() else type(e).__name__
        if pipe:
            return f"recording command failed (exit 0 but its output is not audio: {msg}): {entry}"
        return f"recording unreadable ({msg}): {entry}"
    if f.frames <= 0 or f.samplerate <= 0:
        f.close()
        return f"recording {'command failed (exit 0 but its audio has' if pipe else 'unreadable ('}no samples): {entry}"
    return f


def _write_wav(path: str, data, rate: int) -> None:
    """Write 16-bit PCM wav to ``path`` atomically (temp name, fsync, rename)."""
    import soundfile

    with atomic_output(path, "wb") as f:
        soundfile.write(f, data, rate, format="WAV", subtype="PCM_16")


def _cut_recording(job: tuple[str, list[Item]]) -> tuple[list[Result], bool]:
    """Cut every segment of one recording (read once); ([(utt, (duration, rate) | reason)], reused)."""
    entry, items = job
    reused = _reuse(entry, items)
    if reused is not None:
        return reused, True
    f = _open(entry)
    if isinstance(f, str):
        return [(item[0], f) for item in items], False
    results: list[Result] = []
    with f:
        rate, frames, channels = int(f.samplerate), f.frames, f.channels
        length = frames / rate
        for utt, start, end, channel, path in items:
            a = _frame(start, rate)
            b = frames if end is None else _frame(end, rate)
            if frames < b <= frames + _frame(MAX_OVERSHOOT, rate):
                b = frames  # a little past the end: clipped
            if b > frames or a >= b:
                span = f"{start:.3f}-{'end' if end is None else f'{end:.3f}'} s"
                results.append((utt, f"segment outside its recording ({span}; the recording is {length:.3f} s long): {entry}"))
                continue
            if channel is not None and channel >= channels:
                results.append((utt, f"segment channel {channel} not in its recording ({channels} channel(s)): {entry}"))
                continue
            try:
                f.seek(a)
                data = f.read(b - a, dtype="int16", always_2d=True)
            except Exception as e:
                results.append((utt, f"recording unreadable ({_one_line(str(e)) or type(e).__name__}): {entry}"))
                continue
            if len(data) != b - a:
                results.append((utt, f"recording unreadable (truncated: {len(data)} of {b - a} samples "
                                     f"from {start:.3f} s): {entry}"))
                continue
            if channel is not None:
                data = data[:, channel]
            elif channels == 1:
                data = data[:, 0]
            _write_wav(path, data, rate)
            results.append((utt, (len(data) / rate, rate)))
    return results, False


def cut_segments(
    utts: Sequence[CorpusUtterance], wav_dir: Path, stamp: str, nj: int = 1, desc: str = "cut", progress: bool = True
) -> tuple[list[CorpusUtterance], list[Excluded], str]:
    """Cut each segmented utterance (``u.segment`` set, ``u.audio`` = its recording's entry)
    into ``wav_dir/<utt>.wav``; return (utterances with audio, duration and rate; excluded;
    a one-line summary). Files in ``wav_dir`` that are not cuts of ``utts`` are removed."""
    from tqdm import tqdm

    wav_dir = wav_dir.resolve()
    marker = wav_dir / STAMP
    if wav_dir.exists() and (not marker.is_file() or marker.read_text(encoding="utf-8") != stamp):
        shutil.rmtree(wav_dir)  # cuts of other inputs
    if not marker.is_file():
        atomic_write_text(marker, stamp)
    by_rec: dict[str, list[CorpusUtterance]] = {}
    for u in utts:
        assert u.segment is not None
        by_rec.setdefault(u.segment.recording, []).append(u)
    jobs = []
    for members in by_rec.values():
        members.sort(key=lambda u: (u.segment.start, u.utt_id))
        jobs.append((members[0].audio, [(u.utt_id, u.segment.start, u.segment.end, u.segment.channel,
                                         str(wav_dir / cut_name(u.utt_id))) for u in members]))
    jobs.sort(key=lambda job: -len(job[1]))  # long jobs first: better balance across processes
    results: dict[str, tuple[float, int] | str] = {}
    reused = 0
    bar = dict(total=len(utts), desc=desc, unit="utt", disable=not progress, mininterval=1.0, leave=False)
    with tqdm(**bar) as pbar:
        def collect(done: tuple[list[Result], bool]) -> None:
            nonlocal reused
            res, was_reused = done
            results.update(res)
            reused += was_reused
            pbar.update(len(res))

        if nj > 1 and len(jobs) > 1:
            with Pool(min(nj, len(jobs))) as pool:
                for done in pool.imap_unordered(_cut_recording, jobs):
                    collect(done)
        else:
            for job in jobs:
                collect(_cut_recording(job))
    good, bad = [], []
    for u in utts:
        res = results[u.utt_id]
        if isinstance(res, str):
            bad.append(Excluded(u.utt_id, res, u.segment.source))
        else:
            good.append(replace(u, audio=str(wav_dir / cut_name(u.utt_id)), duration=res[0], sample_rate=res[1],
                                segment=None))
    keep = {STAMP} | {cut_name(u.utt_id) for u in good}
    for leftover in wav_dir.iterdir():  # temporaries of an interrupted run, cuts now excluded
        if leftover.name not in keep:
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
    summary = f"{len(good)} segments of {len(jobs)} recordings cut into {wav_dir}"
    if reused:
        summary += f" ({reused} recording(s) already cut, kept)"
    return good, bad, summary


def _probe_pipe(entry: str) -> tuple[float, int] | str:
    """Run a ``cmd |`` entry once: ``(duration in s, sample rate)`` of the wav it writes, or why not."""
    f = _open(entry)
    if isinstance(f, str):
        return f
    with f:
        return f.frames / f.samplerate, int(f.samplerate)


def probe_pipes(utts: Sequence[CorpusUtterance], nj: int = 1, desc: str = "pipes",
                progress: bool = True) -> tuple[list[CorpusUtterance], list[Excluded]]:
    """Run the command of each utterance's ``cmd |`` entry once, in ``nj`` processes (progress
    bar); return (utterances with duration and rate, excluded with the reason: its exit code or
    signal and the end of its stderr, or that it wrote no audio or no readable audio)."""
    from tqdm import tqdm

    entries = [u.audio for u in utts]
    bar = dict(total=len(entries), desc=desc, unit="cmd", disable=not progress, mininterval=1.0, leave=False)
    if nj > 1 and len(entries) > 1:
        with Pool(min(nj, len(entries))) as pool:
            chunk = max(1, min(64, len(entries) // (nj * 8)))
            results = list(tqdm(pool.imap(_probe_pipe, entries, chunksize=chunk), **bar))
    else:
        results = [_probe_pipe(e) for e in tqdm(entries, **bar)]
    good, bad = [], []
    for u, res in zip(utts, results):
        if isinstance(res, str):
            bad.append(Excluded(u.utt_id, res, u.source))
        else:
            good.append(u.with_audio_info(*res))
    return good, bad
