"""Prepare the embedded EN/IT corpus: plan, synthesize in parallel, write Kaldi data dirs (local/data.sh).

Steps: (1) check options, tools and voices; (2) plan every utterance (plan.py, deterministic given
--seed); (3) refuse to touch data dirs made from another configuration; (4) synthesize missing wavs
over --nj processes (wavs are cached by a hash of their settings, so a rerun or a resumed run only
makes what is missing); (5) write data/{train,dev,test}, validate them, then write the ``.done`` marker.

Markers per data dir: ``.corpus_config.json`` (what the dir holds; written before its files) and
``.done`` (written last). A dir without ``.done`` is an interrupted run of ours and is redone; a dir
whose configuration differs, or that we did not make, is never overwritten without --overwrite true.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import sys
import time

from espnet_warmup.recipe.data.embedded import datadir, plan, synth, voices
from espnet_warmup.options import KaldiArgumentParser
from espnet_warmup.recipe.data.embedded.validate import validate_data_dir

LOG = logging.getLogger("local/data.sh")
CONFIG_FILE = ".corpus_config.json"
DONE_FILE = ".done"

DESCRIPTION = """\
Synthesize the embedded English/Italian corpus with espeak-ng (offline) and write the Kaldi data dirs
<data_dir>/{train,dev,test} (wav.scp text utt2spk spk2utt utt2lang utt2dur). Dev and test speakers use
voice variants unseen in training. Options as in Kaldi: --foo-bar equals --foo_bar, each takes a value.
"""
EPILOG = """\
Corpora:
  digits     connected digit strings and ~37 command words per language (93 word types), ~1.6 s
             utterances; trains to <10% WER on held-out voices within minutes on a CPU (default)
  sentences  seeded sentences, ~250 words per language, ~3 s utterances; for longer runs

Examples:
  local/data.sh                                   # the default corpus into data/{train,dev,test}
  local/data.sh --corpus sentences --nj 4
  local/data.sh --num_train 40 --num_dev 8 --num_test 8    # a tiny corpus (CI)
"""


class PrepareError(RuntimeError):
    """Bad input or a state we must not overwrite; the message says what to do."""


def build_parser() -> KaldiArgumentParser:
    p = KaldiArgumentParser(
        prog="local/data.sh",
        description=DESCRIPTION,
        epilog=EPILOG)
    p.add_option("corpus", "digits", f"which corpus: {' | '.join(plan.GENERATORS)}")
    p.add_option("seed", 1, "random seed; the corpus is a deterministic function of it")
    p.add_option("nj", 2, "number of parallel synthesis processes")
    p.add_option("num_train", 5300, "number of training utterances")
    p.add_option("num_dev", 300, "number of dev utterances")
    p.add_option("num_test", 300, "number of test utterances")
    p.add_option("data_dir", "data", "where the Kaldi data dirs go")
    p.add_option("audio_dir", "downloads/synth", "where the wav files go (a cache shared by reruns)")
    p.add_option("en_voices", " ".join(voices.DEFAULT_VOICES["en"]), "espeak-ng voices for English")
    p.add_option("it_voices", " ".join(voices.DEFAULT_VOICES["it"]), "espeak-ng voices for Italian")
    for split in plan.SPLITS:
        p.add_option(f"{split}_variants", " ".join(voices.DEFAULT_VARIANTS[split]),
                     f"espeak-ng voice variants of the {split} speakers")
    p.add_option("overwrite", False, "replace data dirs that hold another corpus/seed/size")
    return p


def corpus_config(args) -> dict:
    """What a data dir's content depends on (compared on reruns)."""
    return {
        "corpus": args.corpus, "seed": args.seed,
        "num_train": args.num_train, "num_dev": args.num_dev, "num_test": args.num_test,
        "voices": {"en": args.en_voices.split(), "it": args.it_voices.split()},
        "variants": {split: getattr(args, f"{split}_variants").split() for split in plan.SPLITS},
        "plan_version": plan.PLAN_VERSION,
    }


def check_args(args) -> None:
    if args.corpus not in plan.GENERATORS:
        raise PrepareError(f"unknown --corpus {args.corpus!r}; allowed values: {', '.join(plan.GENERATORS)}")
    for name in ("nj", "num_train", "num_dev", "num_test"):
        if getattr(args, name) < 1:
            raise PrepareError(f"--{name} must be at least 1, got {getattr(args, name)}")


def _read_config(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _describe_difference(old: dict, new: dict) -> str:
    keys = [k for k in new if old.get(k) != new[k]] or ["unreadable configuration"]
    return ", ".join(f"{k}: {old.get(k)!r} -> {new[k]!r}" if k in old else k for k in keys)


def split_state(split_dir: str, config: dict) -> str:
    """``new`` (absent or empty), ``done`` (finished, same config), ``partial`` (ours, unfinished, same
    config), ``foreign`` (not made by us) or ``different: <what changed>`` (ours, another config)."""
    if not os.path.isdir(split_dir) or not os.listdir(split_dir):
        return "new"
    config_path = os.path.join(split_dir, CONFIG_FILE)
    if not os.path.exists(config_path):
        return "foreign"
    old = _read_config(config_path) or {}
    if old != config:
        return f"different: {_describe_difference(old, config)}"
    return "done" if os.path.exists(os.path.join(split_dir, DONE_FILE)) else "partial"


def check_overwrite(states: dict[str, str]) -> None:
    """Raise PrepareError naming the dirs we must not overwrite (``states``: dir -> split_state)."""
    foreign = [d for d, state in states.items() if state == "foreign"]
    if foreign:
        verb, them = ("exists and was", "it") if len(foreign) == 1 else ("exist and were", "them")
        raise PrepareError(f"{' '.join(foreign)} {verb} not made by local/data.sh; "
                           f"remove {them} or pass --overwrite true")
    different = [d for d, state in states.items() if state.startswith("different")]
    if different:
        what = states[different[0]].split(": ", 1)[1]
        verb, them = ("holds", "it") if len(different) == 1 else ("hold", "them")
        raise PrepareError(f"{' '.join(different)} {verb} a different corpus ({what}); "
                           f"remove {them} or pass --overwrite true")


def wav_path(audio_dir: str, corpus: str, utt: plan.Utterance) -> str:
    """Absolute wav path; the settings hash in the name makes the audio cache safe to share."""
    return os.path.abspath(os.path.join(audio_dir, corpus, utt.split, utt.speaker,
                                        f"{utt.uttid}_{utt.synthesis_key()}.wav"))


def _synthesize_job(job: tuple[plan.Utterance, str]) -> tuple[str, int]:
    utt, path = job
    return path, synth.synthesize_to(utt, path)


def synthesize_all(jobs: list[tuple[plan.Utterance, str]], nj: int) -> dict[str, int]:
    """Make every wav of ``jobs`` over ``nj`` processes; return path -> number of samples."""
    todo = [job for job in jobs if not os.path.exists(job[1])]
    LOG.info("synthesizing %d of %d utterances (%d already made) with nj=%d",
             len(todo), len(jobs), len(jobs) - len(todo), nj)
    start = time.monotonic()
    samples: dict[str, int] = {}
    if nj == 1 or len(todo) <= 1:
        results = map(_synthesize_job, todo)
        for path, n in results:
            samples[path] = n
    else:
        with multiprocessing.get_context("fork").Pool(nj) as pool:
            for path, n in pool.imap_unordered(_synthesize_job, todo, chunksize=8):
                samples[path] = n
    elapsed = time.monotonic() - start
    if todo:
        LOG.info("synthesized %d utterances in %.1f s: %.1f utt/s with nj=%d",
                 len(todo), elapsed, len(todo) / max(elapsed, 1e-9), nj)
    for utt, path in jobs:
        if path not in samples:
            samples[path] = synth.synthesize_to(utt, path)  # already there: reads the header only
    return samples


def _write_split(split_dir: str, config: dict, rows: list[dict]) -> None:
    os.makedirs(split_dir, exist_ok=True)
    done = os.path.join(split_dir, DONE_FILE)
    if os.path.exists(done):
        os.remove(done)
    datadir.write_lines_atomic(os.path.join(split_dir, CONFIG_FILE), [json.dumps(config, sort_keys=True)])
    datadir.write_data_dir(split_dir, rows)
    errors = validate_data_dir(split_dir, fs=synth.SAMPLE_RATE)
    if errors:  # a bug of ours, not the user's: keep the dir unmarked so it is redone
        raise PrepareError(f"{split_dir} failed validation:\n" + "\n".join(errors))
    datadir.write_lines_atomic(done, [time.strftime("%Y-%m-%dT%H:%M:%S")])


def _summary(split: str, rows: list[dict]) -> str:
    hours = sum(r["duration"] for r in rows) / 3600
    speakers = sorted({r["speaker"] for r in rows})
    langs = {lang: sum(r["lang"] == lang for r in rows) for lang in voices.LANGUAGES}
    mean = hours * 3600 / len(rows)
    return (f"{split}: {len(rows)} utterances ({', '.join(f'{k} {v}' for k, v in langs.items())}), "
            f"{hours:.2f} h, mean {mean:.2f} s, {len(speakers)} speakers")


def prepare(args) -> int:
    check_args(args)
    missing = synth.missing_tool_message()
    if missing:
        raise PrepareError(missing)
    config = corpus_config(args)
    try:
        voices.check_voices(config["voices"], config["variants"])
    except ValueError as e:
        raise PrepareError(str(e)) from None
    split_dirs = {split: os.path.join(args.data_dir, split) for split in plan.SPLITS}
    if args.overwrite:
        for split_dir in split_dirs.values():
            if os.path.isdir(split_dir):
                LOG.info("--overwrite true: removing %s", split_dir)
                shutil.rmtree(split_dir)
    states = {d: split_state(d, config) for d in split_dirs.values()}
    check_overwrite(states)
    if all(state == "done" for state in states.values()):
        problems = [e for d in split_dirs.values() for e in validate_data_dir(d, fs=synth.SAMPLE_RATE)]
        if not problems:
            LOG.info("%s already prepared (%s); nothing to do", ", ".join(split_dirs.values()), args.corpus)
            return 0
        LOG.warning("finished data dirs fail validation (%s); preparing them again", problems[0])
    sizes = {"train": args.num_train, "dev": args.num_dev, "test": args.num_test}
    LOG.info("planning the %r corpus (seed %d): %s", args.corpus, args.seed, sizes)
    try:
        plans = plan.plan_corpus(args.corpus, args.seed, sizes, config["voices"], config["variants"])
    except ValueError as e:
        raise PrepareError(str(e)) from None
    jobs = [(utt, wav_path(args.audio_dir, args.corpus, utt)) for split in plan.SPLITS for utt in plans[split]]
    samples = synthesize_all(jobs, args.nj)
    for split in plan.SPLITS:
        rows = [{"uttid": u.uttid, "speaker": u.speaker, "lang": u.lang, "text": u.text,
                 "wav": wav_path(args.audio_dir, args.corpus, u),
                 "duration": samples[wav_path(args.audio_dir, args.corpus, u)] / synth.SAMPLE_RATE}
                for u in plans[split]]
        _write_split(split_dirs[split], config, rows)
        LOG.info("wrote %s: %s", split_dirs[split], _summary(split, rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s (%(name)s) %(levelname)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    args = build_parser().parse_args(argv)
    try:
        return prepare(args)
    except (PrepareError, synth.SynthesisError) as e:
        print(f"local/data.sh: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
