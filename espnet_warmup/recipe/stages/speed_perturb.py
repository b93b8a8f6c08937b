"""Stage 2: speed-perturbed copies of a training data dir (Kaldi/ESPnet convention).

For a factor f != 1.0 the copy prefixes utterance and speaker ids with ``sp<f>-`` and
turns each wav.scp entry into a sox pipe that changes speed (tempo and pitch together,
keeping the sample rate): ``sox -t wav <path> -t wav - speed <f> |``. The pipe is run
when stage 3 formats the audio. utt2dur is divided by f; utt2num_samples is dropped
(stage 3 recomputes it). Factor 1.0 means the original dir, unprefixed, as in asr.sh.

Command line::

    python -m espnet_warmup.recipe.stages.speed_perturb --factors "0.9 1.0 1.1" data/train data/train_sp
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_dir
from espnet_warmup.recipe.datadir import DataDirError, combine_dirs, copy_dir, read_kv, write_kv
from espnet_warmup.recipe.wavscp import archive_pipe, is_archive_entry, is_pipe_entry


def perturbed_wav_entry(value: str, factor: float) -> str:
    """The wav.scp value that yields ``value``'s audio sped up by ``factor``."""
    if is_archive_entry(value):  # audio in an archive: sox reads it from our reader's pipe
        value = archive_pipe(value)
    if is_pipe_entry(value):  # already a pipe: chain sox after it
        return f"{value} sox -t wav - -t wav - speed {factor:g} |"
    return f"sox -t wav {shlex.quote(value)} -t wav - speed {factor:g} |"


def perturb_dir(src, dst, factor: float) -> None:
    """Write the speed-``factor`` copy of data dir ``src`` to ``dst``."""
    prefix = f"sp{factor:g}-"
    src, dst = Path(src), Path(dst)
    copy_dir(src, dst, utt_prefix=prefix, spk_prefix=prefix)
    wav = read_kv(dst / "wav.scp")
    write_kv(dst / "wav.scp", OrderedDict((k, perturbed_wav_entry(v, factor)) for k, v in wav.items()))
    if (dst / "utt2dur").is_file():
        dur = read_kv(dst / "utt2dur")
        write_kv(dst / "utt2dur", OrderedDict((k, f"{float(v) / factor:.3f}") for k, v in dur.items()))
    if (dst / "utt2num_samples").is_file():
        (dst / "utt2num_samples").unlink()


def parse_factors(text: str) -> list[float]:
    """Parse ``"0.9 1.0 1.1"``; every factor must be a positive number."""
    try:
        factors = [float(x) for x in text.split()]
    except ValueError:
        raise ValueError(f"--speed_perturb_factors: expected numbers such as '0.9 1.0 1.1', got {text!r}") from None
    if not factors or any(f <= 0 for f in factors):
        raise ValueError(f"--speed_perturb_factors: factors must be positive, got {text!r}")
    return factors


def speed_perturb(src, dst, factors: list[float]) -> None:
    """Combine the copies of ``src`` for every factor into ``dst`` (replaced whole, atomically)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dst.name}.parts.", dir=dst.parent) as scratch:
        parts = []
        for f in factors:
            if f == 1.0:
                parts.append(Path(src))
            else:
                part = Path(scratch) / f"sp{f:g}"
                perturb_dir(src, part, f)
                parts.append(part)
        with atomic_dir(dst) as combined:
            combine_dirs(combined, parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.stages.speed_perturb", description=__doc__.splitlines()[0])
    p.add_argument("--factors", required=True, help='e.g. "0.9 1.0 1.1"')
    p.add_argument("src")
    p.add_argument("dst")
    args = p.parse_args(argv)
    try:
        speed_perturb(args.src, args.dst, parse_factors(args.factors))
    except (ValueError, DataDirError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
