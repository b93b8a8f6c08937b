"""The corpora ``--corpus`` can name (:data:`READERS`), and how a ``--corpus`` value is parsed.

Values: the embedded corpora (:data:`EMBEDDED`: ``digits``, ``sentences``, synthesized), ``<corpus>_<lang>`` for every reader and language (:func:`corpus_names`; ``librispeech``
alone means English), and ``kaldi:<dir>[:<lang>]`` for an existing Kaldi data dir. A new corpus is
one reader module in :mod:`espnet_warmup.recipe.data.sources`, one entry here and one db.sh line
(its ``db_var``); the help text and docs/corpora.md list the corpora from this catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from espnet_warmup.recipe.data.base import CorpusReader, CorpusSpecError
from espnet_warmup.recipe.data.sources import commonvoice, embedded, fleurs, librispeech, mls, voxpopuli
from espnet_warmup.recipe.data.sources.kaldi_dir import KaldiDirReader

READERS: dict[str, CorpusReader] = {
    r.name: r for r in (librispeech.READER, mls.READER, commonvoice.READER, fleurs.READER, voxpopuli.READER)
}
EMBEDDED: dict[str, embedded.EmbeddedSource] = {name: embedded.EmbeddedSource(name) for name in embedded.CORPORA}
KALDI_FORM = "kaldi:<dir>[:<lang>]"


def corpus_names() -> list[str]:
    """Every accepted value: the embedded corpora, ``<corpus>_<lang>``, the Kaldi form."""
    names = [f"{n}_{lang}" for n, r in READERS.items() for lang in r.langs]
    return [*EMBEDDED, "librispeech", *names, KALDI_FORM]


def corpora_help() -> str:
    """The corpora and their db.sh variables, one line each (for --help)."""
    rows = [f"  {name:<12} {' '.join(f'{name}_{lang}' for lang in r.langs):<30} root: ${r.db_var}"
            for name, r in READERS.items()]
    return "\n".join([embedded.HELP, "", "Real corpora (--corpus values; roots from db.sh):", *rows,
                      f"  {KALDI_FORM:<43} an existing Kaldi data dir"])


@dataclass(frozen=True)
class CorpusSpec:
    """One parsed ``--corpus`` value: a corpus reader and a language ("" for a Kaldi dir
    without ``:<lang>``, whose languages come from its tags or utt2lang)."""

    reader: CorpusReader | embedded.EmbeddedSource
    lang: str

    @property
    def label(self) -> str:
        return self.reader.label(self.lang)


def parse_spec(value: str) -> CorpusSpec:
    """Parse one ``--corpus`` value; CorpusSpecError naming the allowed values if unknown."""
    value = value.strip()
    if value.startswith("kaldi:"):
        rest = value[len("kaldi:"):]
        path, lang = rest, ""
        head, sep, tail = rest.rpartition(":")
        if sep and head and tail.isalpha() and len(tail) <= 3:
            path, lang = head, tail
        if not path:
            raise CorpusSpecError(f"--corpus {KALDI_FORM} needs a directory")
        return CorpusSpec(KaldiDirReader(Path(path)), lang)
    if value in EMBEDDED:
        return CorpusSpec(EMBEDDED[value], "")
    name, _, lang = value.rpartition("_")
    if value == "librispeech":
        name, lang = "librispeech", "en"
    reader = READERS.get(name)
    if reader is None or lang not in reader.langs:
        raise CorpusSpecError(f"unknown --corpus {value!r}; allowed: {', '.join(corpus_names())}")
    return CorpusSpec(reader, lang)


def test_set_names(specs: list[CorpusSpec]) -> list[str]:
    """The data/<set> names of the test sets that preparing ``specs`` (readers) writes (standard splits)."""
    return [f"test_{s.reader.part_name(s.lang, split)}" for s in specs
            for split, role in s.reader.splits.items() if role == "test"]
