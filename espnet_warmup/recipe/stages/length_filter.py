"""Stage 4: drop training/validation utterances that are too short or too long.

Keeps an utterance iff ``min_wav_duration * fs < num_samples < max_wav_duration * fs``
(strict, as ESPnet's asr.sh) using the ``utt2num_samples`` written by stage 3, and
writes the surviving subset of every per-utterance file to the destination dir.
Refuses to leave an empty set (that would only fail later, in training, obscurely).

Command line::

    python -m espnet_warmup.recipe.stages.length_filter --fs 16000 --min 0.1 --max 20 dump/raw/org/train dump/raw/train
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_dir
from espnet_warmup.recipe.datadir import DataDirError, read_kv, subset_dir


def keep_by_length(num_samples: dict[str, str], fs: int, min_s: float, max_s: float) -> list[str]:
    """Utterances whose length lies strictly between min_s and max_s seconds."""
    lo, hi = min_s * fs, max_s * fs
    return [u for u, n in num_samples.items() if lo < int(n) < hi]


def filter_dir(src, dst, fs: int, min_s: float, max_s: float) -> tuple[int, int]:
    """Write the kept subset of ``src`` to ``dst`` (replaced whole, atomically); return (kept, total)."""
    src, dst = Path(src), Path(dst)
    num_samples = read_kv(src / "utt2num_samples")
    keep = keep_by_length(num_samples, fs, min_s, max_s)
    if not keep:
        raise DataDirError(
            f"{src}: all {len(num_samples)} utterances are outside ({min_s}, {max_s}) seconds; "
            "check --min_wav_duration/--max_wav_duration")
    with atomic_dir(dst) as work:
        subset_dir(src, work, keep)
        for extra in ("feats_type", "audio_format"):
            if (src / extra).is_file():
                shutil.copy(src / extra, work / extra)
    return len(keep), len(num_samples)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.stages.length_filter", description=__doc__.splitlines()[0])
    p.add_argument("--fs", type=int, default=16000)
    p.add_argument("--min", type=float, default=0.1, help="minimum duration in seconds (exclusive)")
    p.add_argument("--max", type=float, default=20.0, help="maximum duration in seconds (exclusive)")
    p.add_argument("src")
    p.add_argument("dst")
    args = p.parse_args(argv)
    try:
        kept, total = filter_dir(args.src, args.dst, args.fs, args.min, args.max)
    except (DataDirError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(f"length_filter: kept {kept} of {total} utterances of {args.src} "
          f"({args.min} s < duration < {args.max} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
