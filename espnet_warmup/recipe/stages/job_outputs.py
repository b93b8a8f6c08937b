"""Merge the outputs of a split stage (a ``run.pl``/``slurm.pl`` ``JOB=1:N`` array) into the stage's output dir.

Job i of N writes its part of the outputs under ``<dir>/logdir``; the stage is finished once the
parts are merged (and the engine then writes ``<dir>/.done``). One subcommand per split stage:

- ``format`` (stage 3): ``logdir/wav.<i>.scp`` and ``logdir/utt2num_samples.<i>`` become
  ``<dir>/wav.scp`` and ``<dir>/utt2num_samples``, every line of every part in C (byte) order,
  as ``cat parts | LC_ALL=C sort``; plus ``<dir>/feats_type`` (``raw``) and ``<dir>/audio_format``.
- ``stats`` (stage 10): ``logdir/stats.<i>/`` are summed by ESPnet's
  ``espnet2.bin.aggregate_stats_dirs`` into ``<dir>/{train,valid}/``, each with
  ``text_shape.<token_type>``: every ``text_shape`` line ``<utt> <length>`` extended to
  ``<utt> <length>,<V>`` (V = lines of the token list), the shape ESPnet's batch-bins counting reads.
- ``decode`` (stage 12): ``logdir/output.<i>/1best_recog/{text,token,token_int,score}`` become
  ``<dir>/<file>`` sorted by utterance id; every key of the decoded set must have a hypothesis
  (a job that silently skipped utterances would otherwise inflate the score).

Command line::

    python -m espnet_warmup.recipe.stages.job_outputs format --nj 2 --audio_format wav dump/raw/org/train
    python -m espnet_warmup.recipe.stages.job_outputs stats --nj 2 --token_list data/token_list/word/tokens.txt \\
        --token_type word exp/asr_stats_raw_word
    python -m espnet_warmup.recipe.stages.job_outputs decode --nj 2 --keys dump/raw/test/wav.scp exp/asr_x/decode_y/test
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from espnet_warmup.options import KaldiArgumentParser
from espnet_warmup.recipe.atomic import atomic_dir, atomic_write_text
from espnet_warmup.recipe.datadir import DataDirError, read_kv, read_utf8_lines, write_kv

#: the files of a decoding job's 1best_recog/ (text is required, the others optional)
DECODE_FILES = ("text", "token", "token_int", "score")
#: the two parts of a collect-stats dir
STATS_PARTS = ("train", "valid")


def _job_files(nj: int, pattern: str, logdir: Path) -> list[Path]:
    """``logdir/<pattern with {j}>`` for j = 1..nj; a missing one names the job that failed."""
    files = [logdir / pattern.format(j=j) for j in range(1, nj + 1)]
    for j, f in enumerate(files, 1):
        if not f.exists():
            raise DataDirError(f"{f}: missing (did job {j} fail?)")
    return files


def concat_sorted(parts: list[Path]) -> str:
    """Every line of ``parts`` in C order (code-point order of str is UTF-8 byte order)."""
    lines: list[str] = []
    for p in parts:
        lines += read_utf8_lines(p)  # a line that is not UTF-8: DataDirError naming file and line
    return "".join(sorted(lines))


# --------------------------------------------------------------------------- stage 3
def merge_format(out_dir, nj: int, audio_format: str) -> int:
    """Stage 3: merge the per-job ``wav.scp``/``utt2num_samples``; return the number of utterances."""
    out = Path(out_dir)
    logdir = out / "logdir"
    wav = concat_sorted(_job_files(nj, "wav.{j}.scp", logdir))
    atomic_write_text(out / "utt2num_samples", concat_sorted(_job_files(nj, "utt2num_samples.{j}", logdir)))
    atomic_write_text(out / "wav.scp", wav)
    atomic_write_text(out / "feats_type", "raw\n")
    atomic_write_text(out / "audio_format", f"{audio_format}\n")
    return wav.count("\n")


# --------------------------------------------------------------------------- stage 10
def with_vocab_size(text_shape: str, vocab_size: int) -> str:
    """``<utt> <length>`` lines -> ``<utt> <length>,<vocab_size>`` (ESPnet's text_shape.<token_type>)."""
    return "".join(f"{line},{vocab_size}\n" for line in text_shape.splitlines())


def merge_stats(stats_dir, nj: int, token_list, token_type: str) -> None:
    """Stage 10: sum ``logdir/stats.{1..nj}`` into ``stats_dir/{train,valid}`` (each replaced whole)."""
    from espnet2.bin.aggregate_stats_dirs import aggregate_stats_dirs

    stats = Path(stats_dir)
    inputs = _job_files(nj, "stats.{j}", stats / "logdir")
    vocab_size = Path(token_list).read_bytes().count(b"\n")  # as wc -l
    with tempfile.TemporaryDirectory(prefix=".aggregate.", dir=stats) as work:
        aggregate_stats_dirs(input_dir=inputs, output_dir=work, log_level="INFO", skip_sum_stats=False)
        for part in STATS_PARTS:
            src = Path(work) / part
            shape = (src / "text_shape").read_text(encoding="utf-8")
            (src / f"text_shape.{token_type}").write_text(with_vocab_size(shape, vocab_size), encoding="utf-8")
            with atomic_dir(stats / part) as new:
                for entry in src.iterdir():
                    entry.rename(new / entry.name)


# --------------------------------------------------------------------------- stage 12
def merge_decode(decode_dir, nj: int, keys_file) -> int:
    """Stage 12: merge ``logdir/output.{1..nj}/1best_recog/*`` into ``decode_dir``; return #hypotheses."""
    d = Path(decode_dir)
    expected = set(read_kv(keys_file))
    for name in DECODE_FILES:
        parts = [d / "logdir" / f"output.{j}" / "1best_recog" / name for j in range(1, nj + 1)]
        if name != "text" and not any(p.is_file() for p in parts):
            continue  # optional outputs
        merged: dict[str, str] = {}
        for p in parts:
            if not p.is_file():
                raise DataDirError(f"{p}: missing (did decoding job {p.parents[1].name.split('.')[-1]} fail?)")
            merged.update(read_kv(p))
        if name == "text":
            missing = expected - set(merged)
            if missing:
                raise DataDirError(
                    f"{d}: {len(missing)} of {len(expected)} utterances have no hypothesis, e.g. {sorted(missing)[:3]}")
        write_kv(d / name, merged)
    return len(expected)


# --------------------------------------------------------------------------- CLI
def build_parser() -> KaldiArgumentParser:
    p = KaldiArgumentParser(prog="python -m espnet_warmup.recipe.stages.job_outputs",
                            description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=KaldiArgumentParser)
    f = sub.add_parser("format", help="stage 3")
    f.add_argument("--nj", type=int, required=True)
    f.add_option("audio_format", "wav", "the formatted audio's container, written to <dir>/audio_format")
    f.add_argument("dir")
    s = sub.add_parser("stats", help="stage 10")
    s.add_argument("--nj", type=int, required=True)
    s.add_argument("--token_list", required=True, help="tokens.txt (its line count is the vocabulary size)")
    s.add_argument("--token_type", required=True, help="suffix of text_shape.<token_type>")
    s.add_argument("dir")
    d = sub.add_parser("decode", help="stage 12")
    d.add_argument("--nj", type=int, required=True)
    d.add_argument("--keys", required=True, help="scp whose keys were decoded (e.g. the set's wav.scp)")
    d.add_argument("dir")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.cmd == "format":
            n = merge_format(args.dir, args.nj, args.audio_format)
            print(f"job_outputs: {n} utterances -> {args.dir}/wav.scp", file=sys.stderr)
        elif args.cmd == "stats":
            merge_stats(args.dir, args.nj, args.token_list, args.token_type)
            print(f"job_outputs: statistics of {args.nj} jobs -> {args.dir}/{{train,valid}}", file=sys.stderr)
        else:
            n = merge_decode(args.dir, args.nj, args.keys)
            print(f"job_outputs: {n} hypotheses -> {args.dir}/text", file=sys.stderr)
    except (DataDirError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
