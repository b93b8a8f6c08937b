"""Stage 3: read every wav.scp entry, check it, and write it as 16-bit mono wav or flac at the target rate.

One job of a ``run.pl JOB=1:N`` array handles one split of wav.scp. An entry is a file
path (anything soundfile reads: wav, flac, ...), a Kaldi pipe ``command |`` whose
stdout is audio (e.g. the sox speed-perturbation pipes of stage 2), or an archive offset
``x.ark:123`` (:mod:`espnet_warmup.recipe.wavscp`). Multi-channel audio
is mixed down to mono; other rates are resampled (polyphase, scipy).

The output is 16-bit PCM, as ``wav`` or losslessly compressed ``flac`` (``--audio-format``;
ESPnet's asr.sh option of the same name). Both hold the same samples; on the embedded
corpus flac took 0.66x the bytes of wav for 1.10x the formatting time (bench/audio_format.py).

Unreadable, missing or empty audio is an error: the job reports every bad utterance with
its wav.scp entry and the reason, writes nothing, and exits 1, so the stage stops and
names the log; so does a sox pipe in wav.scp without sox on PATH. Every audio file is written
atomically, and the ``wav.scp`` and ``utt2num_samples`` parts only when the whole split succeeded.

Command line::

    python -m espnet_warmup.recipe.stages.format_audio --fs 16000 --audio-dir dump/raw/org/train/data/format.1 \\
        --out-wav-scp logdir/wav.1.scp --out-num-samples logdir/utt2num_samples.1 logdir/keys.1.scp
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_warmup.recipe.atomic import atomic_output
from espnet_warmup.recipe.datadir import DataDirError, read_kv, write_kv
from espnet_warmup.recipe.wavscp import ArchiveError, CommandError, audio_source, is_file_entry, is_pipe_entry


class AudioError(Exception):
    """An utterance's audio cannot be used; the message says why."""


def load_entry(value: str) -> tuple[np.ndarray, int]:
    """Audio samples (float, frames x channels) and rate for one wav.scp value."""
    if is_file_entry(value) and not os.path.exists(value):
        raise AudioError("file not found")
    try:
        source = audio_source(value)
    except CommandError as err:
        last = err.stderr.strip().splitlines()
        raise AudioError(f"command failed (exit {err.returncode}): {last[-1] if last else ''}") from None
    except ArchiveError as err:
        raise AudioError(str(err)) from None
    try:
        data, rate = sf.read(source, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for corrupt data
        raise AudioError(f"unreadable audio ({type(err).__name__}: {err})") from None
    if data.shape[0] == 0:
        raise AudioError("no samples")
    if not np.isfinite(data).all():
        raise AudioError("non-finite samples")
    return data, rate


def to_mono_at_rate(data: np.ndarray, rate: int, fs: int) -> np.ndarray:
    """Mix down to mono and resample from ``rate`` to ``fs``."""
    mono = data.mean(axis=1)
    if rate != fs:
        from scipy.signal import resample_poly

        g = gcd(rate, fs)
        mono = resample_poly(mono, fs // g, rate // g).astype(np.float32)
    return np.clip(mono, -1.0, 1.0)


#: output audio formats (file suffix -> soundfile container); samples are 16-bit PCM in both
AUDIO_FORMATS = {"wav": "WAV", "flac": "FLAC"}


def to_pcm16(mono: np.ndarray, fs: int) -> np.ndarray:
    """16-bit samples of float audio, quantised exactly as libsndfile's WAV writer does, so
    that the wav and the flac output of an utterance hold the same samples (libsndfile's FLAC
    writer rounds floats differently, by up to one step)."""
    buf = io.BytesIO()
    sf.write(buf, mono, fs, subtype="PCM_16", format="WAV")
    buf.seek(0)
    return sf.read(buf, dtype="int16")[0]


def format_split(wav_scp: str, fs: int, audio_dir: str, out_wav_scp: str, out_num_samples: str,
                 audio_format: str = "wav") -> list[str]:
    """Format every entry of ``wav_scp``; return the problems (then nothing is written)."""
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}, got {audio_format!r}")
    entries = read_kv(wav_scp)
    audio_dir_p = Path(audio_dir).absolute()
    audio_dir_p.mkdir(parents=True, exist_ok=True)
    problems, new_scp, num_samples = [], {}, {}
    for utt, value in entries.items():
        try:
            data, rate = load_entry(value)
        except AudioError as err:
            problems.append(f"{utt}: {value}: {err}")
            continue
        mono = to_mono_at_rate(data, rate, fs)
        out = audio_dir_p / f"{utt}.{audio_format}"
        with atomic_output(out, "wb") as f:
            sf.write(f, to_pcm16(mono, fs), fs, subtype="PCM_16", format=AUDIO_FORMATS[audio_format])
        new_scp[utt] = str(out)
        num_samples[utt] = str(len(mono))
    if not problems:
        write_kv(out_num_samples, num_samples)
        write_kv(out_wav_scp, new_scp)
    return problems


def missing_sox(wav_scp) -> str | None:
    """The error to report when ``wav_scp`` has sox pipes (``sox ... |``) and sox is not on PATH, else None."""
    if shutil.which("sox") is not None:
        return None
    if any(is_pipe_entry(v) and "sox " in v for v in read_kv(wav_scp).values()):
        return (f"'sox' not found on PATH; it is needed for the sox pipes in {wav_scp} "
                "(install it, e.g. apt-get install sox)")
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.stages.format_audio", description=__doc__.splitlines()[0])
    p.add_argument("--fs", type=int, default=16000, help="target sample rate (Hz)")
    p.add_argument("--audio-dir", required=True, help="where the formatted audio files go")
    p.add_argument("--audio-format", choices=sorted(AUDIO_FORMATS), default="wav",
                   help="output container, 16-bit PCM either way (default: wav)")
    p.add_argument("--out-wav-scp", required=True)
    p.add_argument("--out-num-samples", required=True)
    p.add_argument("wav_scp", help="(a split of) the input wav.scp")
    args = p.parse_args(argv)
    try:
        no_sox = missing_sox(args.wav_scp)
        if no_sox:
            print(f"ERROR: {no_sox}", file=sys.stderr)
            return 1
        problems = format_split(args.wav_scp, args.fs, args.audio_dir, args.out_wav_scp, args.out_num_samples,
                                args.audio_format)
    except DataDirError as err:  # a wav.scp line that is not UTF-8, a duplicate key: named with file:line
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    if problems:
        print(f"ERROR: {len(problems)} utterance(s) with missing or unreadable audio in {args.wav_scp}:",
              file=sys.stderr)
        for x in problems:
            print(f"ERROR: bad audio: {x}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
