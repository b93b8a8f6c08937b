"""Error counts of a set of utterances and the percentages sclite reports.

Definitions (sclite's, with N = number of reference tokens):
    Corr = C / N,  Sub = S / N,  Del = D / N,  Ins = I / N,  Err = (S + D + I) / N
    S.Err = utterances with at least one error / utterances
all times 100. Err can exceed 100 (insertions). With N = 0 the token percentages are
undefined (None); S.Err is defined whenever there is an utterance.
"""

from __future__ import annotations

import dataclasses

from espnet_warmup.recipe.scoring.align import Alignment


@dataclasses.dataclass
class Counts:
    """Raw counts; ``+`` adds two sets (counts are additive, percentages are not)."""

    n_snt: int = 0
    n_ref: int = 0
    corr: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0
    n_snt_err: int = 0

    @classmethod
    def of(cls, alignment: Alignment) -> "Counts":
        """Counts of one utterance."""
        c, s, d, i = alignment.corr, alignment.sub, alignment.dele, alignment.ins
        return cls(n_snt=1, n_ref=c + s + d, corr=c, sub=s, dele=d, ins=i, n_snt_err=int(s + d + i > 0))

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    def pct(self, count: int) -> float | None:
        """``100 * count / N``, or None when there are no reference tokens."""
        return 100.0 * count / self.n_ref if self.n_ref else None

    @property
    def err_pct(self) -> float | None:
        return self.pct(self.errors)

    @property
    def snt_err_pct(self) -> float | None:
        return 100.0 * self.n_snt_err / self.n_snt if self.n_snt else None

    def percentages(self) -> tuple[float | None, ...]:
        """(Corr, Sub, Del, Ins, Err, S.Err) in percent, sclite's column order."""
        return (
            self.pct(self.corr),
            self.pct(self.sub),
            self.pct(self.dele),
            self.pct(self.ins),
            self.err_pct,
            self.snt_err_pct,
        )

    def to_json(self) -> dict:
        """The ``scores.json`` entry: percentages (rounded to 0.01) and raw counts (``n_*``)."""

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 2)

        corr, sub, dele, ins, err, serr = self.percentages()
        return {
            "err": r(err),
            "sub": r(sub),
            "del": r(dele),
            "ins": r(ins),
            "corr": r(corr),
            "s_err": r(serr),
            "n_ref": self.n_ref,
            "n_snt": self.n_snt,
            "n_err": self.errors,
            "n_corr": self.corr,
            "n_sub": self.sub,
            "n_del": self.dele,
            "n_ins": self.ins,
            "n_snt_err": self.n_snt_err,
        }


def total(counts: list[Counts]) -> Counts:
    out = Counts()
    for c in counts:
        out = out + c
    return out
