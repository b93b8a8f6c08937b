"""A tiny real ESPnet ASR training set-up for tests: generated audio, char tokens, a 1-block model.

Used by tests that need genuine ``espnet2.bin.asr_train`` runs (LR logging, resume). Runs
go through our launcher, ``python -m espnet_warmup -m espnet2.bin.asr_train``.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

TOKENS = ["<blank>", "<unk>", "a", "b", "c", "d", "<sos/eos>"]

MODEL_ARGS = [
    "--frontend_conf", "n_fft=256", "--frontend_conf", "hop_length=160", "--frontend_conf", "n_mels=20",
    "--encoder", "transformer", "--encoder_conf", "output_size=16", "--encoder_conf", "attention_heads=2",
    "--encoder_conf", "linear_units=16", "--encoder_conf", "num_blocks=1", "--encoder_conf", "input_layer=conv2d",
    "--decoder", "transformer", "--decoder_conf", "attention_heads=2", "--decoder_conf", "linear_units=16",
    "--decoder_conf", "num_blocks=1",
    "--model_conf", "ctc_weight=0.5",
]


def make_data(root: Path, n_utts: int = 8, seed: int = 0) -> Path:
    """Write n_utts short wavs (tones + noise) with char transcripts; return the data dir."""
    rng = np.random.default_rng(seed)
    data = root / "data"
    (data / "wav").mkdir(parents=True, exist_ok=True)
    wav_lines, text_lines, shape_lines = [], [], []
    for i in range(n_utts):
        uid = f"utt{i:03d}"
        n = 8000 + 800 * (i % 4)
        t = np.arange(n) / 16000
        x = 0.3 * np.sin(2 * math.pi * (200 + 50 * i) * t) + 0.05 * rng.standard_normal(n)
        path = data / "wav" / f"{uid}.wav"
        sf.write(path, x.astype(np.float32), 16000, subtype="PCM_16")
        text = " ".join(rng.choice(list("abcd"), size=3 + i % 3))
        wav_lines.append(f"{uid} {path}")
        text_lines.append(f"{uid} {text}")
        shape_lines.append(f"{uid} {n}")
    (data / "wav.scp").write_text("\n".join(wav_lines) + "\n")
    (data / "text").write_text("\n".join(text_lines) + "\n")
    (data / "speech_shape").write_text("\n".join(shape_lines) + "\n")
    (data / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    return data


def train_command(data: Path, outdir: Path, *extra: str) -> list[str]:
    """The asr_train command line (through our launcher) for the tiny set-up."""
    return [
        sys.executable, "-m", "espnet_warmup", "-m", "espnet2.bin.asr_train",
        "--output_dir", str(outdir), "--ngpu", "0", "--num_workers", "0", "--seed", "0",
        "--token_type", "char", "--token_list", str(data / "tokens.txt"), "--use_preprocessor", "true",
        "--train_data_path_and_name_and_type", f"{data / 'wav.scp'},speech,sound",
        "--train_data_path_and_name_and_type", f"{data / 'text'},text,text",
        "--valid_data_path_and_name_and_type", f"{data / 'wav.scp'},speech,sound",
        "--valid_data_path_and_name_and_type", f"{data / 'text'},text,text",
        "--train_shape_file", str(data / "speech_shape"), "--valid_shape_file", str(data / "speech_shape"),
        "--batch_type", "unsorted", "--batch_size", "2", "--log_interval", "1",
        "--use_matplotlib", "false", "--num_att_plot", "0", "--use_tensorboard", "false",
        "--resume", "true", "--keep_nbest_models", "1",
        *MODEL_ARGS, *extra,
    ]


def run_training(cmd: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a training command line (one thread, warnings off); its stderr tail on failure."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        what = next((a.rsplit(".", 1)[-1] for a in cmd if a.startswith("espnet2.bin.")), cmd[0])
        raise AssertionError(f"{what} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def run_train(data: Path, outdir: Path, *extra: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return run_training(train_command(data, outdir, *extra), timeout)


_LR_RE = re.compile(r"(\d+)epoch:train:(\d+)-(\d+)batch: .*?optim0_lr0=([0-9.eE+-]+|nan)")


def logged_lrs(log_text: str) -> list[tuple[int, int, float]]:
    """(epoch, iteration, optim0_lr0) for every per-interval train.log line that logs a finite LR."""
    out = []
    for m in _LR_RE.finditer(log_text):
        value = float(m.group(4))
        if math.isfinite(value):
            out.append((int(m.group(1)), int(m.group(3)), value))
    return out
