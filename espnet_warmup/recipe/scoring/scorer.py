"""Score a decoded Kaldi ``text`` against the reference: WER and CER, overall and per language.

What :func:`score_dir` writes under ``outdir`` (ESPnet's stage-13 layout)::

    score_wer/{ref.trn,hyp.trn,result.txt}    words
    score_cer/{ref.trn,hyp.trn,result.txt}    characters, word boundaries as <space>
    scores.json                               {"wer": {"all": {...}, "<lang>": {...}}, "cer": {...}, "meta": {...}}

Each ``scores.json`` entry holds percentages ``err sub del ins corr s_err`` (rounded to
0.01; None when the set has no reference tokens) and raw counts ``n_ref n_snt n_err
n_corr n_sub n_del n_ins n_snt_err``. ``scores.json`` is removed first and written
last, so its presence means the whole directory is complete and consistent.

Input rules (each violation is a ScoringInputError naming the file):
- ref must hold at least one utterance and, after token removal and cleaning, one word;
- every hyp id must be a ref id (a hyp for an unknown utterance means mixed-up sets);
- a ref utterance without a hyp line is scored as all deletions, with a warning;
- utt2spk (and utt2lang when given) must cover every ref utterance.
Without ``utt2lang`` the language of an utterance is its first removed token with the
angle brackets stripped (``<en>`` -> ``en``), so ``--remove_tokens "<en> <it>"`` alone
gives the per-language split.

Comparison is case-insensitive by default, as sclite without ``-s`` (how ESPnet calls
it); the trn files keep the original case, so a real sclite gives the same numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from espnet_warmup.recipe.scoring.align import align
from espnet_warmup.recipe.atomic import atomic_write_text
from espnet_warmup.recipe.scoring.sclite import ScoredUtt, write_result_txt
from espnet_warmup.recipe.scoring.stats import Counts, total
from espnet_warmup.recipe.scoring.text import (
    ScoringInputError,
    char_tokens,
    first_token_in,
    prepare,
    read_kaldi_map,
    word_tokens,
)
from espnet_warmup.recipe.scoring.trn import write_trn

#: Metric name -> tokenizer. The order is the order of the summary line.
TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"wer": word_tokens, "cer": char_tokens}

_SHOW_IDS = 5  # how many offending ids an error message lists


def _ids_preview(ids: Iterable[str]) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:_SHOW_IDS])
    return shown + (f", ... ({len(ids) - _SHOW_IDS} more)" if len(ids) > _SHOW_IDS else "")


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One utterance as scored: cleaned ref/hyp text, speaker, language (or None)."""

    utt: str
    spk: str
    lang: str | None
    ref: str
    hyp: str


def load_utterances(
    ref_path: str | Path,
    hyp_path: str | Path,
    utt2spk_path: str | Path,
    utt2lang_path: str | Path | None = None,
    remove_tokens: Iterable[str] = (),
    cleaner: str = "none",
    warn: Callable[[str], None] | None = None,
) -> tuple[list[Utterance], int]:
    """Read and check the inputs; return the utterances sorted by id and the number of missing hyps."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    remove = frozenset(remove_tokens)
    ref = read_kaldi_map(ref_path, "ref")
    if not ref:
        raise ScoringInputError(f"ref file {ref_path} is empty: nothing to score")
    hyp = read_kaldi_map(hyp_path, "hyp")
    unknown = [u for u in hyp if u not in ref]
    if unknown:
        raise ScoringInputError(
            f"hyp file {hyp_path} has {len(unknown)} utterance id(s) not in ref file {ref_path}: "
            f"{_ids_preview(unknown)}"
        )
    utt2spk = read_kaldi_map(utt2spk_path, "utt2spk", allow_empty_value=False)
    no_spk = [u for u in ref if u not in utt2spk]
    if no_spk:
        raise ScoringInputError(
            f"utt2spk file {utt2spk_path} lacks {len(no_spk)} utterance id(s) of ref file {ref_path}: "
            f"{_ids_preview(no_spk)}"
        )
    utt2lang = None
    if utt2lang_path is not None:
        utt2lang = read_kaldi_map(utt2lang_path, "utt2lang", allow_empty_value=False)
        no_lang = [u for u in ref if u not in utt2lang]
        if no_lang:
            raise ScoringInputError(
                f"utt2lang file {utt2lang_path} lacks {len(no_lang)} utterance id(s) of ref file {ref_path}: "
                f"{_ids_preview(no_lang)}"
            )
    missing = [u for u in ref if u not in hyp]
    if missing:
        warn(
            f"WARNING: {len(missing)} of {len(ref)} reference utterance(s) have no hypothesis in {hyp_path}; "
            f"they are scored as all deletions: {_ids_preview(sorted(missing))}"
        )

    out = []
    for utt in sorted(ref):
        if utt2lang is not None:
            lang = utt2lang[utt].split()[0]
        else:
            tag = first_token_in(ref[utt], remove)
            lang = tag.strip("<>") if tag else None
        out.append(
            Utterance(
                utt=utt,
                spk=utt2spk[utt].split()[0],
                lang=lang,
                ref=prepare(ref[utt], remove, cleaner),
                hyp=prepare(hyp.get(utt, ""), remove, cleaner),
            )
        )
    if not any(u.ref for u in out):
        removed = f" after removing {' '.join(sorted(remove))}" if remove else ""
        raise ScoringInputError(f"ref file {ref_path} has no words to score{removed}")
    return out, len(missing)


def score_utterances(
    utts: list[Utterance], tokenize: Callable[[str], list[str]], case_sensitive: bool = False
) -> list[ScoredUtt]:
    """Align every utterance with the given tokenizer."""
    fold = (lambda t: t) if case_sensitive else str.lower
    scored = []
    for u in utts:
        r, h = tokenize(fold(u.ref)), tokenize(fold(u.hyp))
        scored.append(ScoredUtt(u.spk, u.utt, align(r, h)))
    return scored


def split_by_language(utts: list[Utterance], scored: list[ScoredUtt]) -> dict[str, Counts]:
    """``{"all": ..., "<lang>": ...}`` counts; languages sorted; utterances without one only in "all"."""
    out = {"all": total([s.counts for s in scored])}
    langs = sorted({u.lang for u in utts if u.lang is not None})
    for lang in langs:
        out[lang] = total([s.counts for u, s in zip(utts, scored) if u.lang == lang])
    return out


def score_dir(
    ref_path: str | Path,
    hyp_path: str | Path,
    utt2spk_path: str | Path,
    outdir: str | Path,
    utt2lang_path: str | Path | None = None,
    remove_tokens: Iterable[str] = (),
    cleaner: str = "none",
    case_sensitive: bool = False,
    warn: Callable[[str], None] | None = None,
    command: str | None = None,
) -> dict:
    """Score, write the outputs under ``outdir`` (module docstring), return the scores.json dict."""
    remove_tokens = list(remove_tokens)
    utts, n_missing = load_utterances(ref_path, hyp_path, utt2spk_path, utt2lang_path, remove_tokens, cleaner, warn)
    outdir = Path(outdir)
    scores_json = outdir / "scores.json"
    # A stale scores.json beside fresh result.txt files would lie; it is the completion mark.
    if scores_json.exists():
        os.unlink(scores_json)

    scores: dict = {}
    for metric, tokenize in TOKENIZERS.items():
        scored = score_utterances(utts, tokenize, case_sensitive)
        sdir = outdir / f"score_{metric}"
        write_trn(sdir / "ref.trn", ((u.spk, u.utt, tokenize(u.ref)) for u in utts))
        write_trn(sdir / "hyp.trn", ((u.spk, u.utt, tokenize(u.hyp)) for u in utts))
        write_result_txt(sdir / "result.txt", scored, system_name=str(sdir / "hyp.trn"))
        scores[metric] = {k: c.to_json() for k, c in split_by_language(utts, scored).items()}
    scores["meta"] = {
        "ref": str(ref_path),
        "hyp": str(hyp_path),
        "utt2spk": str(utt2spk_path),
        "utt2lang": None if utt2lang_path is None else str(utt2lang_path),
        "remove_tokens": remove_tokens,
        "cleaner": cleaner,
        "case_sensitive": case_sensitive,
        "n_missing_hyp": n_missing,
        "cer_tokens": "characters; word boundary = <space>",
        "command": command,
    }
    atomic_write_text(scores_json, json.dumps(scores, indent=2, ensure_ascii=False) + "\n")
    return scores


def summary_line(scores: dict, outdir: str | Path) -> str:
    """One line: ``WER 5.31% (S 3.10 D 1.20 I 1.01; 1234 tokens, 250 utts) [en 4.20% it 6.40%] | CER ...``."""
    parts = []
    for metric in TOKENIZERS:
        entry = scores[metric]["all"]
        langs = " ".join(f"{k} {_pct(v['err'])}" for k, v in scores[metric].items() if k != "all")
        text = (
            f"{metric.upper()} {_pct(entry['err'])} (S {_num(entry['sub'])} D {_num(entry['del'])} "
            f"I {_num(entry['ins'])}; {entry['n_ref']} tokens, {entry['n_snt']} utts)"
        )
        parts.append(text + (f" [{langs}]" if langs else ""))
    missing = scores["meta"]["n_missing_hyp"]
    tail = f" | {missing} missing hyp(s)" if missing else ""
    return " | ".join(parts) + tail + f" -> {outdir}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"
