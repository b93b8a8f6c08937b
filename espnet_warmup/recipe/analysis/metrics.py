"""Numbers derived from training curves: perplexity, % clipped, grad-norm statistics, updates to accuracy.

Pure functions of curves (a curve, :data:`Series`, is ``(iterations, values)`` as ESPnet logs
them). Iterations are ESPnet mini-batches; with ``accum_grad`` = A there is one optimizer update
every A iterations, so functions that answer in updates take A explicitly.

* perplexity: ``exp`` of the per-token attention-decoder loss. ESPnet's ``loss_att`` is the
  decoder's (label-smoothed) cross entropy summed over the tokens of an utterance and averaged
  over utterances unless ``model_conf.length_normalized_loss`` is true, so
  per token = ``loss_att / (T + 1)``, T = mean tokens per utterance (+1: the ``<sos/eos>``
  target). T comes from the ``text_shape*`` file in ``train_shape_file``/``valid_shape_file``
  (asr.sh passes them) or, for ``token_type: char``, from the text itself. With
  ``lsm_weight`` > 0 the loss includes label smoothing, so this is the perplexity ESPnet
  optimises, higher than the plain one.
* % clipped: ESPnet logs ``clip`` = 100 for a clipped update and 0 otherwise; an interval's mean
  is its % of clipped updates, and the run's % weights the intervals by their finite updates.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any, NamedTuple

Series = tuple[list[int], list[float]]


def to_updates(iteration: int, accum_grad: int) -> float:
    """ESPnet iteration -> optimizer update (iteration / accum_grad; the int itself when A is 1)."""
    return iteration if accum_grad == 1 else iteration / accum_grad


# ----------------------------------------------------------------------------- perplexity
def _mean_shape(path: Path) -> float | None:
    """Mean of the first dimension of an ESPnet shape file (``utt-id N[,D]`` lines)."""
    vals = []
    with open(path) as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if len(parts) == 2:
                vals.append(float(parts[1].split(",")[0]))
    return statistics.fmean(vals) if vals else None


def _mean_char_tokens(path: Path) -> float | None:
    """Mean characters per transcript of a Kaldi ``text`` file (char tokens)."""
    lens = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(maxsplit=1)
            if parts:
                lens.append(len(parts[1]) if len(parts) == 2 else 0)
    return statistics.fmean(lens) if lens else None


def tokens_per_utterance(config: dict[str, Any], split: str, base: Path) -> float | None:
    """Mean number of output tokens per utterance of ``split`` (train/valid), or None.

    Paths in config.yaml are relative to where training ran; ``base`` (the recipe dir
    guess: the exp dir's grand-parent) is tried when they do not resolve as given.
    """

    def resolve(p: str) -> Path | None:
        for cand in (Path(p), base / p):
            if cand.is_file():
                return cand
        return None

    for shape in config.get(f"{split}_shape_file") or []:
        if Path(shape).name.startswith("text_shape") and (p := resolve(shape)):
            return _mean_shape(p)
    if str(config.get("token_type")) == "char":
        for entry in config.get(f"{split}_data_path_and_name_and_type") or []:
            if len(entry) >= 3 and entry[1] == "text" and (p := resolve(entry[0])):
                return _mean_char_tokens(p)
    return None


def perplexity(loss_att: float, tokens_per_utt: float | None, length_normalized: bool) -> float:
    """exp(per-token attention loss); see the module docstring. nan if unknowable."""
    if not math.isfinite(loss_att):
        return math.nan
    if length_normalized:
        per_token = loss_att
    elif tokens_per_utt is None:
        return math.nan
    else:
        per_token = loss_att / (tokens_per_utt + 1.0)
    return math.exp(per_token) if per_token < 700 else math.inf  # exp overflows a float beyond ~709


# ----------------------------------------------------------------------------- gradients
def finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def clipped_percent(clip: Series, interval_updates: list[int], until: int | None = None) -> float:
    """% of updates clipped up to iteration ``until``: the intervals' ``clip`` means weighted by
    their finite updates (``interval_updates``, one per point of ``clip``); nan if none."""
    num = den = 0.0
    for st, v, n in zip(*clip, interval_updates):
        if (until is None or st <= until) and math.isfinite(v) and n > 0:
            num += v * n
            den += n
    return num / den if den else math.nan


def grad_norm_stats(grad_norm: Series, until: int | None = None) -> tuple[float, float]:
    """(peak, median) of the logged finite grad norms up to iteration ``until``."""
    vals = finite([v for st, v in zip(*grad_norm) if until is None or st <= until])
    return (max(vals), statistics.median(vals)) if vals else (math.nan, math.nan)


# ----------------------------------------------------------------------------- convergence
class Reach(NamedTuple):
    """When a run first reached a validation accuracy: ``updates`` optimizer updates;
    ``upper_bound`` when already the first validation had reached it (no earlier point
    to interpolate from, so it was reached at or before ``updates``)."""

    updates: int
    upper_bound: bool


def updates_to_accuracy(valid_acc: Series, target: float, accum_grad: int = 1) -> Reach | None:
    """Optimizer updates (iterations / ``accum_grad``) at which the valid accuracy first
    reached ``target`` (a fraction, as ESPnet logs acc); None if never.

    ESPnet validates once per epoch, so the crossing lies between the last validation
    below the target and the first at or above it; it is placed by linear
    interpolation between those two points (rounded to a whole update). Counting whole
    epochs instead would give every run of a short recipe the same number.
    Non-finite accuracies (a diverged epoch) are not used as points.
    """
    prev: tuple[int, float] | None = None
    for st, acc in zip(*valid_acc):
        if not math.isfinite(acc):
            continue
        if acc >= target:
            if prev is None:
                return Reach(st // accum_grad, True)
            s0, a0 = prev
            x = s0 + (target - a0) / (acc - a0) * (st - s0)
            return Reach(round(x / accum_grad), False)
        prev = (st, acc)
    return None
