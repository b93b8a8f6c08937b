"""The embedded EN/IT corpus as a source (``--corpus digits|sentences``): plan, synthesize, write data dirs.

The synthesis helpers live in :mod:`espnet_warmup.recipe.data.embedded` (text generators, voices,
the plan, espeak-ng + sox); this module is the source the driver
(:mod:`espnet_warmup.recipe.data.prepare`) runs for a ``--corpus`` naming one of :data:`CORPORA`.

Steps: (1) check options, tools and voices; (2) plan every utterance (plan.py, deterministic given
--seed); (3) refuse to touch data dirs made from another configuration; (4) synthesize missing wavs
over --nj processes (wavs are cached by a hash of their settings, so a rerun or a resumed run only
makes what is missing); (5) write data/{train,dev,test} (each built aside, validated, then swapped in
with its ``.done`` marker: :func:`espnet_warmup.recipe.datadir.write_data_dir`) and ``<data_dir>/test_sets``;
(6) with --num_adapt (and --num_adapt_dev), data/adapt (and data/adapt_dev): the test speakers saying texts
unseen in dev and test, the training data for fine-tuning a model to the held-out voices
(:func:`~espnet_warmup.recipe.data.embedded.plan.plan_adaptation`; their marker is :func:`adapt_config`).

Marker: ``<dir>/.done`` holds the dir's signature, here the JSON of :func:`corpus_config` (what the dir
holds). A dir whose configuration differs, or that we did not make (no ``.done`` with a configuration),
is never overwritten without --overwrite true.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import os
import shutil
import time
from pathlib import Path

from espnet_warmup.recipe import datadir
from espnet_warmup.recipe.data.base import DataPrepError
from espnet_warmup.recipe.data.embedded import plan, synth, voices
from espnet_warmup.recipe.data.sets import write_test_sets

LOG = logging.getLogger("local/data.sh")

#: the embedded corpora, the ``--corpus`` values of this source
CORPORA = tuple(plan.GENERATORS)
#: the test sets written (data/test)
TEST_SETS = ("test",)
#: --nj when not given: the synthesis processes (a laptop's cores, shared)
DEFAULT_NJ = 2
HELP = """\
Embedded corpora (synthesized offline with espeak-ng into <data_dir>/{train,dev,test}; dev and test
speakers use voice variants unseen in training; options --seed ... --overwrite):
  digits     connected digit strings and ~37 command words per language (93 word types), ~1.6 s
             utterances; trains to <10% WER on held-out voices within minutes on a CPU
  sentences  seeded sentences, ~250 words per language, ~3 s utterances; for longer runs"""


class PrepareError(DataPrepError, RuntimeError):
    """Bad input or a state we must not overwrite; the message says what to do."""


class EmbeddedSource:
    """One embedded corpus (``digits`` or ``sentences``) as a catalog entry."""

    pipeline = "embedded"

    def __init__(self, corpus: str):
        self.name = corpus

    def label(self, lang: str) -> str:
        return self.name


def add_options(p) -> None:
    """The options of the embedded corpora (the driver adds --corpus, --nj, --data_dir)."""
    p.add_option("seed", 1, "embedded corpus: random seed; the corpus is a deterministic function of it")
    p.add_option("num_train", 5300, "embedded corpus: number of training utterances")
    p.add_option("num_dev", 300, "embedded corpus: number of dev utterances")
    p.add_option("num_test", 300, "embedded corpus: number of test utterances")
    p.add_option("audio_dir", "downloads/synth", "embedded corpus: where the wav files go (a cache shared by reruns)")
    p.add_option("en_voices", " ".join(voices.DEFAULT_VOICES["en"]), "embedded corpus: espeak-ng voices for English")
    p.add_option("it_voices", " ".join(voices.DEFAULT_VOICES["it"]), "embedded corpus: espeak-ng voices for Italian")
    for split in plan.SPLITS:
        p.add_option(f"{split}_variants", " ".join(voices.DEFAULT_VARIANTS[split]),
                     f"embedded corpus: espeak-ng voice variants of the {split} speakers")
    p.add_option("num_adapt", 0, "embedded corpus: utterances of an adaptation set spoken by the test speakers, "
                 "texts unseen in dev and test (data/adapt; 0: none): fine-tuning to the held-out voices")
    p.add_option("num_adapt_dev", 0, "embedded corpus: utterances of its dev set (data/adapt_dev: the test "
                 "speakers, texts unseen in adapt, dev and test; 0: none)")
    p.add_option("overwrite", False, "embedded corpus: replace data dirs that hold another corpus/seed/size")


def corpus_config(args) -> dict:
    """What a data dir's content depends on (compared on reruns)."""
    return {
        "corpus": args.corpus, "seed": args.seed,
        "num_train": args.num_train, "num_dev": args.num_dev, "num_test": args.num_test,
        "voices": {"en": args.en_voices.split(), "it": args.it_voices.split()},
        "variants": {split: getattr(args, f"{split}_variants").split() for split in plan.SPLITS},
        "plan_version": plan.PLAN_VERSION,
    }


def adapt_config(args) -> dict | None:
    """What the adaptation dirs' content depends on: the corpus's configuration (their speakers and the
    texts they avoid come from it) and their sizes; None without --num_adapt. The main splits' own
    configuration does not include these, so adding an adaptation set leaves finished data dirs alone."""
    if not args.num_adapt:
        return None
    return {**corpus_config(args), "num_adapt": args.num_adapt, "num_adapt_dev": args.num_adapt_dev}


def check_args(args) -> None:
    for name in ("nj", "num_train", "num_dev", "num_test"):
        if getattr(args, name) < 1:
            raise PrepareError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name in ("num_adapt", "num_adapt_dev"):
        if getattr(args, name) < 0:
            raise PrepareError(f"--{name} must be at least 0 (0: no such set), got {getattr(args, name)}")
    if args.num_adapt_dev and not args.num_adapt:
        raise PrepareError(f"--num_adapt_dev {args.num_adapt_dev} needs --num_adapt (the adaptation set it "
                           "is the dev set of); got --num_adapt 0")


def signature(config: dict) -> str:
    """The ``.done`` content of a data dir holding ``config``."""
    return json.dumps(config, sort_keys=True)


def _recorded_config(split_dir: str) -> dict | None:
    """The configuration in ``split_dir``'s marker, None if it has none of ours."""
    try:
        config = json.loads(datadir.read_signature(split_dir) or "")
    except ValueError:
        return None
    return config if isinstance(config, dict) and "plan_version" in config else None


def _describe_difference(old: dict, new: dict) -> str:
    keys = [k for k in new if old.get(k) != new[k]] or ["unreadable configuration"]
    return ", ".join(f"{k}: {old.get(k)!r} -> {new[k]!r}" if k in old else k for k in keys)


def split_state(split_dir: str, config: dict) -> str:
    """``new`` (absent or empty), ``done`` (finished, same config), ``foreign`` (not made by us) or
    ``different: <what changed>`` (ours, another config). A dir of ours is always complete (it is
    swapped in whole with its marker), so there is no unfinished state of ours to resume."""
    if not os.path.isdir(split_dir) or not os.listdir(split_dir):
        return "new"
    old = _recorded_config(split_dir)
    if old is None:
        return "foreign"
    if old != config:
        return f"different: {_describe_difference(old, config)}"
    return "done"


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


def wav_path(audio_dir: str, corpus: str, utt: plan.PlannedUtterance) -> str:
    """Absolute wav path; the settings hash in the name makes the audio cache safe to share."""
    return os.path.abspath(os.path.join(audio_dir, corpus, utt.split, utt.speaker,
                                        f"{utt.utt_id}_{utt.synthesis_key()}.wav"))


def _synthesize_job(job: tuple[plan.PlannedUtterance, str]) -> tuple[str, int]:
    utt, path = job
    return path, synth.synthesize_to(utt, path)


def synthesize_all(jobs: list[tuple[plan.PlannedUtterance, str]], nj: int) -> dict[str, int]:
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


@dataclasses.dataclass(frozen=True)
class SynthesizedUtterance:
    """A planned utterance with its wav: the record :func:`espnet_warmup.recipe.datadir.write_data_dir` writes."""

    utt_id: str
    speaker: str
    lang: str
    text: str
    audio: str
    duration: float


def validate_split(split_dir) -> list[str]:
    """The one data-dir validator (:func:`espnet_warmup.recipe.datadir.validate`, asr.sh's), with the
    audio checks on: every wav exists and is readable at the corpus's sample rate."""
    return datadir.validate(split_dir, check_audio=True, fs=synth.SAMPLE_RATE)


def _write_split(split_dir: str, config: dict, utts: list[SynthesizedUtterance]) -> None:
    try:
        # utt2dur with 4 decimals (the samples of a 16 kHz wav are 62.5 us apart).
        datadir.write_data_dir(split_dir, utts, signature=signature(config), duration_digits=4,
                               check=validate_split)
    except datadir.DataDirError as e:  # a bug of ours, not the user's: the old dir stays, unmarked ones are redone
        raise PrepareError(f"{split_dir} failed validation:\n{e}") from None


def _summary(split: str, utts: list[SynthesizedUtterance]) -> str:
    hours = sum(u.duration for u in utts) / 3600
    speakers = sorted({u.speaker for u in utts})
    langs = {lang: sum(u.lang == lang for u in utts) for lang in voices.LANGUAGES}
    mean = hours * 3600 / len(utts)
    return (f"{split}: {len(utts)} utterances ({', '.join(f'{k} {v}' for k, v in langs.items())}), "
            f"{hours:.2f} h, mean {mean:.2f} s, {len(speakers)} speakers")


def check_setup(args) -> dict:
    """Check the options, the tools and the voices; return the corpus configuration."""
    check_args(args)
    missing = synth.missing_tool_message()
    if missing:
        raise PrepareError(missing)
    config = corpus_config(args)
    try:
        voices.check_voices(config["voices"], config["variants"])
    except ValueError as e:
        raise PrepareError(str(e)) from None
    return config


def remove_dirs(dirs) -> None:
    for d in dirs:
        if os.path.isdir(d):
            LOG.info("--overwrite true: removing %s", d)
            shutil.rmtree(d)


def finished(split_dirs: dict[str, str], config: dict) -> bool:
    """True if every split dir holds ``config`` and passes validation (e.g. no wav was deleted)."""
    if any(split_state(d, config) != "done" for d in split_dirs.values()):
        return False
    problems = [e for d in split_dirs.values() for e in validate_split(d)]
    if problems:
        LOG.warning("finished data dirs fail validation (%s); preparing them again", problems[0])
    return not problems


def synthesize_splits(args, config: dict) -> dict[str, list[SynthesizedUtterance]]:
    """Plan every split and synthesize the wavs not in the cache (one pool for all splits)."""
    sizes = {"train": args.num_train, "dev": args.num_dev, "test": args.num_test}
    LOG.info("planning the %r corpus (seed %d): %s", args.corpus, args.seed, sizes)
    try:
        plans = plan.plan_corpus(args.corpus, args.seed, sizes, config["voices"], config["variants"])
    except ValueError as e:
        raise PrepareError(str(e)) from None
    return _synthesize(args, plans)


def synthesize_adaptation(args, config: dict) -> dict[str, list[SynthesizedUtterance]]:
    """Plan and synthesize the adaptation sets of --num_adapt/--num_adapt_dev (the non-empty ones)."""
    sizes = {"train": args.num_train, "dev": args.num_dev, "test": args.num_test}
    adapt_sizes = {"adapt": args.num_adapt, "adapt_dev": args.num_adapt_dev}
    LOG.info("planning the adaptation sets of the %r corpus (seed %d; the test speakers): %s",
             args.corpus, args.seed, adapt_sizes)
    try:
        main = plan.plan_corpus(args.corpus, args.seed, sizes, config["voices"], config["variants"])
        plans = plan.plan_adaptation(args.corpus, args.seed, adapt_sizes, config["voices"], config["variants"], main)
    except ValueError as e:
        raise PrepareError(str(e)) from None
    return _synthesize(args, {split: utts for split, utts in plans.items() if utts})


def _synthesize(args, plans: dict[str, list[plan.PlannedUtterance]]) -> dict[str, list[SynthesizedUtterance]]:
    wavs = {u: wav_path(args.audio_dir, args.corpus, u) for utts in plans.values() for u in utts}
    samples = synthesize_all(list(wavs.items()), args.nj)
    return {split: [SynthesizedUtterance(u.utt_id, u.speaker, u.lang, u.text, wavs[u], samples[wavs[u]] / synth.SAMPLE_RATE)
                    for u in utts] for split, utts in plans.items()}


def prepare(specs, args, log=None) -> int:
    """Prepare the one embedded corpus of ``specs`` into ``args.data_dir`` (the driver's entry)."""
    if len(specs) != 1:
        raise PrepareError(f"the embedded corpora ({', '.join(CORPORA)}) are prepared one at a time, "
                           f"and not with other corpora; got --corpus {' '.join(s.label for s in specs)}")
    args = argparse.Namespace(**{**vars(args), "corpus": specs[0].reader.name,
                                 "nj": DEFAULT_NJ if args.nj is None else args.nj})
    config = check_setup(args)
    split_dirs = {split: os.path.join(args.data_dir, split) for split in plan.SPLITS}
    adapt = adapt_config(args)
    adapt_dirs = {split: os.path.join(args.data_dir, split) for split in plan.ADAPT_SPLITS
                  if getattr(args, f"num_{split}")} if adapt else {}
    if args.overwrite:
        remove_dirs([*split_dirs.values(), *adapt_dirs.values()])
    check_overwrite({**{d: split_state(d, config) for d in split_dirs.values()},
                     **{d: split_state(d, adapt) for d in adapt_dirs.values()}})
    if finished(split_dirs, config):
        LOG.info("%s already prepared (%s); nothing to do", ", ".join(split_dirs.values()), args.corpus)
    else:
        for split, utts in synthesize_splits(args, config).items():
            _write_split(split_dirs[split], config, utts)
            LOG.info("wrote %s: %s", split_dirs[split], _summary(split, utts))
    if adapt_dirs and finished(adapt_dirs, adapt):
        LOG.info("%s already prepared (%s); nothing to do", ", ".join(adapt_dirs.values()), args.corpus)
    elif adapt_dirs:
        for split, utts in synthesize_adaptation(args, config).items():
            _write_split(adapt_dirs[split], adapt, utts)
            LOG.info("wrote %s: %s", adapt_dirs[split], _summary(split, utts))
    write_test_sets(list(TEST_SETS), Path(args.data_dir))
    return 0
