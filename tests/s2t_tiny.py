"""A tiny real ESPnet s2t (OWSM's task) set-up for tests: the tiny ASR audio, OWSM-style texts, a real BPE.

OWSM trains with ``espnet2.bin.s2t_train``: its data are ``speech``, ``text`` (the target with OWSM's
prefix, ``<lang><task><notimestamps> words``), ``text_prev`` (the previous utterance, or ``<na>``) and
``text_ctc`` (the bare words); its token list holds the special symbols as BPE user-defined symbols and
``<sos>``, ``<eos>``, ``<sop>`` at the end; its preprocessor pads or trims the audio to ``speech_length``
seconds (30 in OWSM, 1 here) and takes the timestamp symbols as a range of token ids
(``first_time_symbol``..``last_time_symbol``). Runs go through our launcher,
``python -m espnet_warmup -m espnet2.bin.s2t_train``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tiny_asr import make_data, run_training

#: OWSM's special symbols (a language, the ASR task, no timestamps, two time symbols), user-defined in the BPE
SPECIALS = ["<na>", "<nolang>", "<en>", "<asr>", "<notimestamps>", "<0.00>", "<0.02>"]
PREFIX = "<en><asr><notimestamps>"

MODEL_ARGS = [
    "--frontend_conf", "n_fft=256", "--frontend_conf", "hop_length=160", "--frontend_conf", "n_mels=20",
    "--encoder", "transformer", "--encoder_conf", "output_size=16", "--encoder_conf", "attention_heads=2",
    "--encoder_conf", "linear_units=16", "--encoder_conf", "num_blocks=1", "--encoder_conf", "input_layer=conv2d",
    "--decoder", "transformer", "--decoder_conf", "attention_heads=2", "--decoder_conf", "linear_units=16",
    "--decoder_conf", "num_blocks=1",
    "--model_conf", "ctc_weight=0.5",
    # OWSM's preprocessor: 1 s instead of 30 s of audio; the texts are kept as written (no timestamp dropping)
    "--preprocessor_conf", "speech_length=1.0", "--preprocessor_conf", "time_apply_prob=1.0",
    "--preprocessor_conf", "first_time_symbol=<0.00>", "--preprocessor_conf", "last_time_symbol=<0.02>",
]


def make_s2t_data(root: Path) -> Path:
    """The tiny ASR data with OWSM's text/text_prev/text_ctc, a BPE model with OWSM's symbols, its token list."""
    import sentencepiece as spm

    data = make_data(root)
    words = dict(line.split(" ", 1) for line in (data / "text").read_text().splitlines())
    (data / "text").write_text("".join(f"{u} {PREFIX} {w}\n" for u, w in words.items()))
    (data / "text_prev").write_text("".join(f"{u} <na>\n" for u in words))
    (data / "text_ctc").write_text("".join(f"{u} {w}\n" for u, w in words.items()))
    (data / "bpe_train.txt").write_text("".join(w + "\n" for w in words.values()))
    spm.SentencePieceTrainer.train(
        input=str(data / "bpe_train.txt"), model_prefix=str(data / "bpe"), model_type="bpe", vocab_size=16,
        hard_vocab_limit=False, character_coverage=1.0, user_defined_symbols=",".join(SPECIALS),
        unk_id=0, bos_id=-1, eos_id=-1, minloglevel=2,
    )
    pieces = [line.split("\t")[0] for line in (data / "bpe.vocab").read_text().splitlines()]
    assert pieces[0] == "<unk>", pieces
    (data / "tokens.txt").write_text("\n".join(["<blank>", *pieces, "<sos>", "<eos>", "<sop>"]) + "\n")
    return data


def s2t_command(data: Path, outdir: Path, *extra: str) -> list[str]:
    """The s2t_train command line (through our launcher) for the tiny set-up."""
    streams = [("wav.scp", "speech", "sound"), ("text", "text", "text"), ("text_prev", "text_prev", "text"),
               ("text_ctc", "text_ctc", "text")]
    data_args = []
    for split in ("train", "valid"):
        for file, name, kind in streams:
            data_args += [f"--{split}_data_path_and_name_and_type", f"{data / file},{name},{kind}"]
    return [
        sys.executable, "-m", "espnet_warmup", "-m", "espnet2.bin.s2t_train",
        "--output_dir", str(outdir), "--ngpu", "0", "--num_workers", "0", "--seed", "0",
        "--token_type", "bpe", "--bpemodel", str(data / "bpe.model"), "--token_list", str(data / "tokens.txt"),
        "--use_preprocessor", "true", *data_args,
        "--train_shape_file", str(data / "speech_shape"), "--valid_shape_file", str(data / "speech_shape"),
        "--batch_type", "unsorted", "--batch_size", "2", "--log_interval", "1",
        "--use_matplotlib", "false", "--num_att_plot", "0", "--use_tensorboard", "false",
        "--resume", "true", "--keep_nbest_models", "1",
        *MODEL_ARGS, *extra,
    ]


def run_s2t(data: Path, outdir: Path, *extra: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return run_training(s2t_command(data, outdir, *extra), timeout)
