"""Real, tiny ESPnet ASR trainings for the analysis tests (no mocks).

Generates a handful of short synthetic utterances (each character of the transcript is
a 60 ms tone of its own pitch, so the task is learnable), writes Kaldi-style data
directories, and runs ``python -m espnet_warmup -m espnet2.bin.asr_train`` with a
1-block Transformer encoder/decoder (d=16). One job takes a few seconds after ESPnet's
start-up; the logs, tensorboard events and checkpoints it writes are what the parsers,
plots and monitor are tested on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

FS = 8000
ALPHABET = "abcdefgh"
TOKENS = ["<blank>", "<unk>", *ALPHABET, "<sos/eos>"]

MODEL_YAML = """\
frontend: default
frontend_conf:
  fs: 8000
  n_fft: 256
  hop_length: 80
  n_mels: 20
encoder: transformer
encoder_conf:
  output_size: 16
  attention_heads: 2
  linear_units: 32
  num_blocks: 1
  dropout_rate: 0.0
  positional_dropout_rate: 0.0
  attention_dropout_rate: 0.0
  input_layer: conv2d
decoder: transformer
decoder_conf:
  attention_heads: 2
  linear_units: 32
  num_blocks: 1
  dropout_rate: 0.0
  positional_dropout_rate: 0.0
  self_attention_dropout_rate: 0.0
  src_attention_dropout_rate: 0.0
model_conf:
  ctc_weight: 0.3
  lsm_weight: 0.0
"""


def _utterance(text: str, rng: np.random.Generator) -> np.ndarray:
    seg = int(0.06 * FS)
    t = np.arange(seg) / FS
    parts = [np.zeros(int(0.05 * FS))]
    for ch in text:
        f0 = 300.0 + 150.0 * ALPHABET.index(ch)
        parts.append(0.3 * np.sin(2 * np.pi * f0 * t))
    parts.append(np.zeros(int(0.05 * FS)))
    wav = np.concatenate(parts)
    return (wav + 0.01 * rng.standard_normal(len(wav))).astype(np.float32)


def make_data(root: Path, n_train: int = 16, n_valid: int = 4, seed: int = 0) -> Path:
    """Write data/{train,valid}/{wav.scp,text,speech_shape,text_shape.char} and a token list under ``root``."""
    rng = np.random.default_rng(seed)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("valid", n_valid)):
        d = root / "data" / name
        d.mkdir(parents=True, exist_ok=True)
        scp, text, sshape, tshape = [], [], [], []
        for i in range(n):
            utt = f"{name}_{i:03d}"
            words = "".join(rng.choice(list(ALPHABET), size=int(rng.integers(3, 7))))
            wav = _utterance(words, rng)
            path = root / "wav" / f"{utt}.wav"
            sf.write(path, wav, FS)
            scp.append(f"{utt} {path}")
            text.append(f"{utt} {words}")
            sshape.append(f"{utt} {len(wav)}")
            tshape.append(f"{utt} {len(words)}")
        for fname, lines in (("wav.scp", scp), ("text", text), ("speech_shape", sshape),
                             ("text_shape.char", tshape)):
            (d / fname).write_text("\n".join(lines) + "\n")
    (root / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    (root / "model.yaml").write_text(MODEL_YAML)
    return root


def train_command(data_root: Path, expdir: Path, *extra: str, lr: float = 0.005, optim: str = "adam",
                  max_epoch: int = 3, iters: int = 8, log_interval: int = 1) -> list[str]:
    """The ``python -m espnet_warmup -m espnet2.bin.asr_train ...`` command line (as asr.sh
    would pass it: speech and text shape files, char tokens)."""
    d = data_root / "data"
    return [
        sys.executable, "-m", "espnet_warmup", "-m", "espnet2.bin.asr_train",
        "--config", str(data_root / "model.yaml"),
        "--output_dir", str(expdir), "--ngpu", "0", "--num_workers", "0", "--seed", "0",
        "--token_type", "char", "--token_list", str(data_root / "tokens.txt"),
        "--train_data_path_and_name_and_type", f"{d}/train/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type", f"{d}/train/text,text,text",
        "--valid_data_path_and_name_and_type", f"{d}/valid/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", f"{d}/valid/text,text,text",
        "--train_shape_file", f"{d}/train/speech_shape",
        "--train_shape_file", f"{d}/train/text_shape.char",
        "--valid_shape_file", f"{d}/valid/speech_shape",
        "--valid_shape_file", f"{d}/valid/text_shape.char",
        "--batch_type", "unsorted", "--batch_size", "2",
        "--max_epoch", str(max_epoch), "--num_iters_per_epoch", str(iters),
        "--log_interval", str(log_interval), "--use_tensorboard", "true",
        "--use_matplotlib", "false", "--num_att_plot", "0",
        "--optim", optim, "--optim_conf", f"lr={lr}",
        "--keep_nbest_models", "1", "--resume", "false",
        *extra,
    ]


def start_training(data_root: Path, expdir: Path, *extra: str, **kw) -> subprocess.Popen:
    """Start a training in the background, its output going to ``expdir/train.log``
    (as run.pl does); return the process (its PID is what the monitor follows)."""
    expdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    with open(expdir / "train.log", "w") as log:
        return subprocess.Popen(train_command(data_root, expdir, *extra, **kw), stdout=log,
                                stderr=subprocess.STDOUT, env=env)
