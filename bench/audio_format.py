"""Stage 3 output formats side by side: wav (peer) against flac, same input, same run.

    python bench/audio_format.py bench_out/recipe/data/train/wav.scp [--limit 2000] [--rounds 3]

Formats the first ``--limit`` entries of a wav.scp with ``espnet_warmup.recipe.stages.format_audio``
into each container (16 kHz, 16-bit), ``--rounds`` times, interleaved, and reports the median
wall time and the bytes written, each as a ratio to wav. Also checks that both containers
hold the same samples.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_warmup.recipe.stages import format_audio
from espnet_warmup.recipe.datadir import read_kv, write_kv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wav_scp")
    p.add_argument("--limit", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    entries = dict(list(read_kv(args.wav_scp).items())[: args.limit])
    times: dict[str, list[float]] = {"wav": [], "flac": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.scp"
        write_kv(src, entries)
        for r in range(args.rounds):
            for fmt in ("wav", "flac"):
                out = Path(tmp) / f"{fmt}{r}"
                t0 = time.perf_counter()
                problems = format_audio.format_split(str(src), 16000, str(out), str(out) + ".scp",
                                                     str(out) + ".n", audio_format=fmt)
                times[fmt].append(time.perf_counter() - t0)
                if problems:
                    print("\n".join(problems), file=sys.stderr)
                    return 1
                sizes[fmt] = sum(f.stat().st_size for f in out.iterdir())
        wav, flac = read_kv(Path(tmp) / "wav0.scp"), read_kv(Path(tmp) / "flac0.scp")
        same = all(np.array_equal(sf.read(wav[u], dtype="int16")[0], sf.read(flac[u], dtype="int16")[0]) for u in wav)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{len(entries)} utterances from {args.wav_scp}, {args.rounds} interleaved rounds, median")
    print("| format | wall (s) | ratio | bytes | ratio |")
    print("|---|---|---|---|---|")
    for fmt in ("wav", "flac"):
        print(f"| {fmt} | {med[fmt]:.2f} | {med[fmt] / med['wav']:.2f} | {sizes[fmt]} | {sizes[fmt] / sizes['wav']:.2f} |")
    print(f"same samples in both: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
