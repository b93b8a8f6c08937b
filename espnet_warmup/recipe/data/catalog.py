"""The corpora ``--corpus`` can name, and how a ``--corpus`` value is parsed.

Values: ``librispeech`` (English only; ``librispeech_en`` also works), ``mls_en``, ``mls_it``,
``commonvoice_en``, ``commonvoice_it``, ``fleurs_en``, ``fleurs_it``, ``voxpopuli_en``,
``voxpopuli_it``, and ``kaldi:<dir>[:<lang>]`` for an existing Kaldi data dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from espnet_warmup.recipe.data import commonvoice, fleurs, librispeech, mls, voxpopuli
from espnet_warmup.recipe.data.base import CorpusReader, CorpusSpecError

READERS: dict[str, CorpusReader] = {
    r.name: r for r in (librispeech.READER, mls.READER, commonvoice.READER, fleurs.READER, voxpopuli.READER)
}


def corpus_names() -> list[str]:
    """Every accepted ``<corpus>_<lang>`` value, plus the Kaldi form."""
    names = [f"{n}_{lang}" for n, r in READERS.items() for lang in r.langs]
    return ["librispeech", *names, "kaldi:<dir>[:<lang>]"]


@dataclass(frozen=True)
class CorpusSpec:
    """One parsed ``--corpus`` value: a published corpus in one language, or a Kaldi dir."""

    name: str                      # reader name, or "kaldi"
    lang: str                      # language code ("" for a Kaldi dir without :<lang>)
    kaldi_dir: Path | None = None  # for kaldi:<dir>

    @property
    def label(self) -> str:
        return f"kaldi:{self.kaldi_dir}" if self.kaldi_dir else f"{self.name}_{self.lang}"


def kaldi_role(path: Path) -> str:
    """Role of an imported Kaldi dir, from its name as Kaldi recipes name them:
    ``test*``/``eval*`` -> test, ``dev*``/``valid*`` -> dev, anything else -> train."""
    base = path.name.lower()
    if base.startswith(("test", "eval")):
        return "test"
    if base.startswith(("dev", "valid")):
        return "dev"
    return "train"


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
            raise CorpusSpecError("--corpus kaldi:<dir>[:<lang>] needs a directory")
        return CorpusSpec("kaldi", lang, Path(path))
    name, _, lang = value.rpartition("_")
    if value == "librispeech":
        name, lang = "librispeech", "en"
    reader = READERS.get(name)
    if reader is None or lang not in reader.langs:
        raise CorpusSpecError(f"unknown --corpus {value!r}; allowed: {', '.join(corpus_names())}")
    return CorpusSpec(name, lang)


def part_name(spec: CorpusSpec, split: str) -> str:
    """Name of one prepared part: ``<corpus>_<lang>_<split>`` (``-`` -> ``_``), ``kaldi_<dir name>``."""
    if spec.kaldi_dir is not None:
        return "kaldi_" + spec.kaldi_dir.name.replace("-", "_")
    return f"{spec.name}_{spec.lang}_{split.replace('-', '_')}"


def test_set_names(specs: list[CorpusSpec]) -> list[str]:
    """The data/<set> names of the test sets that preparing ``specs`` writes (standard splits)."""
    names = []
    for spec in specs:
        if spec.kaldi_dir is not None:
            if kaldi_role(spec.kaldi_dir) == "test":
                names.append("test_" + part_name(spec, ""))
            continue
        names += [f"test_{part_name(spec, s)}" for s, role in READERS[spec.name].splits.items() if role == "test"]
    return names
