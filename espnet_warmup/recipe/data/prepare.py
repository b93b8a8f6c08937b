"""Data preparation, the one driver behind both recipes' ``local/data.sh``: --corpus values -> Kaldi data dirs.

    python -m espnet_warmup.recipe.data.prepare --corpus librispeech --corpus mls_it [--nj 8] [--data_dir data]
    python -m espnet_warmup.recipe.data.prepare --corpus digits [--num_train 40 ...]   # the embedded corpus

Each ``--corpus`` value names a source of the catalog (:mod:`espnet_warmup.recipe.data.catalog`);
each source says which steps prepare it (:data:`PIPELINES`):

- the embedded corpora (``digits``, ``sentences``): plan, synthesize the missing wavs, write
  ``<data_dir>/{train,dev,test}`` (:mod:`espnet_warmup.recipe.data.sources.embedded`);
- real corpora and Kaldi dirs (:func:`prepare_corpora`), roots from the environment (db.sh, read
  by local/data.sh with ``set -a``; each reader's ``db_var``, listed by ``--help``) or
  ``--db NAME=PATH``:

  1. check every root and layout first, so a wrong root fails before any long work (exit 1,
     showing the expected layout), and every input that must be refused as a whole (a Kaldi dir
     with a duplicate id or a line that is not UTF-8: exit 1 naming file:line of both, nothing
     written into ``--data_dir``);
  2. per corpus, language and standard split: read the metadata, normalise texts, drop
     duplicate ids, check and measure the audio in ``--nj`` processes (progress bar; a
     segmented Kaldi dir's segments are cut into ``<part>/wav/``, a Kaldi dir's ``cmd |``
     entries are run once, see :mod:`segments`), and write
     ``<data_dir>/local/<corpus>_<lang>_<split>/`` with ``excluded.txt`` listing every dropped
     utterance and why (a part finished from the same source is skipped on rerun);
  3. write ``<data_dir>/train`` and ``<data_dir>/dev`` (all training / development parts combined)
     and one ``<data_dir>/test_<corpus>_<lang>_<split>`` per test part, and
     ``<data_dir>/nlsyms.txt`` with the language tags (for BPE training as user symbols);
  4. validate every set written (:func:`espnet_warmup.recipe.datadir.validate`, the validator
     asr.sh runs) and print a report: utterances and hours kept per part, excluded counts by reason.

Both write ``<data_dir>/test_sets`` (one line: the test set names, for ``asr.sh --test_sets auto``).
Every data dir is swapped in whole with its ``.done`` marker holding what it was made from.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from espnet_warmup.options import KaldiArgumentParser, str_to_bool
from espnet_warmup.recipe import datadir
from espnet_warmup.recipe.atomic import atomic_write_text
from espnet_warmup.recipe.data.audio import probe_all
from espnet_warmup.recipe.data.base import CorpusSpecError, CorpusUtterance, DataPrepError, Excluded, LayoutError
from espnet_warmup.recipe.data.catalog import CorpusSpec, corpora_help, corpus_names, parse_spec, test_set_names
from espnet_warmup.recipe.data.combine import combine, drop_duplicates
from espnet_warmup.recipe.data.sets import write_test_sets
from espnet_warmup.recipe.data.segments import CUT_DIR, cut_segments, probe_pipes, source_stamp
from espnet_warmup.recipe.data.sources import embedded
from espnet_warmup.recipe.data.sources.kaldi_dir import read_data_dir
from espnet_warmup.recipe.wavscp import is_file_entry, is_pipe_entry

#: bump when the output format changes, so finished parts are redone
FORMAT_VERSION = "corpora-v1"


@dataclass
class Part:
    """One corpus/language/split to prepare, and its result."""

    spec: CorpusSpec
    split: str
    role: str
    source_dir: Path
    utts: list[CorpusUtterance] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    note: str = ""  # extra words for the report line (what was cut)

    @property
    def name(self) -> str:
        return self.spec.reader.part_name(self.spec.lang, self.split)

    @property
    def set_name(self) -> str:
        """The data/<set> it goes into: every train part into train, every dev part into dev,
        each test part into a set of its own."""
        return f"test_{self.name}" if self.role == "test" else self.role


def plan(specs: list[CorpusSpec], overrides: dict[str, str], log) -> list[Part]:
    """Check every root and layout (fail fast) and list the parts to prepare."""
    parts: list[Part] = []
    for spec in specs:
        reader = spec.reader
        root = reader.root(overrides, spec.label)
        lang_dir, found = reader.available_splits(root, spec.lang)
        missing = [s for s in reader.splits if s not in found]
        if missing:
            log(f"WARNING: {spec.label}: standard split(s) not found under {lang_dir}, skipped: {' '.join(missing)}")
        parts += [Part(spec, split, role, lang_dir) for split, role in found.items()]
    return parts


def present_test_sets(specs: list[CorpusSpec], overrides: dict[str, str]) -> list[str]:
    """The test sets data prep will write: from the splits on disk when every root is
    readable, else the standard ones (stage 1 then stops with the layout error)."""
    try:
        parts = plan(specs, overrides, log=lambda msg: None)
    except LayoutError:
        return test_set_names(specs)
    return [p.set_name for p in parts if p.role == "test"]


def _base_signature(part: Part) -> str:
    return f"{FORMAT_VERSION} {part.spec.label} {part.split} {part.source_dir.resolve()}"


def signature(part: Part) -> str:
    """What a finished part was made from; a rerun skips the part only if it is unchanged
    (the corpus root, and for a user's Kaldi dir also the state of its files)."""
    return _base_signature(part) + part.spec.reader.source_files(part.source_dir)


def _cut(part: Part, utts: list[CorpusUtterance], out_dir: Path, nj: int, progress: bool):
    """Cut the segments of a segmented dir's utterances into out_dir/wav (they get their durations)."""
    segmented = [u for u in utts if u.segment is not None]
    if not segmented:
        return utts, [], ()
    # the cuts depend on segments + wav.scp only: a transcript fix keeps them
    stamp = source_stamp(part.source_dir, _base_signature(part))
    cut, uncut, part.note = cut_segments(segmented, out_dir / CUT_DIR, stamp,
                                         nj=nj, desc=f"{part.name} (cut)", progress=progress)
    return cut + [u for u in utts if u.segment is None], uncut, (CUT_DIR,)


def prepare_part(part: Part, out_dir: Path, nj: int, progress: bool) -> None:
    """Read, check and write one part (skipped if already done from the same source)."""
    sig = signature(part)
    if datadir.is_done(out_dir, sig):
        part.utts = [u for u in read_data_dir(out_dir) if isinstance(u, CorpusUtterance)]
        part.excluded = Excluded.read_all(out_dir)
        return
    records = list(part.spec.reader.read_split(part.source_dir, part.spec.lang, part.split))
    utts, dups = drop_duplicates([r for r in records if isinstance(r, CorpusUtterance)], "")
    excluded = [r for r in records if isinstance(r, Excluded)]
    utts, uncut, keep = _cut(part, utts, out_dir, nj, progress)
    to_probe = [u for u in utts if is_file_entry(u.audio) and u.duration is None]
    probed, bad = probe_all(to_probe, nj=nj, desc=part.name, progress=progress) if to_probe else ([], [])
    pipes = [u for u in utts if is_pipe_entry(u.audio)]  # run once each: a failing command is excluded here
    ran, failed = probe_pipes(pipes, nj=nj, desc=f"{part.name} (cmd |)", progress=progress) if pipes else ([], [])
    probed_ids = {u.utt_id for u in to_probe + pipes}
    part.utts = probed + ran + [u for u in utts if u.utt_id not in probed_ids]
    part.excluded = excluded + uncut + dups + bad + failed
    datadir.write_data_dir(out_dir, part.utts, excluded=part.excluded, signature=sig, keep=keep)


def reason_counts(excluded: list[Excluded]) -> str:
    # Group by the reason's head ("audio file missing: /x.flac" -> "audio file missing").
    heads = Counter(e.reason.split(":")[0].split(" (")[0] for e in excluded)
    return ", ".join(f"{n} {why}" for why, n in heads.most_common())


def _hours(utts: list[CorpusUtterance]) -> str:
    seconds = sum(u.duration or 0.0 for u in utts)
    return f"{seconds / 3600:.2f} h" if seconds >= 36 else f"{seconds:.1f} s"


def _excluded_note(excluded: list[Excluded], where: Path, verb: str) -> str:
    return f"; {len(excluded)} excluded ({reason_counts(excluded)}), {verb} {where}/excluded.txt" if excluded else ""


def prepare_parts(parts: list[Part], data: Path, nj: int, progress: bool, log) -> None:
    """Prepare every part into ``<data>/local/<part>`` and log one report line each."""
    for part in parts:
        out = data / "local" / part.name
        prepare_part(part, out, nj, progress)
        line = f"{part.spec.label} {part.split} ({part.role}): {len(part.utts)} utterances, {_hours(part.utts)}"
        line += _excluded_note(part.excluded, out, "listed in")
        log(line + (f"; {part.note}" if part.note else ""))


def combine_sets(parts: list[Part], data: Path, log) -> list[str]:
    """Write the recipe's sets from the parts (see :attr:`Part.set_name`); return their names."""
    sets: dict[str, list[Part]] = {"train": [], "dev": []}
    for part in parts:
        sets.setdefault(part.set_name, []).append(part)
    for name, members in sets.items():
        if not members:
            log(f"WARNING: no {name} data among the corpora given; {data}/{name} not written")
            continue
        utts, dups = combine([(p.name, p.utts) for p in members])
        excluded = [e for p in members for e in p.excluded] + dups
        datadir.write_data_dir(data / name, utts, excluded=excluded, signature=" ".join(signature(p) for p in members))
        langs = " ".join(sorted({u.lang for u in utts}))
        log(f"{data}/{name}: {len(utts)} utterances, {_hours(utts)}, languages {langs}"
            + _excluded_note(excluded, data / name, "see"))
        if not utts:
            log(f"WARNING: {data}/{name} has no utterances left; see {data}/{name}/excluded.txt")
    return [name for name, members in sets.items() if members]


def validate_sets(data: Path, names: list[str]) -> list[str]:
    """The problems of the sets written (empty sets aside: they are reported already), by the
    validator asr.sh runs after stage 1 (audio was checked while preparing the parts)."""
    return [p for name in names if (data / name / "utt2spk").stat().st_size for p in datadir.validate(data / name)]


def write_nlsyms(parts: list[Part], data: Path) -> None:
    """``<data>/nlsyms.txt``: the language tags, for BPE training as user symbols."""
    langs = sorted({u.lang for p in parts for u in p.utts})
    atomic_write_text(data / "nlsyms.txt", "".join(f"{datadir.lang_tag(lang)}\n" for lang in langs))


def report_rates(parts: list[Part], log) -> None:
    rates = Counter(u.sample_rate for p in parts for u in p.utts if u.sample_rate)
    log(f"sample rates: {', '.join(f'{sr} Hz: {n}' for sr, n in sorted(rates.items()))} "
        "(the format stage resamples to --fs)")


def parse_specs(args: argparse.Namespace) -> list[CorpusSpec]:
    specs = [parse_spec(v) for vals in args.corpus for val in vals for v in val.split()]
    if not specs and args.default_corpus:
        specs = [parse_spec(args.default_corpus)]
    if not specs:
        raise CorpusSpecError("no --corpus given; allowed: " + ", ".join(corpus_names()))
    return specs


def prepare_corpora(specs: list[CorpusSpec], args: argparse.Namespace, log) -> int:
    """The steps for real corpora and Kaldi dirs (module docstring)."""
    data = Path(args.data_dir)
    nj = min(os.cpu_count() or 1, 32) if args.nj is None else args.nj
    parts = plan(specs, dict(kv.split("=", 1) for kv in args.db), log)
    for part in parts:  # refuse a whole input before writing anything
        part.spec.reader.check(part.source_dir)
    prepare_parts(parts, data, nj, sys.stderr.isatty() if args.progress is None else args.progress, log)
    names = combine_sets(parts, data, log)
    problems = validate_sets(data, names)
    for problem in problems:
        print(f"local/data.sh: ERROR: {problem}", file=sys.stderr)
    write_nlsyms(parts, data)
    test_sets = [n for n in names if n.startswith("test_")]
    write_test_sets(test_sets, data)
    report_rates(parts, log)
    log(f"test sets: {' '.join(test_sets)}")
    return 1 if problems else 0


@dataclass(frozen=True)
class Pipeline:
    """The steps that prepare one kind of source, and the test sets they will write."""

    prepare: Callable[[list[CorpusSpec], argparse.Namespace, Callable[[str], None]], int]
    test_sets: Callable[[list[CorpusSpec], dict[str, str]], list[str]]


#: the steps of each kind of source (its ``pipeline``): synthesis for the embedded corpora,
#: read + check + combine for the real corpora and Kaldi dirs
PIPELINES = {
    "corpora": Pipeline(prepare_corpora, present_test_sets),
    "embedded": Pipeline(embedded.prepare, lambda specs, overrides: list(embedded.TEST_SETS)),
}


def pipeline_of(specs: list[CorpusSpec]) -> Pipeline:
    kinds = {s.reader.pipeline for s in specs}
    if len(kinds) > 1:
        raise CorpusSpecError(f"the embedded corpora ({', '.join(embedded.CORPORA)}) cannot be prepared "
                              f"together with other corpora; got --corpus {' '.join(s.label for s in specs)}")
    return PIPELINES[kinds.pop()]


def run(args: argparse.Namespace) -> int:
    log = lambda msg: print(f"local/data.sh: {msg}", flush=True)  # noqa: E731
    try:
        specs = parse_specs(args)
        pipeline = pipeline_of(specs)
        if args.print_test_sets:
            print(" ".join(pipeline.test_sets(specs, dict(kv.split("=", 1) for kv in args.db))))
            return 0
        return pipeline.prepare(specs, args, log)
    except datadir.DataDirError as e:  # one line per problem, each naming its file and line
        for problem in e.problems:
            print(f"local/data.sh: ERROR: {problem}", file=sys.stderr)
        return 1
    except DataPrepError as e:
        print(f"local/data.sh: ERROR: {e}", file=sys.stderr)
        return 1


DESCRIPTION = """\
Prepare Kaldi data dirs (wav.scp text utt2spk spk2utt utt2lang utt2dur) from the corpora named by
--corpus: an embedded corpus synthesized offline, or real corpora in their published layouts and
existing Kaldi dirs. Options as in Kaldi: --foo-bar equals --foo_bar.
"""
EXAMPLES = """

Examples:
  local/data.sh --corpus digits                   # the embedded corpus into data/{train,dev,test}
  local/data.sh --corpus sentences --nj 4
  local/data.sh --corpus digits --num_train 40 --num_dev 8 --num_test 8    # a tiny corpus (CI)
  local/data.sh --corpus "librispeech mls_it" --nj 16   # real corpora (roots in db.sh)
"""


def build_parser() -> KaldiArgumentParser:
    parser = KaldiArgumentParser(prog="local/data.sh", description=DESCRIPTION, epilog=corpora_help() + EXAMPLES)
    parser.add_argument("--corpus", action="append", nargs="+", default=[], metavar="NAME",
                        help="corpus to prepare, repeatable (or a space-separated list): "
                             + ", ".join(corpus_names()))
    parser.add_option("default_corpus", "", "the corpus when no --corpus is given (the root recipe's: digits)")
    parser.add_option("data_dir", "data", "where the data dirs go")
    parser.add_argument("--nj", type=int, default=None, metavar="INT",
                        help=f"parallel processes: synthesis (default: {embedded.DEFAULT_NJ}), or audio checks "
                             "and segment cutting (default: the number of CPUs, at most 32)")
    parser.add_argument("--db", action="append", default=[], metavar="VAR=PATH", help="override a db.sh corpus root")
    parser.add_argument("--print_test_sets", action="store_true",
                        help="only print the names of the test sets the given corpora yield (for run.sh) and exit")
    parser.add_argument("--progress", default=None, type=str_to_bool, metavar="true|false",
                        help="show progress bars (default: when stderr is a terminal)")
    embedded.add_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s (%(name)s) %(levelname)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
