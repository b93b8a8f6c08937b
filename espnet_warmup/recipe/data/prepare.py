"""Prepare Kaldi data dirs from real corpora: the logic behind ``local/data.sh``.

    python -m espnet_warmup.recipe.data.prepare --corpus librispeech --corpus mls_it [--nj 8] [--data_dir data]

Corpus roots come from the environment (db.sh's LIBRISPEECH, MLS, COMMONVOICE, FLEURS,
VOXPOPULI, exported by local/data.sh) or ``--db NAME=PATH``. Steps:

1. parse every ``--corpus`` and check every root and layout first, so a wrong root fails
   before any long work (exit 1, showing the expected layout);
2. per corpus, language and standard split: read the metadata, normalise texts, drop
   duplicate ids, check and measure the audio in ``--nj`` processes (progress bar; a
   segmented Kaldi dir's segments are cut into ``<part>/wav/``, see :mod:`segments`), and write
   ``<data_dir>/local/<corpus>_<lang>_<split>/`` with ``excluded.txt`` listing every dropped
   utterance and why (a finished part is skipped on rerun);
3. write ``<data_dir>/train`` and ``<data_dir>/dev`` (all training / development parts combined)
   and one ``<data_dir>/test_<corpus>_<lang>_<split>`` per test part, and
   ``<data_dir>/nlsyms.txt`` with the language tags (for BPE training as user symbols);
4. print a report: utterances and hours kept per part, excluded counts by reason.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from espnet_warmup.recipe.data.audio import probe_all
from espnet_warmup.recipe.data.base import CorpusSpecError, Excluded, LayoutError, CorpusUtterance
from espnet_warmup.recipe.data.catalog import READERS, CorpusSpec, corpus_names, kaldi_role, parse_spec, part_name, test_set_names
from espnet_warmup.recipe.data.combine import combine, drop_duplicates
from espnet_warmup.recipe.data.kaldi_dir import needs_probe, read_data_dir, read_excluded, write_data_dir
from espnet_warmup.recipe.datadir import is_done, lang_tag
from espnet_warmup.recipe.data.segments import CUT_DIR, cut_segments, source_stamp

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
        return part_name(self.spec, self.split)


def _root(reader_var: str, overrides: dict[str, str], label: str, layout: str) -> Path:
    value = overrides.get(reader_var, os.environ.get(reader_var, ""))
    if not value:
        raise LayoutError(f"{label}: {reader_var} is not set (set it in db.sh).\nExpected layout:\n{layout}")
    root = Path(value)
    if not root.is_dir():
        raise LayoutError(
            f"{label}: corpus root {reader_var}={value} does not exist (set {reader_var} in db.sh).\n"
            f"Expected layout:\n{layout}"
        )
    return root


def plan(specs: list[CorpusSpec], overrides: dict[str, str], log) -> list[Part]:
    """Check every root and layout (fail fast) and list the parts to prepare."""
    parts: list[Part] = []
    for spec in specs:
        if spec.kaldi_dir is not None:
            if not (spec.kaldi_dir / "wav.scp").is_file() or not (spec.kaldi_dir / "text").is_file():
                raise LayoutError(
                    f"{spec.label}: {spec.kaldi_dir} is not a Kaldi data dir (needs wav.scp and text; "
                    "optional utt2spk, utt2lang, utt2dur, segments)."
                )
            parts.append(Part(spec, spec.kaldi_dir.name, kaldi_role(spec.kaldi_dir), spec.kaldi_dir))
            continue
        reader = READERS[spec.name]
        root = _root(reader.db_var, overrides, spec.label, reader.layout)
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
    return [f"test_{p.name}" for p in parts if p.role == "test"]


#: the files of an imported Kaldi dir whose edits must redo its import
KALDI_FILES = ("wav.scp", "text", "segments", "utt2spk", "utt2lang", "utt2dur")


def _base_signature(part: Part) -> str:
    return f"{FORMAT_VERSION} {part.spec.label} {part.split} {part.source_dir.resolve()}"


def signature(part: Part) -> str:
    """What a finished part was made from; a rerun skips the part only if it is unchanged.

    A published corpus is identified by its root; a user's Kaldi dir also by the size and
    modification time of its files, so that fixing a transcript in it and rerunning
    local/data.sh redoes the import instead of silently keeping the old one.
    """
    sig = _base_signature(part)
    if part.spec.kaldi_dir is not None:
        stats = []
        for name in KALDI_FILES:
            try:
                st = (part.spec.kaldi_dir / name).stat()
            except FileNotFoundError:
                continue
            stats.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        sig += " [" + " ".join(stats) + "]"
    return sig


def prepare_part(part: Part, out_dir: Path, nj: int, progress: bool) -> None:
    """Read, check and write one part (skipped if already done from the same source)."""
    sig = signature(part)
    if is_done(out_dir, sig):
        part.utts = [u for u in read_data_dir(out_dir) if isinstance(u, CorpusUtterance)]
        part.excluded = read_excluded(out_dir)
        return
    if part.spec.kaldi_dir is not None:
        records = list(read_data_dir(part.spec.kaldi_dir, part.spec.lang))
    else:
        records = list(READERS[part.spec.name].read_split(part.source_dir, part.spec.lang, part.split))
    utts = [r for r in records if isinstance(r, CorpusUtterance)]
    excluded = [r for r in records if isinstance(r, Excluded)]
    utts, dups = drop_duplicates(utts, "")
    segmented = [u for u in utts if u.segment is not None]
    keep: tuple[str, ...] = ()
    if segmented:  # a Kaldi dir with segments: cut them into out_dir/wav (they get their durations)
        # the cuts depend on segments + wav.scp only: a transcript fix keeps them
        stamp = source_stamp(part.spec.kaldi_dir, _base_signature(part))
        cut, uncut, part.note = cut_segments(segmented, out_dir / CUT_DIR, stamp,
                                             nj=nj, desc=f"{part.name} (cut)", progress=progress)
        utts = cut + [u for u in utts if u.segment is None]
        excluded += uncut
        keep = (CUT_DIR,)
    to_probe = [u for u in utts if needs_probe(u) and u.duration is None]
    probed, bad = probe_all(to_probe, nj=nj, desc=part.name, progress=progress) if to_probe else ([], [])
    keep_ids = {u.utt_id for u in to_probe}
    part.utts = probed + [u for u in utts if u.utt_id not in keep_ids]
    part.excluded = excluded + dups + bad
    write_data_dir(out_dir, part.utts, part.excluded, sig, keep=keep)


def reason_counts(excluded: list[Excluded]) -> str:
    # Group by the reason's head ("audio file missing: /x.flac" -> "audio file missing").
    heads = Counter(e.reason.split(":")[0].split(" (")[0] for e in excluded)
    return ", ".join(f"{n} {why}" for why, n in heads.most_common())


def _hours(utts: list[CorpusUtterance]) -> str:
    seconds = sum(u.duration or 0.0 for u in utts)
    return f"{seconds / 3600:.2f} h" if seconds >= 36 else f"{seconds:.1f} s"


def run(args: argparse.Namespace) -> int:
    log = lambda msg: print(f"local/data.sh: {msg}", flush=True)
    try:
        specs = [parse_spec(v) for vals in args.corpus for val in vals for v in val.split()]
        if not specs:
            raise CorpusSpecError("no --corpus given; allowed: " + ", ".join(corpus_names()))
        overrides = dict(kv.split("=", 1) for kv in args.db)
        if args.print_test_sets:
            print(" ".join(present_test_sets(specs, overrides)))
            return 0
        parts = plan(specs, overrides, log)
    except (CorpusSpecError, LayoutError) as e:
        print(f"local/data.sh: ERROR: {e}", file=sys.stderr)
        return 1
    data = Path(args.data_dir)
    if args.progress is None:
        args.progress = sys.stderr.isatty()
    for part in parts:
        out = data / "local" / part.name
        try:
            prepare_part(part, out, args.nj, args.progress)
        except LayoutError as e:  # e.g. a TSV without the expected columns
            print(f"local/data.sh: ERROR: {e}", file=sys.stderr)
            return 1
        line = f"{part.spec.label} {part.split} ({part.role}): {len(part.utts)} utterances, {_hours(part.utts)}"
        if part.excluded:
            line += f"; {len(part.excluded)} excluded ({reason_counts(part.excluded)}), listed in {out}/excluded.txt"
        if part.note:
            line += f"; {part.note}"
        log(line)

    sets: dict[str, list[Part]] = {"train": [], "dev": []}
    for part in parts:
        sets.setdefault(part.role if part.role != "test" else f"test_{part.name}", []).append(part)
    for name, members in sets.items():
        if not members:
            log(f"WARNING: no {name} data among the corpora given; {data}/{name} not written")
            continue
        utts, dups = combine([(p.name, p.utts) for p in members])
        excluded = [e for p in members for e in p.excluded] + dups
        write_data_dir(data / name, utts, excluded, " ".join(signature(p) for p in members))
        msg = f"{data}/{name}: {len(utts)} utterances, {_hours(utts)}, languages {' '.join(sorted({u.lang for u in utts}))}"
        if excluded:
            msg += f"; {len(excluded)} excluded ({reason_counts(excluded)}), see {data}/{name}/excluded.txt"
        log(msg)
        if not utts:
            log(f"WARNING: {data}/{name} has no utterances left; see {data}/{name}/excluded.txt")
    langs = sorted({u.lang for p in parts for u in p.utts})
    (data / "nlsyms.txt").write_text("".join(f"{lang_tag(lang)}\n" for lang in langs), encoding="utf-8")
    rates = Counter(u.sample_rate for p in parts for u in p.utts if u.sample_rate)
    log(f"sample rates: {', '.join(f'{sr} Hz: {n}' for sr, n in sorted(rates.items()))} "
        "(the format stage resamples to --fs)")
    log(f"test sets: {' '.join(n for n in sets if n.startswith('test_'))}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def flag(name: str, **kw) -> None:
        parser.add_argument(f"--{name}", f"--{name.replace('_', '-')}", **kw)

    flag("corpus", action="append", nargs="+", default=[], metavar="NAME",
         help="corpus to prepare, repeatable (or a space-separated list): librispeech, mls_en, mls_it, "
              "commonvoice_en, commonvoice_it, fleurs_en, fleurs_it, voxpopuli_en, voxpopuli_it, kaldi:<dir>[:<lang>]")
    flag("data_dir", default="data", help="where the data dirs go (default: data)")
    flag("nj", type=int, default=min(os.cpu_count() or 1, 32),
         help="parallel processes for the audio checks and segment cutting (default: the number of CPUs, at most 32)")
    flag("db", action="append", default=[], metavar="VAR=PATH", help="override a db.sh corpus root")
    flag("print_test_sets", action="store_true",
         help="only print the names of the test sets the given corpora yield (for run.sh) and exit")
    flag("progress", default=None, type=lambda v: {"true": True, "false": False}[v.lower()],
         help="show progress bars: true|false (default: when stderr is a terminal)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local/data.sh", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
