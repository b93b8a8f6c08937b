"""Synthesize one planned utterance: espeak-ng speech -> sox 16 kHz -> level, lead silence, light noise.

espeak-ng writes 22.05 kHz 16-bit wav; sox resamples it to 16 kHz mono 16-bit (with dither off, so the
output is bit-exact across runs). Noise and level are applied in numpy from the utterance's own seed.
The wav is written under a temporary name and renamed, so a wav that exists is always complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import soundfile

from espnet_warmup.recipe.atomic import atomic_output
from espnet_warmup.recipe.data.base import DataPrepError
from espnet_warmup.recipe.data.embedded.plan import PlannedUtterance

SAMPLE_RATE = 16000
#: tool -> Debian/Ubuntu package that provides it
REQUIRED_TOOLS = {"espeak-ng": "espeak-ng", "sox": "sox"}


class SynthesisError(DataPrepError, RuntimeError):
    """A tool failed or produced no audio for an utterance."""


def missing_tool_message() -> str | None:
    """The error for the first required tool not on PATH, or None when all are there."""
    for tool, package in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH; install it with: apt-get install {package}"
    return None


def _run(cmd: list[str], utt: PlannedUtterance, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(cmd, input=stdin, capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        detail = proc.stderr.decode(errors="replace").strip() or "no output"
        raise SynthesisError(f"{cmd[0]} failed for {utt.utt_id} (exit {proc.returncode}): {detail}")
    return proc.stdout


def speech_samples(utt: PlannedUtterance) -> np.ndarray:
    """The clean synthesized speech of ``utt`` as float32 in [-1, 1) at 16 kHz."""
    wav = _run(["espeak-ng", "-v", f"{utt.voice}+{utt.variant}", "-s", str(utt.rate_wpm), "-p", str(utt.pitch),
                "--stdout", utt.text], utt)
    raw = _run(["sox", "-V1", "-D", "-t", "wav", "-", "-t", "raw", "-e", "signed-integer", "-b", "16",
                "-c", "1", "-r", str(SAMPLE_RATE), "-"], utt, stdin=wav)
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if not np.any(x):
        raise SynthesisError(f"espeak-ng produced silence for {utt.utt_id} ({utt.voice}+{utt.variant})")
    return x


def _speech_power(x: np.ndarray) -> float:
    """Mean power over 20 ms frames within 30 dB of the loudest one (the speech, not the pauses)."""
    frame = SAMPLE_RATE // 50
    n = len(x) // frame
    if n == 0:
        return float(np.mean(x ** 2))
    energies = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    return float(np.mean(energies[energies >= energies.max() * 1e-3]))


def _noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance white or pink (power falling 3 dB per octave) Gaussian noise of ``n`` samples."""
    if kind == "white":
        return rng.standard_normal(n)
    # Shape white noise by 1/sqrt(f) in the frequency domain; a power-of-two length keeps the FFT fast.
    size = 1 << max(n - 1, 1).bit_length()
    spectrum = np.fft.rfft(rng.standard_normal(size))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, size)[:n]
    return pink / (np.std(pink) + 1e-12)


def render(utt: PlannedUtterance, speech: np.ndarray) -> np.ndarray:
    """Apply lead silence, output level and light noise at the utterance's SNR; returns int16 samples."""
    x = speech.astype(np.float64)
    x = np.concatenate([np.zeros(int(round(utt.lead_silence_s * SAMPLE_RATE))), x])
    x *= utt.peak / np.max(np.abs(x))
    rng = np.random.default_rng(utt.noise_seed)
    noise_power = _speech_power(x) / (10.0 ** (utt.snr_db / 10.0))
    x += _noise(utt.noise, len(x), rng) * np.sqrt(noise_power)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def write_wav_atomic(path: str, samples: np.ndarray) -> None:
    """Write 16 kHz mono 16-bit PCM wav to ``path`` via a temporary name (never a partial file)."""
    with atomic_output(path, "wb") as f:
        soundfile.write(f, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def synthesize_to(utt: PlannedUtterance, path: str) -> int:
    """Make ``path`` for ``utt`` unless it already exists; return its number of samples."""
    if os.path.exists(path):
        try:
            return soundfile.info(path).frames
        except RuntimeError:  # unreadable (e.g. damaged by hand): make it again
            os.remove(path)
    samples = render(utt, speech_samples(utt))
    write_wav_atomic(path, samples)
    return len(samples)
