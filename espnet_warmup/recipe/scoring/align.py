"""Levenshtein alignment of a reference and a hypothesis token sequence.

What: :func:`align` returns the edit operations (correct, substitution, deletion,
insertion) turning ``ref`` into ``hyp`` and their counts; :func:`edit_distance` only
the number of errors.

Which alignment (the rule, so results are reproducible and explainable):

1. **Minimum number of errors** ``S + D + I`` (the plain Levenshtein distance with unit
   costs). WER is therefore exactly the minimum edit distance, as computed by Kaldi's
   ``compute-wer``, ``editdistance`` or ``jiwer``.
2. **Among those, the fewest substitutions** (equivalently: the most correct tokens).
   This is sclite's preference: sclite's default weights (sub 4, ins 3, del 3) make a
   deletion+insertion pair cheaper than two substitutions, so for ref ``a b`` / hyp
   ``b c`` sclite reports ``D C I`` (1 correct), not ``S S``. Unit-cost tools pick
   either; we always pick the former. (sclite's weighted cost ``3E + S`` can, in rare
   constructed cases, prefer an alignment with one *more* error; we never do, so our
   totals can only be <= sclite's, never above.)
3. **Remaining ties** (same counts, different positions): a common prefix and suffix
   are aligned as correct (always optimal, and it makes error-free utterances O(n));
   inside the rest, ties are broken in the backtrace from the end: a diagonal step
   (correct/substitution) first, then a deletion, then an insertion. This only moves
   where an error is shown in the printed alignment, never the counts.

Rules 1 and 2 are one integer DP: costs ``sub = W + 1``, ``del = ins = W``,
``correct = 0`` with ``W = len(ref) + len(hyp) + 1``, so ``cost = W * errors + subs``
and ``W`` exceeds any possible number of substitutions (lexicographic order).
Tokens are compared with ``==``; case folding is the caller's choice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

#: Edit operation codes, as printed in sclite's ``Eval:`` line (correct is blank there).
CORRECT, SUB, DEL, INS = "C", "S", "D", "I"


@dataclasses.dataclass(frozen=True)
class Alignment:
    """An alignment: ``ops`` is a list of ``(op, ref_token | None, hyp_token | None)``."""

    ops: tuple[tuple[str, str | None, str | None], ...]

    def count(self, op: str) -> int:
        return sum(1 for o, _, _ in self.ops if o == op)

    @property
    def corr(self) -> int:
        return self.count(CORRECT)

    @property
    def sub(self) -> int:
        return self.count(SUB)

    @property
    def dele(self) -> int:  # ``del`` is a keyword
        return self.count(DEL)

    @property
    def ins(self) -> int:
        return self.count(INS)

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins


# Backpointer codes for the DP table.
_DIAG, _UP, _LEFT = 0, 1, 2


def align(ref: Sequence[str], hyp: Sequence[str]) -> Alignment:
    """Align ``ref`` to ``hyp`` (see the module docstring for the tie-breaking rules).

    The common prefix and suffix are taken as correct first (always part of an optimal
    alignment), then the DP runs on what is left: O(len * len) time and memory there,
    O(len) for an utterance without errors.
    """
    n, m = len(ref), len(hyp)
    lo = 0
    while lo < n and lo < m and ref[lo] == hyp[lo]:
        lo += 1
    hi_r, hi_h = n, m
    while hi_r > lo and hi_h > lo and ref[hi_r - 1] == hyp[hi_h - 1]:
        hi_r, hi_h = hi_r - 1, hi_h - 1
    middle = _align_dp(ref[lo:hi_r], hyp[lo:hi_h])
    head = tuple((CORRECT, t, t) for t in ref[:lo])
    tail = tuple((CORRECT, t, t) for t in ref[hi_r:])
    return Alignment(head + middle + tail)


def _align_dp(ref: Sequence[str], hyp: Sequence[str]) -> tuple[tuple[str, str | None, str | None], ...]:
    """The lexicographic (errors, substitutions) DP with backtrace (module docstring)."""
    n, m = len(ref), len(hyp)
    w = n + m + 1
    c_sub, c_gap = w + 1, w
    # back[i][j]: how cell (i, j) was reached; row 0 / column 0 are pure ins / del.
    back = [bytearray(m + 1) for _ in range(n + 1)]
    prev = [j * c_gap for j in range(m + 1)]
    for j in range(1, m + 1):
        back[0][j] = _LEFT
    for i in range(1, n + 1):
        r = ref[i - 1]
        row = back[i]
        row[0] = _UP
        left = i * c_gap
        cur = [left]
        # zip walks hyp[j-1], prev[j-1] (diagonal) and prev[j] (up) without indexing.
        for j, (h, p_diag, p_up) in enumerate(zip(hyp, prev, prev[1:]), 1):
            diag = p_diag if r == h else p_diag + c_sub
            up = p_up + c_gap  # deletion of ref[i-1]
            left += c_gap  # insertion of hyp[j-1]; ``left`` held cur[j-1]
            # Preference order on equal cost: diagonal, deletion, insertion (rule 3).
            if diag <= up and diag <= left:
                left = diag
            elif up <= left:
                left = up
                row[j] = _UP
            else:
                row[j] = _LEFT
            cur.append(left)
        prev = cur

    ops: list[tuple[str, str | None, str | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        code = back[i][j]
        if code == _DIAG:
            r, h = ref[i - 1], hyp[j - 1]
            ops.append((CORRECT if r == h else SUB, r, h))
            i, j = i - 1, j - 1
        elif code == _UP:
            ops.append((DEL, ref[i - 1], None))
            i -= 1
        else:
            ops.append((INS, None, hyp[j - 1]))
            j -= 1
    ops.reverse()
    return tuple(ops)


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Unit-cost Levenshtein distance (= errors of :func:`align`), in O(len(hyp)) memory."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j - 1] + (r != h), prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return prev[-1]
