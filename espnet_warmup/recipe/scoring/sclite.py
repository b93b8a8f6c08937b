"""``result.txt`` in the layout of ``sclite -i rm -o all stdout``, and a reader for it.

What: :func:`format_result_txt` renders per-utterance alignments as sclite's report:

1. ``SYSTEM SUMMARY PERCENTAGES by SPEAKER``: a boxed table with one row per speaker,
   ``| SPKR | # Snt # Wrd | Corr Sub Del Ins Err S.Err |``, then ``Sum/Avg`` (the
   totals: pooled counts, *not* a mean of speaker rates), then ``Mean``, ``S.D.``
   (sample standard deviation, n-1, as sclite) and ``Median`` over speakers.
2. ``SYSTEM SUMMARY COUNTS by SPEAKER``: the same table with raw counts; its total row
   is ``Sum`` (no ``Avg``), so ``grep Avg result.txt`` finds exactly one line.
3. ``DUMP OF SYSTEM ALIGNMENT STRUCTURE``: per utterance ``id: (spk-utt)``,
   ``Scores: (#C #S #D #I)``, aligned ``REF:``/``HYP:``/``Eval:`` lines (correct tokens
   in lower case, errors in upper case, ``*`` for the empty side), as sclite's pralign.

Why this exact shape: ESPnet's stage 13 logs ``grep -e Avg -e SPKR -m 2 result.txt``
and ``show_asr_result.sh`` turns the ``Sum/Avg`` line into a markdown row by deleting
``|`` and ``Sum/Avg`` and keeping the 8 numbers; people's own scripts take Err as awk
field ``$11``. The name column is always wider than ``Sum/Avg`` so that line reads
``| Sum/Avg | snt wrd | corr sub del ins err serr |`` and all of these work.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from pathlib import Path

from espnet_warmup.recipe.scoring.align import CORRECT, DEL, INS, SUB, Alignment
from espnet_warmup.recipe.atomic import atomic_write_text
from espnet_warmup.recipe.scoring.stats import Counts, total
from espnet_warmup.recipe.scoring.trn import trn_id

PERCENT_TITLE = "SYSTEM SUMMARY PERCENTAGES by SPEAKER"
COUNTS_TITLE = "SYSTEM SUMMARY COUNTS by SPEAKER"
_PAGE = 80  # sclite centres its tables on an 80-column page
_VALUE_HEADS = ("Corr", "Sub", "Del", "Ins", "Err", "S.Err")


@dataclasses.dataclass(frozen=True)
class ScoredUtt:
    """One scored utterance: who said it, and its alignment."""

    spk: str
    utt: str
    alignment: Alignment

    @property
    def counts(self) -> Counts:
        return Counts.of(self.alignment)


@dataclasses.dataclass(frozen=True)
class AvgRow:
    """The 8 numbers of a ``Sum/Avg`` line (percentages except ``snt``/``wrd``)."""

    snt: int
    wrd: int
    corr: float
    sub: float
    dele: float
    ins: float
    err: float
    s_err: float


# --------------------------------------------------------------------------- tables
def _fmt(x: float | int | None, as_int: bool) -> str:
    if x is None:
        return "-"
    return str(int(x)) if as_int else f"{x:.1f}"


def _speaker_counts(utts: Sequence[ScoredUtt]) -> dict[str, Counts]:
    by_spk: dict[str, Counts] = {}
    for u in utts:
        by_spk[u.spk] = by_spk.get(u.spk, Counts()) + u.counts
    return dict(sorted(by_spk.items()))


def _row_values(c: Counts, percent: bool) -> list[str]:
    if percent and c.n_ref > 0:
        return [_fmt(v, False) for v in c.percentages()]
    if percent:
        # No reference tokens: sclite prints counts instead of percents (footnoted).
        return [_fmt(v, True) for v in (c.corr, c.sub, c.dele, c.ins, c.errors)] + [_fmt(c.snt_err_pct, False)]
    return [_fmt(v, True) for v in (c.corr, c.sub, c.dele, c.ins, c.errors, c.n_snt_err)]


def _spread_rows(by_spk: dict[str, Counts], percent: bool) -> list[tuple[str, list[str], list[str]]]:
    """Mean, S.D. and Median over speakers, of per-speaker counts or percentages."""
    spk = list(by_spk.values())
    with_ref = [c for c in spk if c.n_ref > 0]

    def columns() -> list[list[float]]:
        if percent:
            cols = [[c.percentages()[k] for c in with_ref] for k in range(5)]
            cols.append([c.snt_err_pct for c in spk])
            return cols
        return [[float(getattr(c, a)) for c in spk] for a in ("corr", "sub", "dele", "ins")] + [
            [float(c.errors) for c in spk],
            [float(c.n_snt_err) for c in spk],
        ]

    def sd(xs: list[float]) -> float:
        return statistics.stdev(xs) if len(xs) > 1 else 0.0

    rows = []
    cols = columns()
    for name, fn in (("Mean", statistics.fmean), ("S.D.", sd), ("Median", statistics.median)):
        counts = [_fmt(fn([float(c.n_snt) for c in spk]), False), _fmt(fn([float(c.n_ref) for c in spk]), False)]
        values = [_fmt(fn(col), False) if col else "-" for col in cols]
        rows.append((name, counts, values))
    return rows


def _summary_table(system_name: str, by_spk: dict[str, Counts], percent: bool) -> list[str]:
    tot = total(list(by_spk.values()))
    body = [(name, [str(c.n_snt), str(c.n_ref)], _row_values(c, percent)) for name, c in by_spk.items()]
    total_row = ("Sum/Avg" if percent else "Sum", [str(tot.n_snt), str(tot.n_ref)], _row_values(tot, percent))
    spread = _spread_rows(by_spk, percent)
    every = [*body, total_row, *spread]

    # Widths adapt to the content; "+ 1" keeps a blank after "Sum/Avg" (see module doc).
    name_w = max(len("Sum/Avg"), *(len(r[0]) for r in every)) + 1
    snt_w = max(len("# Snt"), *(len(r[1][0]) for r in every))
    wrd_w = max(len("# Wrd"), *(len(r[1][1]) for r in every))
    val_w = max(5, *(len(v) for r in every for v in r[2]))

    def line(name: str, counts: Sequence[str], values: Sequence[str], pad: int = 0) -> str:
        return (
            f"| {name:<{name_w}}| {counts[0]:>{snt_w}} {counts[1]:>{wrd_w}} | "
            + "  ".join(f"{v:>{val_w}}" for v in values)
            + " " * pad
            + " |"
        )

    # A long system name (decode paths are) widens the box, as sclite does, instead of breaking it.
    pad = max(0, len(system_name) + 2 - (len(line("SPKR", ["# Snt", "# Wrd"], _VALUE_HEADS)) - 2))
    header = line("SPKR", ["# Snt", "# Wrd"], _VALUE_HEADS, pad)
    inner = len(header) - 2
    name_cell, count_cell = name_w + 1, snt_w + wrd_w + 3
    rule = "|" + "-" * name_cell + "+" + "-" * count_cell + "+" + "-" * (inner - name_cell - count_cell - 2) + "|"
    double = "|" + "=" * inner + "|"
    name_line = "|" + system_name.center(inner) + "|"
    lines = ["," + "-" * inner + ".", name_line, "|" + "-" * inner + "|", header, rule]
    for k, r in enumerate(body):
        lines.append(line(*r, pad))
        lines.append(rule if k + 1 < len(body) else double)
    lines.append(line(*total_row, pad))
    lines.append(double)
    lines.extend(line(*r, pad) for r in spread)
    lines.append("`" + "-" * inner + "'")
    indent = " " * max(0, (_PAGE - inner - 2) // 2)
    out = [indent + x for x in lines]
    empty = [name for name, c in by_spk.items() if c.n_ref == 0]
    if percent and empty:
        out.append("")
        out.append(
            "* No reference words for speaker(s) " + ", ".join(empty) + ": word counts supplied rather than percents."
        )
    return out


# --------------------------------------------------------------------------- alignments
def _pralign(u: ScoredUtt) -> list[str]:
    refs, hyps, evals = [], [], []
    for op, r, h in u.alignment.ops:
        if op == CORRECT:
            w = len(r)
            refs.append(r.lower().ljust(w))
            hyps.append(h.lower().ljust(w))
            evals.append(" " * w)
        elif op == SUB:
            w = max(len(r), len(h))
            refs.append(r.upper().ljust(w))
            hyps.append(h.upper().ljust(w))
            evals.append("S".ljust(w))
        elif op == DEL:
            w = len(r)
            refs.append(r.upper())
            hyps.append("*" * w)
            evals.append("D".ljust(w))
        elif op == INS:
            w = len(h)
            refs.append("*" * w)
            hyps.append(h.upper())
            evals.append("I".ljust(w))
    c = u.counts
    return [
        f"id: ({trn_id(u.spk, u.utt)})",
        f"Scores: (#C #S #D #I) {c.corr} {c.sub} {c.dele} {c.ins}",
        ("REF:  " + " ".join(refs)).rstrip(),
        ("HYP:  " + " ".join(hyps)).rstrip(),
        ("Eval: " + " ".join(evals)).rstrip(),
        "",
    ]


def format_result_txt(utts: Sequence[ScoredUtt], system_name: str) -> str:
    """The whole ``result.txt`` for ``utts`` (see the module docstring)."""
    if not utts:
        raise ValueError("no utterances to report")
    by_spk = _speaker_counts(utts)
    out = ["", "", "", PERCENT_TITLE.center(_PAGE).rstrip(), ""]
    out += _summary_table(system_name, by_spk, percent=True)
    out += ["", "", "", COUNTS_TITLE.center(_PAGE).rstrip(), ""]
    out += _summary_table(system_name, by_spk, percent=False)
    out += ["", "", "\t\tDUMP OF SYSTEM ALIGNMENT STRUCTURE", "", f"System name:   {system_name}", "", "Speakers: "]
    out += [f"   {k:2d}:  {spk}" for k, spk in enumerate(by_spk)]
    out.append("")
    for k, spk in enumerate(by_spk):
        mine = sorted((u for u in utts if u.spk == spk), key=lambda u: u.utt)
        out.append(f"Speaker sentences  {k:2d}:  {spk}   #utts: {len(mine)}")
        for u in mine:
            out += _pralign(u)
    return "\n".join(out) + "\n"


def write_result_txt(path: str | Path, utts: Sequence[ScoredUtt], system_name: str) -> None:
    atomic_write_text(path, format_result_txt(utts, system_name))


# --------------------------------------------------------------------------- reading back
def parse_avg_line(line: str) -> AvgRow:
    """Parse a ``Sum/Avg`` line the way ESPnet's show_asr_result.sh does (drop ``|`` and the label)."""
    fields = [f for f in line.replace("|", " ").split() if f != "Sum/Avg"]
    if len(fields) != 8:
        raise ValueError(f"not a sclite Sum/Avg line (expected 8 numbers): {line.strip()!r}")
    try:
        snt, wrd = int(fields[0]), int(fields[1])
        rest = [float(x) for x in fields[2:]]
    except ValueError:
        raise ValueError(f"not a sclite Sum/Avg line (non-numeric field): {line.strip()!r}") from None
    return AvgRow(snt, wrd, *rest)


def read_result_txt(path: str | Path) -> AvgRow:
    """The ``Sum/Avg`` row of a result.txt (ours or a real sclite's): the first line containing ``Avg``."""
    with Path(path).open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if "Avg" in line:
                try:
                    return parse_avg_line(line)
                except ValueError as e:
                    raise ValueError(f"{path}: {e}") from None
    raise ValueError(f"{path}: no 'Sum/Avg' line (is it a sclite result.txt?)")
