"""``espnet-warmup curves``: training curves of ESPnet exp dirs, plus a markdown summary.

    espnet-warmup curves exp/asr_train_linear_warmup exp/asr_train_exp_warmup -o curves.png

writes ``curves.png`` (six panels, one colour per experiment; x = optimizer updates =
ESPnet's iterations / ``accum_grad``, the axis the LR schedules step on) and ``curves.md`` beside it (one summary row per
experiment). Inputs per exp dir: ``train.log`` (preferred: it also records skipped
updates) or ``tensorboard/`` (``--source``), and ``config.yaml``.

Panels and definitions:

* loss: train ``loss`` per log interval (solid), valid ``loss`` per epoch (dashed, dots).
* accuracy: train ``acc`` per interval, valid ``acc`` per epoch (the decoder's token accuracy).
* perplexity: ``exp`` of the per-token attention-decoder loss. ESPnet's ``loss_att`` is
  the decoder's (label-smoothed) cross entropy summed over the tokens of an utterance
  and averaged over utterances unless ``model_conf.length_normalized_loss`` is true, so
  per token = ``loss_att / (mean tokens per utterance + 1)`` (+1: the ``<sos/eos>``
  target). Mean tokens per utterance come from the ``text_shape*`` file in
  ``train_shape_file``/``valid_shape_file`` (asr.sh passes them) or, for
  ``token_type: char``, from the text itself. With ``lsm_weight`` > 0 the loss includes
  label smoothing, so this is the perplexity ESPnet optimises, higher than the plain
  one; compare runs with the same ``lsm_weight``. The axis stops at 10 x the
  vocabulary size (worse than a uniform guess says nothing more).
* learning rate: ``optim0_lr0`` per interval (the LR after the interval's last update).
* gradient norm: ``grad_norm`` per interval, the norm *before* clipping (log scale);
  spikes (:mod:`espnet_warmup.recipe.analysis.spikes`) as red crosses, skipped non-finite
  updates as black triangles along the bottom.
* clipped: ``clip`` per interval = % of the interval's updates whose norm exceeded
  ``grad_clip``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from espnet_warmup.recipe.atomic import atomic_write_text
from espnet_warmup.recipe.analysis import spikes as spikes_mod
from espnet_warmup.recipe.analysis.logs import LogFormatError, TrainLog, parse_train_log, read_tensorboard

Series = tuple[list[int], list[float]]
PANELS = ("loss", "accuracy", "perplexity", "learning rate", "gradient norm", "clipped updates (%)")


@dataclasses.dataclass
class RunCurves:
    """Every curve of one experiment, read from train.log or tensorboard."""

    name: str
    path: Path
    source: str  # "train.log" or "tensorboard"
    config: dict[str, Any]
    series: dict[str, Series]  # train_loss, valid_loss, train_acc, valid_acc, train_ppl, valid_ppl, lr, grad_norm, clip
    interval_sizes: list[int]  # finite updates per grad-norm/clip interval (weights for clip %)
    skipped_steps: list[int]
    epoch_steps: list[int]
    spikes: list[spikes_mod.Spike]
    wall_seconds: float | None
    ppl_note: str
    log: TrainLog | None = None

    @property
    def accum_grad(self) -> int:
        return int(self.config.get("accum_grad", 1) or 1)

    @property
    def iterations(self) -> int:
        xs = [s for key in ("train_loss", "grad_norm") for s in self.series[key][0]] + self.epoch_steps
        return max(xs) if xs else 0


# ----------------------------------------------------------------------------- perplexity
def _mean_shape(path: Path) -> float | None:
    vals = []
    with open(path) as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if len(parts) == 2:
                vals.append(float(parts[1].split(",")[0]))
    return statistics.fmean(vals) if vals else None


def _mean_char_tokens(path: Path) -> float | None:
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
    return math.exp(per_token) if per_token < 700 else math.inf


# ----------------------------------------------------------------------------- loading
def load_config(expdir: Path) -> dict[str, Any]:
    path = expdir / "config.yaml"
    if not path.is_file():
        return {}
    with open(path) as f:
        conf = yaml.safe_load(f)
    return conf if isinstance(conf, dict) else {}


def load_run(expdir: str | Path, source: str = "auto", name: str | None = None,
             spike_factor: float = spikes_mod.DEFAULT_FACTOR, spike_window: int = spikes_mod.DEFAULT_WINDOW,
             min_history: int = spikes_mod.DEFAULT_MIN_HISTORY) -> RunCurves:
    """Read one exp dir. ``source``: ``auto`` (train.log if present, else tensorboard),
    ``log`` or ``tensorboard``. Raises LogFormatError naming what is missing."""
    expdir = Path(expdir)
    if source not in ("auto", "log", "tensorboard"):
        raise ValueError(f"source must be one of auto, log, tensorboard; got {source!r}")
    if not expdir.is_dir():
        raise LogFormatError(f"{expdir}: no such experiment directory")
    config = load_config(expdir)
    use_log = source == "log" or (source == "auto" and (expdir / "train.log").is_file())
    if source == "auto" and not use_log and not (expdir / "tensorboard").is_dir():
        raise LogFormatError(f"{expdir}: neither train.log nor tensorboard/ found")

    log = None
    if use_log:
        log = parse_train_log(expdir / "train.log")
        s: dict[str, Series] = {
            "train_loss": log.series("loss"),
            "train_acc": log.series("acc"),
            "train_loss_att": log.series("loss_att"),
            "lr": log.series("optim0_lr0"),
            "grad_norm": log.series("grad_norm"),
            "clip": log.series("clip"),
            "valid_loss": log.epoch_series("valid", "loss"),
            "valid_acc": log.epoch_series("valid", "acc"),
            "valid_loss_att": log.epoch_series("valid", "loss_att"),
        }
        sizes = {it.step: max(0, (it.end - it.start + 1) - it.skipped) for it in log.intervals}
        skipped = [sk.step for sk in log.skipped if sk.step is not None]
        epoch_steps = [ep.step for ep in log.epochs if ep.step is not None]
        wall = log.wall_seconds
        src = "train.log"
    else:
        tb = read_tensorboard(expdir)

        def epoch(tag: str) -> Series:
            pts = tb.valid.get(tag, [])
            return [p for p, _ in pts], [v for _, v in pts]

        s = {
            "train_loss": tb.series("loss"),
            "train_acc": tb.series("acc"),
            "train_loss_att": tb.series("loss_att"),
            "lr": tb.series("optim0_lr0"),
            "grad_norm": tb.series("grad_norm"),
            "clip": tb.series("clip"),
            "valid_loss": epoch("loss"),
            "valid_acc": epoch("acc"),
            "valid_loss_att": epoch("loss_att"),
        }
        steps = s["grad_norm"][0]
        sizes = {st: st - prev for prev, st in zip([0, *steps], steps)}
        # tensorboard has no skip warnings: an interval whose mean grad norm is non-finite
        # (log_interval 1, or every update of the interval skipped) is the best we can see.
        skipped = [st for st, v in zip(*s["grad_norm"]) if not math.isfinite(v)]
        epoch_steps = [st for st, _ in tb.train_epoch.get("loss", [])]
        wall = None
        src = "tensorboard"

    # perplexity per token
    lnorm = bool((config.get("model_conf") or {}).get("length_normalized_loss", False))
    base = expdir.resolve().parent.parent
    notes = []
    for split in ("train", "valid"):
        tpu = None if lnorm else tokens_per_utterance(config, split, base)
        xs, ys = s.pop(f"{split}_loss_att")
        s[f"{split}_ppl"] = (xs, [perplexity(v, tpu, lnorm) for v in ys])
        if not lnorm and tpu is None and xs:
            notes.append(f"{split} perplexity unavailable: no text_shape file in {split}_shape_file "
                         "and token_type is not char")
    gx, gy = s["grad_norm"]
    spk = spikes_mod.detect_spikes(gy, gx, spike_factor, spike_window, min_history)
    return RunCurves(
        name=name or expdir.name, path=expdir, source=src, config=config, series=s,
        interval_sizes=[sizes.get(st, 1) for st in s["clip"][0]], skipped_steps=skipped,
        epoch_steps=epoch_steps, spikes=spk, wall_seconds=wall, ppl_note="; ".join(notes), log=log,
    )


# ----------------------------------------------------------------------------- summary
def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def clipped_percent(run: RunCurves, until: int | None = None) -> float:
    """% of updates clipped: interval clip means weighted by their finite updates."""
    num = den = 0.0
    for st, v, n in zip(*run.series["clip"], run.interval_sizes):
        if (until is None or st <= until) and math.isfinite(v) and n > 0:
            num += v * n
            den += n
    return num / den if den else math.nan


def grad_norm_stats(run: RunCurves, until: int | None = None) -> tuple[float, float]:
    """(peak, median) of the logged finite grad norms up to iteration ``until``."""
    vals = _finite([v for st, v in zip(*run.series["grad_norm"]) if until is None or st <= until])
    return (max(vals), statistics.median(vals)) if vals else (math.nan, math.nan)


class Reach(NamedTuple):
    """When a run first reached a validation accuracy: ``updates`` optimizer updates;
    ``upper_bound`` when already the first validation had reached it (no earlier point
    to interpolate from, so it was reached at or before ``updates``)."""

    updates: int
    upper_bound: bool


def updates_to_accuracy(run: RunCurves, target: float) -> Reach | None:
    """Optimizer updates (iterations / accum_grad) at which the valid accuracy first
    reached ``target`` (a fraction, as ESPnet logs acc); None if never.

    ESPnet validates once per epoch, so the crossing lies between the last validation
    below the target and the first at or above it; it is placed by linear
    interpolation between those two points (rounded to a whole update). Counting whole
    epochs instead would give every run of a short recipe the same number.
    Non-finite accuracies (a diverged epoch) are not used as points.
    """
    prev: tuple[int, float] | None = None
    for st, acc in zip(*run.series["valid_acc"]):
        if not math.isfinite(acc):
            continue
        if acc >= target:
            if prev is None:
                return Reach(st // run.accum_grad, True)
            s0, a0 = prev
            x = s0 + (target - a0) / (acc - a0) * (st - s0)
            return Reach(round(x / run.accum_grad), False)
        prev = (st, acc)
    return None


def summary_row(run: RunCurves) -> dict[str, Any]:
    """The numbers of one summary-table row (NaN/None where not available)."""
    vx, vacc = run.series["valid_acc"]
    finite_acc = [(a, i) for i, a in enumerate(vacc) if math.isfinite(a)]
    best = max(finite_acc) if finite_acc else None
    peak, med = grad_norm_stats(run)
    tl = _finite(run.series["train_loss"][1])
    vl = run.series["valid_loss"][1]
    vp = run.series["valid_ppl"][1]
    return {
        "experiment": run.name,
        "source": run.source,
        "epochs": len(run.epoch_steps),
        "iterations": run.iterations,
        "updates": run.iterations // run.accum_grad,
        "final train loss": tl[-1] if tl else math.nan,
        "final valid loss": vl[-1] if vl else math.nan,
        "best valid acc": best[0] if best else math.nan,
        "best epoch": best[1] + 1 if best else None,
        "final valid ppl": vp[-1] if vp else math.nan,
        "peak grad norm": peak,
        "median grad norm": med,
        "spikes": len(run.spikes),
        "clipped %": clipped_percent(run),
        "skipped updates": len(run.skipped_steps),
        "wall time": run.wall_seconds,
    }


def fmt(v: Any) -> str:
    """Table cell: compact numbers, '-' for missing."""
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return "inf"
        if v != 0 and (abs(v) >= 1e4 or abs(v) < 1e-2):
            return f"{v:.3g}"
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def fmt_seconds(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def summary_markdown(runs: list[RunCurves], image: str | None = None) -> str:
    """Markdown table, one row per run (what ``curves`` writes beside the picture)."""
    cols = ["experiment", "source", "epochs", "updates", "final train loss", "final valid loss",
            "best valid acc", "final valid ppl", "peak grad norm", "median grad norm", "spikes",
            "clipped %", "skipped updates", "wall time"]
    lines = []
    if image:
        lines += [f"![training curves]({image})", ""]
    lines += ["|" + "|".join(cols) + "|", "|" + "|".join("---" for _ in cols) + "|"]
    for run in runs:
        row = summary_row(run)
        cells = []
        for c in cols:
            if c == "best valid acc" and row["best epoch"]:
                cells.append(f"{fmt(row[c])} (ep {row['best epoch']})")
            elif c == "wall time":
                cells.append(fmt_seconds(row[c]))
            else:
                cells.append(fmt(row[c]))
        lines.append("|" + "|".join(cells) + "|")
    lines.append("")
    lines.append(
        "Definitions: iterations are ESPnet mini-batches, updates = iterations / accum_grad; grad norm "
        "is ESPnet's `grad_norm` (before clipping) per log interval; a spike is a grad norm above k x the "
        "median of the previous finite values (see `espnet_warmup.recipe.analysis.spikes`); clipped % is the "
        "share of updates with grad norm > grad_clip; skipped updates are ESPnet's "
        "'The grad norm is nan/inf. Skipping updating the model.'; perplexity = exp(per-token "
        "loss_att), label smoothing included."
    )
    notes = [f"- {r.name}: {r.ppl_note}" for r in runs if r.ppl_note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- plotting
def plot_curves(runs: list[RunCurves], output: str | Path) -> dict[str, list[tuple[str, list[int], list[float]]]]:
    """Draw the six panels into ``output``; return what was plotted:
    ``{panel: [(label, xs, ys), ...]}`` (non-finite points dropped), plus the markers under
    ``"spikes"`` and ``"skipped"``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from espnet_warmup.recipe.analysis.plot_lr import _save

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    ax = dict(zip(PANELS, axes.flat))
    plotted: dict[str, list[tuple[str, list[int], list[float]]]] = {p: [] for p in PANELS}
    plotted["spikes"], plotted["skipped"] = [], []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    # x = optimizer updates (iterations / accum_grad), so runs with different accum_grad and
    # the LR schedules (stepped per update) line up; equal to ESPnet's iterations when accum_grad is 1.
    acc = 1

    def line(panel: str, label: str, series: Series, color: str, valid: bool = False, positive: bool = False):
        xs, ys = [], []
        for x, y in zip(*series):
            if math.isfinite(y) and (y > 0 or not positive):
                xs.append(x / acc if acc != 1 else x)
                ys.append(y)
        if not xs:
            return
        style = dict(ls="--", marker="o", ms=4) if valid else dict(lw=1.2)
        ax[panel].plot(xs, ys, color=color, label=label, **style)
        plotted[panel].append((label, xs, ys))

    for k, run in enumerate(runs):
        c = colors[k % len(colors)]
        s = run.series
        acc = run.accum_grad
        line("loss", f"{run.name} train", s["train_loss"], c, positive=True)
        line("loss", f"{run.name} valid", s["valid_loss"], c, valid=True, positive=True)
        line("accuracy", f"{run.name} train", s["train_acc"], c)
        line("accuracy", f"{run.name} valid", s["valid_acc"], c, valid=True)
        line("perplexity", f"{run.name} train", s["train_ppl"], c, positive=True)
        line("perplexity", f"{run.name} valid", s["valid_ppl"], c, valid=True, positive=True)
        line("learning rate", run.name, s["lr"], c)
        line("gradient norm", run.name, s["grad_norm"], c, positive=True)
        line("clipped updates (%)", run.name, s["clip"], c)
        g = ax["gradient norm"]
        if run.spikes:
            xs, ys = [sp.step / acc if acc != 1 else sp.step for sp in run.spikes], [sp.value for sp in run.spikes]
            g.plot(xs, ys, "x", color="red", ms=9, mew=2,
                   label="spike" if not plotted["spikes"] else None)
            plotted["spikes"].append((run.name, xs, ys))
        if run.skipped_steps:
            sx = [x / acc if acc != 1 else x for x in run.skipped_steps]
            g.plot(sx, [0.02] * len(sx), "v", color=c, mec="black", ms=7,
                   transform=g.get_xaxis_transform(),
                   label="skipped (non-finite)" if not plotted["skipped"] else None)
            plotted["skipped"].append((run.name, sx, []))
    for p in ("loss", "perplexity", "gradient norm"):
        if plotted[p]:
            ax[p].set_yscale("log")
    # A diverged run's perplexity reaches 1e100+; beyond the vocabulary size V (a uniform
    # guess) the value says nothing more, so the axis stops at 10 V.
    vocab = max((len(r.config["token_list"]) for r in runs if isinstance(r.config.get("token_list"), list)),
                default=None)
    top = max((y for _, _, ys in plotted["perplexity"] for y in ys), default=None)
    if vocab and top and top > 10 * vocab:
        ax["perplexity"].set_ylim(top=10 * vocab)
    for p, a in ax.items():
        a.set_title(p)
        a.set_xlabel("optimizer update (iteration / accum_grad)")
        a.grid(alpha=0.3)
        if plotted[p]:
            a.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, output)
    plt.close(fig)
    return plotted




def curves(expdirs: list[str | Path], output: str | Path, source: str = "auto",
           labels: list[str] | None = None, **spike_args) -> tuple[list[RunCurves], dict]:
    """Load, plot, write ``<output stem>.md``; return (runs, plotted data)."""
    if labels is not None and len(labels) != len(expdirs):
        raise ValueError(f"--labels gives {len(labels)} names for {len(expdirs)} exp dirs")
    runs = [load_run(d, source, labels[i] if labels else None, **spike_args) for i, d in enumerate(expdirs)]
    output = Path(output)
    plotted = plot_curves(runs, output)
    atomic_write_text(output.with_suffix(".md"), summary_markdown(runs, image=output.name))
    return runs, plotted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expdirs", nargs="+", help="ESPnet exp dirs (with train.log and/or tensorboard/)")
    parser.add_argument("-o", "--output", required=True, help="output image; the summary goes to <stem>.md")
    parser.add_argument("--source", choices=("auto", "log", "tensorboard"), default="auto",
                        help="read train.log or tensorboard events (auto: train.log if present)")
    parser.add_argument("--labels", nargs="+", help="legend names, one per exp dir (default: dir names)")
    parser.add_argument("--spike_factor", "--spike-factor", type=float, default=spikes_mod.DEFAULT_FACTOR,
                        help="k: spike = grad norm > k x trailing median (default %(default)s)")
    parser.add_argument("--spike_window", "--spike-window", type=int, default=spikes_mod.DEFAULT_WINDOW,
                        help="trailing window, in logged points (default %(default)s)")
    parser.add_argument("--spike_min_history", "--spike-min-history", type=int,
                        default=spikes_mod.DEFAULT_MIN_HISTORY,
                        help="points needed before spikes can be flagged (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    try:
        runs, _ = curves(args.expdirs, args.output, args.source, args.labels,
                         spike_factor=args.spike_factor, spike_window=args.spike_window,
                         min_history=args.spike_min_history)
    except (LogFormatError, ValueError) as err:
        print(f"curves: {err}", file=sys.stderr)
        return 1
    for r in runs:
        row = summary_row(r)
        print(f"{r.name}: {row['updates']} updates, {row['spikes']} spikes, "
              f"{row['skipped updates']} skipped, clipped {fmt(row['clipped %'])}%")
    print(f"wrote {args.output} and {Path(args.output).with_suffix('.md')}")
    return 0
