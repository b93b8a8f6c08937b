"""Published OWSM v3 / v3.1 error rates, and our results set beside them where test sets match.

Data: ``espnet_warmup/recipe/owsm_results.csv``, one row per (model, test set, language)::

    model,params,test_set,language,metric,value,source

taken from the OWSM v3.1 paper (Peng et al., arXiv:2401.16658, Interspeech 2024):
Table 2 (English WER, greedy search, Whisper normalizer; OWSM v3 and v3.1
base/small/medium) and Table 3 (multilingual: MLS WER, AISHELL-1 / KsponSpeech /
ReazonSpeech CER; OWSM v3 and v3.1 medium). The OWSM v3 paper's own tables were not
retrieved: its numbers are the v3 column of the v3.1 paper, which is also what the ESPnet
``egs2/owsm_v3.1/s2t1/README.md`` table shows. Languages are ISO 639-3 as OWSM writes them.

Matching (:func:`match_test_set`): a test-set name is split into lower-case words at
``_ - . /`` and compared with the corpora OWSM reports; a name that names a dev/valid/
train split never matches, nor does a corpus in a language OWSM did not report. Our
embedded synthetic corpus (``test``) matches nothing, and the table says so rather
than put unrelated numbers side by side. ``mapping`` overrides the rules.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "owsm_results.csv"
COLUMNS = ("model", "params", "test_set", "language", "metric", "value", "source")

#: Models shown by default: the two releases the project compares against (medium sizes).
DEFAULT_MODELS = ("owsm_v3", "owsm_v3.1_ebf")
MODEL_NAMES = {
    "owsm_v3": "OWSM v3",
    "owsm_v3.1_ebf_base": "OWSM v3.1 base",
    "owsm_v3.1_ebf_small": "OWSM v3.1 small",
    "owsm_v3.1_ebf": "OWSM v3.1",
}

#: test_set key -> how papers name it.
TEST_SET_NAMES = {
    "librispeech_test_clean": "LibriSpeech test-clean",
    "librispeech_test_other": "LibriSpeech test-other",
    "switchboard_eval2000": "Switchboard eval2000",
    "tedlium": "TEDLIUM",
    "wsj_eval92": "WSJ eval92",
    "commonvoice": "Common Voice",
    "fleurs": "FLEURS",
    "voxpopuli": "VoxPopuli",
    "mls": "MLS",
    "aishell1": "AISHELL-1",
    "ksponspeech_eval_clean": "KsponSpeech eval-clean",
    "ksponspeech_eval_other": "KsponSpeech eval-other",
    "reazonspeech": "ReazonSpeech",
}

#: words naming a language in a test-set name -> ISO 639-3.
_LANG_WORDS = {
    **{w: "eng" for w in ("en", "eng", "english")},
    **{w: "spa" for w in ("es", "spa", "spanish")},
    **{w: "fra" for w in ("fr", "fra", "fre", "french")},
    **{w: "deu" for w in ("de", "deu", "ger", "german")},
    **{w: "nld" for w in ("nl", "nld", "dut", "dutch")},
    **{w: "ita" for w in ("it", "ita", "italian")},
    **{w: "por" for w in ("pt", "por", "portuguese")},
    **{w: "pol" for w in ("pl", "pol", "polish")},
    **{w: "zho" for w in ("zh", "zho", "cmn", "chinese", "mandarin")},
    **{w: "kor" for w in ("ko", "kor", "korean")},
    **{w: "jpn" for w in ("ja", "jpn", "japanese")},
}
_NOT_TEST = {"dev", "valid", "validation", "train", "training"}


class OwsmDataError(ValueError):
    """The OWSM data file is malformed; the message names the file and row."""


@dataclasses.dataclass(frozen=True)
class OwsmResult:
    model: str
    params: str
    test_set: str
    language: str
    metric: str
    value: float
    source: str


def load_owsm_results(path: str | Path = DATA_FILE) -> list[OwsmResult]:
    """Read and check the data file (columns, known test sets, WER/CER, numeric values)."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise OwsmDataError(f"{path}: columns must be {','.join(COLUMNS)}, got {reader.fieldnames}")
        out = []
        for lineno, row in enumerate(reader, 2):
            if row["test_set"] not in TEST_SET_NAMES:
                raise OwsmDataError(f"{path}:{lineno}: unknown test_set {row['test_set']!r}")
            if row["metric"] not in ("WER", "CER"):
                raise OwsmDataError(f"{path}:{lineno}: metric must be WER or CER, got {row['metric']!r}")
            if not row["source"].strip():
                raise OwsmDataError(f"{path}:{lineno}: empty source")
            try:
                value = float(row["value"])
            except ValueError:
                raise OwsmDataError(f"{path}:{lineno}: value must be a number, got {row['value']!r}") from None
            out.append(OwsmResult(**{**row, "value": value}))
    return out


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\-./\s]+", name.lower()) if w]


def match_test_set(name: str) -> tuple[str, str] | None:
    """``(test_set key, ISO 639-3 language)`` of the OWSM test set ``name`` denotes, or None."""
    words = _words(name)
    ws = set(words)
    if ws & _NOT_TEST:
        return None
    langs = {_LANG_WORDS[w] for w in words if w in _LANG_WORDS}
    if len(langs) > 1:
        return None
    lang = langs.pop() if langs else None

    def english_only(key: str) -> tuple[str, str] | None:
        # OWSM reports these corpora for English only.
        return (key, "eng") if lang in (None, "eng") else None

    if ws & {"ksponspeech", "kspon"}:
        for part in ("clean", "other"):
            if part in ws:
                return (f"ksponspeech_eval_{part}", "kor")
        return None
    if "mls" in ws:
        return ("mls", lang) if lang else None
    if ws & {"aishell", "aishell1"}:
        return ("aishell1", "zho")
    if ws & {"reazonspeech", "reazon"}:
        return ("reazonspeech", "jpn")
    if "fleurs" in ws:
        return english_only("fleurs")
    if ws & {"commonvoice", "cv"} or {"common", "voice"} <= ws:
        return english_only("commonvoice")
    if "voxpopuli" in ws:
        return english_only("voxpopuli")
    if any(w.startswith("tedlium") for w in ws) or "ted" in ws:
        return english_only("tedlium")
    if ws & {"eval2000", "swbd", "switchboard", "hub5"}:
        return english_only("switchboard_eval2000")
    if "eval92" in ws or ("wsj" in ws and ws & {"test", "eval"}):
        return english_only("wsj_eval92")
    # LibriSpeech: ESPnet names its test sets plainly test_clean / test_other.
    if "test" in ws and ws <= {"test", "clean", "other", "librispeech", "ls", *_LANG_WORDS}:
        for part in ("clean", "other"):
            if part in ws:
                return english_only(f"librispeech_test_{part}")
    return None


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def comparison_table(
    ours: Mapping[str, float | None] | Iterable[str],
    models: Iterable[str] = DEFAULT_MODELS,
    results: list[OwsmResult] | None = None,
    mapping: Mapping[str, tuple[str, str]] | None = None,
    our_label: str = "ours",
) -> str:
    """Markdown: one row per test set of ours, OWSM's published numbers where a test set matches.

    ``ours`` is a list of our test-set names, or a mapping name -> our error rate (%),
    which adds an ``ours`` column. Unmatched sets get ``-`` in every upstream cell, and a
    sentence below the table names them as having no upstream counterpart.
    """
    results = load_owsm_results() if results is None else results
    models = list(models)
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown OWSM model(s) {unknown}; known: {', '.join(MODEL_NAMES)}")
    names = list(ours)
    our_values = ours if isinstance(ours, Mapping) else None
    by_key = {(r.model, r.test_set, r.language): r for r in results}
    params = {r.model: r.params for r in results}

    head = ["test set"] + ([our_label] if our_values is not None else []) + ["upstream test set", "metric"]
    head += [f"{MODEL_NAMES[m]} ({params.get(m, '?')})" for m in models]
    lines = ["|" + "|".join(head) + "|", "|" + "|".join("---" for _ in head) + "|"]
    unmatched, sources = [], []
    for name in names:
        match = (mapping or {}).get(name) or match_test_set(name)
        hits = [by_key.get((m, *match)) for m in models] if match else []
        found = [h for h in hits if h is not None]
        cells = [name] + ([_fmt(our_values[name])] if our_values is not None else [])
        if not found:
            unmatched.append(name)
            cells += ["-", "-"] + ["-"] * len(models)
        else:
            cells += [f"{TEST_SET_NAMES[match[0]]} ({match[1]})", found[0].metric]
            cells += [_fmt(h.value if h else None) for h in hits]
            for h in found:
                if h.source not in sources:
                    sources.append(h.source)
        lines.append("|" + "|".join(cells) + "|")
    lines.append("")
    if unmatched:
        sets = ", ".join(f"`{n}`" for n in unmatched)
        lines.append(
            f"No upstream OWSM test set matches {sets}, so no OWSM number is shown for "
            f"{'it' if len(unmatched) == 1 else 'them'}: comparing error rates across different test sets "
            "would compare apples with pears."
        )
        lines.append("")
    if sources:
        lines.append(
            "Upstream numbers are greedy-search results after Whisper's text normaliser; a matched set is the "
            "same corpus split, but its release (e.g. Common Voice version) and text normalisation may differ "
            "from ours, so read small gaps with care."
        )
        lines.append("")
        lines.append("Sources: " + "; ".join(sources) + ".")
        lines.append("")
    return "\n".join(lines)
