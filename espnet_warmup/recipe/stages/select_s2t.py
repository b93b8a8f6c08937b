"""Checkpoint selection by decoded dev WER for ESPnet's s2t task (OWSM): ``espnet-warmup select-s2t``.

The recipe's ``--select_by_wer`` (stage 12) does this for its ASR models; an OWSM fine-tuning runs
``espnet2.bin.s2t_train`` outside the recipe (docs/finetune.md), so this command does it for an s2t exp dir:

* every kept ``<exp>/<N>epoch.pth`` decodes the dev set with ``espnet2.bin.s2t_inference`` (through our
  launcher, one job; ``--inference_args`` passes beam size, CTC weight, ... on), into
  ``<exp>/select_wer/<N>epoch/<set>/``: ``text`` is the hypothesis without OWSM's special tokens
  (``text_nospecial``: no language, task or timestamp symbol), scored by the recipe's scorer against the
  reference words (``text.ctc``, ``text_ctc``, or ``text`` with its ``<...>`` tokens removed) into
  ``score_wer/``, ``score_cer/`` and ``scores.json``;
* then :mod:`~espnet_warmup.recipe.stages.select_checkpoint` writes ``checkpoint_selection.{md,json}`` and
  points ``valid.wer.best.pth`` at the lowest dev WER (``--keep_only_best`` deletes the other epochs).

Each epoch's dir is built in a temp dir and put in place whole, ``.done`` (the checksums of checkpoint,
audio list, reference, train config and the decoding options) written last: a rerun skips the epochs
whose ``.done`` still matches and decodes the rest; a changed checkpoint or option decodes again. A
TERM/INT/HUP is passed on to the decoder's whole process tree and marks nothing done (exit 128+N).

CLI::

    espnet-warmup select-s2t exp/owsm_ft --data dump/raw/dev --set dev --lang_sym "<eng>" \\
        --inference_args "--beam_size 5 --ctc_weight 0.3" [--ngpu 1] [--keep_only_best]

Exit 0: selected; 1: bad input (the message names the file or option) or a failed decoding (its log named).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_dir
from espnet_warmup.recipe.datadir import DataDirError, read_kv
from espnet_warmup.recipe.stages import select_checkpoint as sc

#: OWSM's special tokens (language, task, timestamps, <na>): removed from references and hypotheses
SPECIAL = re.compile(r"<[^<>\s]+>")
#: reference files tried in this order when --ref is not given (OWSM data dirs use text.ctc)
REF_CANDIDATES = ("text.ctc", "text_ctc", "text")
DONE = ".done"


class SelectError(Exception):
    """Bad input or a failed decoding; the message names the file, option or log."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_text(path: Path, what: str) -> dict[str, str]:
    """A Kaldi ``key value`` file (the recipe's reader: duplicates, bad UTF-8 and a missing file named)."""
    try:
        return dict(read_kv(path, what))
    except DataDirError as e:
        raise SelectError(str(e)) from None


def strip_special(text: str) -> str:
    return " ".join(SPECIAL.sub(" ", text).split())


def find_ref(data: Path, ref: Path | None) -> Path:
    if ref is not None:
        if not ref.is_file():
            raise SelectError(f"--ref {ref}: file not found")
        return ref
    for name in REF_CANDIDATES:
        if (data / name).is_file():
            return data / name
    raise SelectError(f"--data {data}: no reference text ({', '.join(REF_CANDIDATES)}); name one with --ref")


#: the preprocessor_conf keys s2t_inference reads (its timestamp filter, the audio padding): an OWSM
#: release config has them all
TIME_KEYS = ("notime_symbol", "first_time_symbol", "last_time_symbol")
NEEDED_KEYS = (*TIME_KEYS, "fs", "speech_length")


def read_config(config: Path) -> dict:
    import yaml

    conf = yaml.safe_load(config.read_text())
    if not isinstance(conf, dict):
        raise SelectError(f"{config}: not an ESPnet training config")
    return conf


def token_list_of(config: Path, conf: dict) -> list[str]:
    tokens = conf.get("token_list")
    if isinstance(tokens, str):  # a path to tokens.txt
        path = Path(tokens)
        if not path.is_file():
            raise SelectError(f"{config}: token_list {tokens}: file not found")
        tokens = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if not isinstance(tokens, list):
        raise SelectError(f"{config}: no token_list (is this the config.yaml of an s2t training?)")
    return tokens


def check_inputs(exp: Path, data: Path, speech: str, lang_sym: str, task_sym: str) -> tuple[Path, dict[int, Path]]:
    if not exp.is_dir():
        raise SelectError(f"{exp}: not a directory")
    config = exp / "config.yaml"
    if not config.is_file():
        raise SelectError(f"{config}: not found (the exp dir of an espnet2.bin.s2t_train run has one)")
    files = sc.epoch_files(exp)
    if not files:
        raise SelectError(f"{exp}: no <N>epoch.pth checkpoint (keep_nbest_models kept none, or they were deleted)")
    if not (data / speech).is_file():
        raise SelectError(f"--data {data}: {speech} not found")
    conf = read_config(config)
    tokens = set(token_list_of(config, conf))
    pre = conf.get("preprocessor_conf") or {}
    lacking = [k for k in NEEDED_KEYS if k not in pre]
    if lacking:
        raise SelectError(f"{config}: preprocessor_conf has no {', '.join(lacking)} (espnet2.bin.s2t_inference "
                          f"needs {', '.join(NEEDED_KEYS)}; add them, e.g. notime_symbol: <notimestamps>, fs: 16000)")
    absent = [f"{k}={pre[k]}" for k in TIME_KEYS if pre[k] not in tokens]
    if absent:
        raise SelectError(f"{config}: preprocessor_conf {', '.join(absent)}: not in its token list")
    for opt, sym in (("--lang_sym", lang_sym), ("--task_sym", task_sym)):
        if sym not in tokens:
            specials = sorted(t for t in tokens if SPECIAL.fullmatch(t) and not re.fullmatch(r"<\d+\.\d+>", t))
            raise SelectError(f"{opt} {sym}: not in the token list of {config}; its special tokens: "
                              f"{' '.join(specials[:40])}{' ...' if len(specials) > 40 else ''}")
    return config, files


def decode_command(args, config: Path, ckpt: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "espnet_warmup", "-m", "espnet2.bin.s2t_inference",
            "--s2t_train_config", str(config), "--s2t_model_file", str(ckpt),
            "--data_path_and_name_and_type", f"{args.data / args.speech},speech,{args.speech_type}",
            "--output_dir", str(out), "--ngpu", str(args.ngpu), "--batch_size", "1",
            "--lang_sym", args.lang_sym, "--task_sym", args.task_sym,
            *(["--config", str(args.inference_config)] if args.inference_config else []),
            *shlex.split(args.inference_args)]


def run_decoder(cmd: list[str], log: Path) -> str | None:
    """Run the decoder in a session of its own (a stop signal to us is passed on to its tree);
    None when it succeeded, else how it ended."""
    from espnet_warmup.recipe.analysis.child import SignalRelay, describe_status, start_command

    with SignalRelay() as relay:
        child = start_command(cmd, log)
        relay.attach(child)
        child.wait()
    if relay.received is not None:
        raise KeyboardInterrupt(relay.received)
    return describe_status(child.returncode) if child.returncode != 0 else None


def decode_epoch(args, config: Path, ckpt: Path, key: dict, keys: list[str], ref: dict[str, str],
                 dest: Path) -> None:
    from espnet_warmup.recipe.scoring.scorer import score_dir

    with atomic_dir(dest) as tmp:
        (tmp / "logdir").mkdir()
        log = tmp / "logdir" / "decode.log"
        cmd = decode_command(args, config, ckpt, tmp / "logdir" / "output")
        (tmp / "logdir" / "command.sh").write_text(shlex.join(cmd) + "\n")
        # a failure: the temp dir goes, the decoder's log is kept beside the epoch's dir for the user
        kept = dest.with_name(f"{dest.name}.failed.log")

        def keep_log() -> Path:
            kept.write_bytes(log.read_bytes() if log.is_file() else b"")
            return kept

        failed = run_decoder(cmd, log)
        if failed:
            tail = "\n".join(keep_log().read_text(errors="replace").splitlines()[-15:])
            raise SelectError(f"{ckpt.name}: espnet2.bin.s2t_inference {failed}; log: {kept}\n{tail}")
        best = tmp / "logdir" / "output" / "1best_recog"
        hyp_file = best / "text_nospecial"
        if not hyp_file.is_file():
            hyp_file = best / "text"
        hyps = read_text(hyp_file, "hypothesis") if hyp_file.is_file() else {}
        missing = [k for k in keys if k not in hyps]
        if missing:
            raise SelectError(f"{ckpt.name}: the decoder wrote no hypothesis for {len(missing)} of {len(keys)} "
                              f"utterances (first: {', '.join(missing[:3])}); its log: {keep_log()}")
        (tmp / "text").write_text("".join(f"{k} {strip_special(hyps[k])}\n" for k in keys), encoding="utf-8")
        (tmp / "ref").write_text("".join(f"{k} {ref[k]}\n" for k in keys), encoding="utf-8")
        utt2spk = args.data / "utt2spk"
        if not utt2spk.is_file():
            utt2spk = tmp / "utt2spk"
            utt2spk.write_text("".join(f"{k} {k}\n" for k in keys))
        score_dir(tmp / "ref", tmp / "text", utt2spk, tmp, command=shlex.join(
            ["espnet-warmup", "select-s2t", *sys.argv[2:]]))
        (tmp / DONE).write_text(json.dumps(key, sort_keys=True) + "\n")
    kept.unlink(missing_ok=True)  # an earlier attempt's failure log: this one succeeded


def select(args) -> dict:
    args.exp, args.data = Path(args.exp), Path(args.data)
    config, files = check_inputs(args.exp, args.data, args.speech, args.lang_sym, args.task_sym)
    ref_path = find_ref(args.data, args.ref)
    ref = {k: strip_special(v) for k, v in read_text(ref_path, "reference").items()}
    keys = list(read_text(args.data / args.speech, "audio list"))
    missing = [k for k in keys if k not in ref]
    if missing:
        raise SelectError(f"{ref_path}: no reference for {len(missing)} of {len(keys)} utterances of "
                          f"{args.data / args.speech} (first: {', '.join(missing[:3])})")
    common = {"data": sha256(args.data / args.speech), "ref": sha256(ref_path), "config": sha256(config),
              "inference": decode_command(args, Path("CONFIG"), Path("MODEL"), Path("OUT"))[3:],
              "inference_config": sha256(args.inference_config) if args.inference_config else None}
    for epoch, ckpt in files.items():
        dest = args.exp / "select_wer" / ckpt.stem / args.set
        key = {**common, "model": sha256(ckpt)}
        done = dest / DONE
        if done.is_file() and (dest / "scores.json").is_file() and json.loads(done.read_text()) == key:
            print(f"select-s2t: {ckpt.name} on {args.set}: already decoded ({dest})", file=sys.stderr)
            continue
        print(f"select-s2t: decoding {args.data} with {ckpt} -> {dest}", file=sys.stderr)
        decode_epoch(args, config, ckpt, key, keys, ref, dest)
        wer = sc.read_score(dest)
        print(f"select-s2t: {ckpt.name}: dev WER {wer['wer']:.2f}% ({wer['word_errors']}/{wer['words']})",
              file=sys.stderr)
    return sc.select(args.exp, args.set, args.keep_only_best)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("exp", type=Path, help="the output_dir of an espnet2.bin.s2t_train run (config.yaml, <N>epoch.pth)")
    p.add_argument("--data", type=Path, required=True, help="the dev data dir (wav.scp and text.ctc/text)")
    p.add_argument("--set", required=True, help="its name: the results go to <exp>/select_wer/<N>epoch/<set>/")
    p.add_argument("--ref", type=Path, default=None,
                   help=f"reference text; default: the first of {', '.join(REF_CANDIDATES)} in --data "
                        "(<...> tokens are removed from it)")
    p.add_argument("--speech", default="wav.scp", help="the audio list in --data (default wav.scp)")
    p.add_argument("--speech_type", default="sound", help="its ESPnet data type (sound, kaldi_ark, ...)")
    p.add_argument("--lang_sym", default="<eng>", help="the language token the decoder is prompted with")
    p.add_argument("--task_sym", default="<asr>", help="the task token (default <asr>)")
    p.add_argument("--ngpu", type=int, default=0)
    p.add_argument("--inference_config", type=Path, default=None, help="a decoding config (--config of s2t_inference)")
    p.add_argument("--inference_args", default="", help='more s2t_inference options, e.g. "--beam_size 5"')
    p.add_argument("--keep_only_best", action="store_true", help="delete the other <N>epoch.pth files")


def run(args: argparse.Namespace) -> int:
    from espnet_warmup.recipe.scoring.text import ScoringInputError

    try:
        if args.inference_config is not None and not args.inference_config.is_file():
            raise SelectError(f"--inference_config {args.inference_config}: file not found")
        result = select(args)
    except SelectError as e:
        print(f"select-s2t: error: {e}", file=sys.stderr)
        return 1
    except ScoringInputError as e:
        print(f"select-s2t: error: scoring: {e}", file=sys.stderr)
        return 1
    except SystemExit as e:  # select_checkpoint's messages
        print(f"select-s2t: error: {e.code}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        signum = e.args[0] if e.args and isinstance(e.args[0], int) else 2
        print(f"select-s2t: stopped by signal {signum}: the epoch being decoded is not marked done", file=sys.stderr)
        return 128 + signum
    print(f"select-s2t: {args.exp}/{sc.BEST} -> {result['best_file']} (dev WER {result['wer']:.2f}%, "
          f"{len(result['rows'])} checkpoints; table: {args.exp}/{sc.TABLE}.md)", file=sys.stderr)
    return 0
