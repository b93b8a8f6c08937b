"""Check and measure audio files in parallel (``--nj`` processes, with a progress bar).

Reading only the header (``soundfile.info``) is enough to find missing, truncated-to-nothing
and undecodable files and to get durations for utt2dur, and it is cheap enough to run on
every file of a large corpus. soundfile (libsndfile >= 1.1) reads wav, flac, ogg/vorbis,
ogg/opus and mp3, so wav.scp can point at the corpus files directly and ESPnet's ``sound``
reader opens them without extra tools.
"""

from __future__ import annotations

import os
from multiprocessing import Pool
from typing import Iterable, Sequence

from espnet_warmup.recipe.data.base import Excluded, CorpusUtterance


def probe(path: str) -> tuple[float, int] | str:
    """Return ``(duration in s, sample rate)`` of ``path``, or the reason it is unusable."""
    import soundfile

    if not os.path.exists(path):
        return "audio file missing"
    try:
        info = soundfile.info(path)
    except Exception as e:  # libsndfile raises RuntimeError/LibsndfileError/TypeError
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        return f"audio unreadable ({msg})"
    if info.frames <= 0 or info.samplerate <= 0:
        return "audio unreadable (no samples)"
    return info.frames / info.samplerate, int(info.samplerate)


def probe_all(
    utts: Sequence[CorpusUtterance], nj: int = 1, desc: str = "audio", progress: bool = True
) -> tuple[list[CorpusUtterance], list[Excluded]]:
    """Probe every utterance's audio; return (usable with duration, excluded with reason)."""
    from tqdm import tqdm

    paths = [u.audio for u in utts]
    bar = dict(total=len(paths), desc=desc, unit="file", disable=not progress, mininterval=1.0, leave=False)
    if nj > 1 and len(paths) > 1:
        with Pool(min(nj, len(paths))) as pool:
            chunk = max(1, min(256, len(paths) // (nj * 8)))
            results: Iterable = list(tqdm(pool.imap(probe, paths, chunksize=chunk), **bar))
    else:
        results = [probe(p) for p in tqdm(paths, **bar)]
    good, bad = [], []
    for utt, res in zip(utts, results):
        if isinstance(res, str):
            bad.append(Excluded(utt.utt_id, f"{res}: {utt.audio}", utt.source))
        else:
            good.append(utt.with_audio_info(*res))
    return good, bad
