"""``espnet-warmup curves``: training curves of ESPnet exp dirs, plus a markdown summary.

    espnet-warmup curves exp/asr_train_linear_warmup exp/asr_train_exp_warmup -o curves.png

writes ``curves.png`` (six panels, one colour per experiment; x = optimizer updates =
ESPnet's iterations / ``accum_grad``, the axis the LR schedules step on) and ``curves.md`` beside it (one summary row per
experiment). Inputs per exp dir: ``train.log`` (preferred: it also records skipped
updates) or ``tensorboard/`` (``--source``), and ``config.yaml``.

Panels and definitions:

* loss: train ``loss`` per log interval (solid), valid ``loss`` per epoch (dashed, dots).
* accuracy: train ``acc`` per interval, valid ``acc`` per epoch (the decoder's token accuracy).
* perplexity: ``exp`` of the per-token attention-decoder loss
  (:func:`espnet_warmup.recipe.analysis.metrics.perplexity`; label smoothing included, so
  compare runs with the same ``lsm_weight``). The axis stops at 10 x the vocabulary size
  (worse than a uniform guess says nothing more).
* learning rate: ``optim0_lr0`` per interval (the LR after the interval's last update).
* gradient norm: ``grad_norm`` per interval, the norm *before* clipping (log scale);
  spikes (:mod:`espnet_warmup.spikes`) as red crosses, skipped non-finite
  updates as black triangles along the bottom.
* clipped: ``clip`` per interval = % of the interval's updates whose norm exceeded
  ``grad_clip``.

The curves are read by :mod:`espnet_warmup.recipe.analysis.runs`, the numbers of the table
computed by :mod:`espnet_warmup.recipe.analysis.metrics`; this module draws and writes them.
"""


from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from espnet_warmup.options import KaldiArgumentParser
from espnet_warmup import spikes
from espnet_warmup.recipe.analysis.figures import save_figure
from espnet_warmup.recipe.analysis.logs import LogFormatError
from espnet_warmup.recipe.analysis.metrics import (Series, clipped_percent, finite, grad_norm_stats,
                                                   to_updates)
from espnet_warmup.recipe.analysis.runs import SOURCES, RunCurves, load_run
from espnet_warmup.recipe.atomic import atomic_write_text

PANELS = ("loss", "accuracy", "perplexity", "learning rate", "gradient norm", "clipped updates (%)")
Plotted = dict[str, list[tuple[str, list[float], list[float]]]]


# ----------------------------------------------------------------------------- summary
def summary_row(run: RunCurves) -> dict[str, Any]:
    """The numbers of one summary-table row (NaN/None where not available)."""
    vacc = run.series["valid_acc"][1]
    finite_acc = [(a, i) for i, a in enumerate(vacc) if math.isfinite(a)]
    best = max(finite_acc) if finite_acc else None
    peak, med = grad_norm_stats(run.series["grad_norm"])
    tl = finite(run.series["train_loss"][1])
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
        "clipped %": clipped_percent(run.series["clip"], run.interval_sizes),
        "skipped updates": len(run.skipped_steps),
        "guard interventions": len(run.guard),
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
    """Wall time as ``1h02m`` or ``3m04s``; '-' if unknown."""
    if s is None or not math.isfinite(s):
        return "-"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def summary_markdown(runs: list[RunCurves], image: str | None = None) -> str:
    """Markdown table, one row per run (what ``curves`` writes beside the picture)."""
    cols = ["experiment", "source", "epochs", "updates", "final train loss", "final valid loss",
            "best valid acc", "final valid ppl", "peak grad norm", "median grad norm", "spikes",
            "clipped %", "skipped updates", "wall time"]
    if any(r.guard for r in runs):  # runs with the warmup guard (warmupguardlr)
        cols.insert(cols.index("wall time"), "guard interventions")
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
        "median of the previous finite values (see `espnet_warmup.spikes`); clipped % is the "
        "share of updates with grad norm > grad_clip; skipped updates are ESPnet's "
        "'The grad norm is nan/inf. Skipping updating the model.'; perplexity = exp(per-token "
        "loss_att), label smoothing included."
        + (" Guard interventions: the warmup guard's holds (`<exp>/warmup_guard.log`; triangles on the LR "
           "panel at the LR it set)." if any(r.guard for r in runs) else "")
    )
    notes = [f"- {r.name}: {r.ppl_note}" for r in runs if r.ppl_note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- plotting
def _finite_points(series: Series, accum_grad: int, positive: bool = False) -> tuple[list[float], list[float]]:
    """The finite points of a curve (only y > 0 with ``positive``: log axes), x in optimizer updates."""
    xs, ys = [], []
    for x, y in zip(*series):
        if math.isfinite(y) and (y > 0 or not positive):
            xs.append(to_updates(x, accum_grad))
            ys.append(y)
    return xs, ys


def plot_curves(runs: list[RunCurves], output: str | Path) -> Plotted:
    """Draw the six panels into ``output``; return what was plotted:
    ``{panel: [(label, xs, ys), ...]}`` (non-finite points dropped), plus the markers under
    ``"spikes"``, ``"skipped"`` and ``"guard"`` (the warmup guard's interventions, on the LR panel).

    x = optimizer updates (iterations / accum_grad, per run), so runs with different accum_grad
    and the LR schedules (stepped per update) line up.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    ax = dict(zip(PANELS, axes.flat))
    plotted: Plotted = {p: [] for p in PANELS}
    plotted["spikes"], plotted["skipped"], plotted["guard"] = [], [], []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def line(panel: str, label: str, points: tuple[list[float], list[float]], color: str, valid: bool = False):
        xs, ys = points
        if not xs:
            return
        style = dict(ls="--", marker="o", ms=4) if valid else dict(lw=1.2)
        ax[panel].plot(xs, ys, color=color, label=label, **style)
        plotted[panel].append((label, xs, ys))

    # (panel, label suffix, curve, validation curve?, positive values only: log axis)
    layout = [("loss", " train", "train_loss", False, True), ("loss", " valid", "valid_loss", True, True),
              ("accuracy", " train", "train_acc", False, False), ("accuracy", " valid", "valid_acc", True, False),
              ("perplexity", " train", "train_ppl", False, True), ("perplexity", " valid", "valid_ppl", True, True),
              ("learning rate", "", "lr", False, False), ("gradient norm", "", "grad_norm", False, True),
              ("clipped updates (%)", "", "clip", False, False)]
    for k, run in enumerate(runs):
        c = colors[k % len(colors)]
        for panel, suffix, key, valid, positive in layout:
            line(panel, run.name + suffix, _finite_points(run.series[key], run.accum_grad, positive), c, valid)
        g = ax["gradient norm"]
        if run.spikes:
            xs = [to_updates(sp.step, run.accum_grad) for sp in run.spikes]
            ys = [sp.value for sp in run.spikes]
            g.plot(xs, ys, "x", color="red", ms=9, mew=2,
                   label="spike" if not plotted["spikes"] else None)
            plotted["spikes"].append((run.name, xs, ys))
        if run.guard:  # the warmup guard's interventions: where it held the LR down (update, next LR)
            gx = [e["update"] for e in run.guard]
            gy = [float(e.get("next_lr", math.nan)) for e in run.guard]
            ax["learning rate"].plot(gx, gy, "^", color=c, mec="black", ms=7,
                                     label="warmup guard held" if not plotted["guard"] else None)
            plotted["guard"].append((run.name, gx, gy))
        if run.skipped_steps:
            sx = [to_updates(x, run.accum_grad) for x in run.skipped_steps]
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
            many = len(plotted[p]) > 8  # e.g. 4 policies x 3 seeds x train/valid: two small columns
            a.legend(fontsize=5 if many else 7, ncol=2 if many else 1)
        elif p in ("accuracy", "perplexity"):  # e.g. a transducer: ESPnet logs no decoder accuracy
            a.text(0.5, 0.5, f"no {p} in these runs' logs\n(ESPnet logs none for a transducer or a CTC-only model)",
                   ha="center", va="center", transform=a.transAxes, fontsize=9, color="0.4")
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)
    return plotted


def curves(expdirs: list[str | Path], output: str | Path, source: str = "auto",
           labels: list[str] | None = None, **spike_args) -> tuple[list[RunCurves], Plotted]:
    """Load, plot, write ``<output stem>.md``; return (runs, plotted data)."""
    if labels is not None and len(labels) != len(expdirs):
        raise ValueError(f"--labels gives {len(labels)} names for {len(expdirs)} exp dirs")
    runs = [load_run(d, source, labels[i] if labels else None, **spike_args) for i, d in enumerate(expdirs)]
    output = Path(output)
    plotted = plot_curves(runs, output)
    atomic_write_text(output.with_suffix(".md"), summary_markdown(runs, image=output.name))
    return runs, plotted


# ----------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expdirs", nargs="+", help="ESPnet exp dirs (with train.log and/or tensorboard/)")
    parser.add_argument("-o", "--output", required=True, help="output image; the summary goes to <stem>.md")
    parser.add_argument("--source", choices=SOURCES, default="auto",
                        help="read train.log or tensorboard events (auto: train.log if present)")
    parser.add_argument("--labels", nargs="+", help="legend names, one per exp dir (default: dir names)")
    parser.add_argument("--spike_factor", type=float, default=spikes.DEFAULT_FACTOR,
                        help="k: spike = grad norm > k x trailing median (default %(default)s)")
    parser.add_argument("--spike_window", type=int, default=spikes.DEFAULT_WINDOW,
                        help="trailing window, in logged points (default %(default)s)")
    parser.add_argument("--spike_min_history", type=int, default=spikes.DEFAULT_MIN_HISTORY,
                        help="points needed before spikes can be flagged (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    try:
        runs, _ = curves(args.expdirs, args.output, args.source, args.labels,
                         spike_factor=args.spike_factor, spike_window=args.spike_window,
                         min_history=args.spike_min_history)
    except (LogFormatError, ValueError) as err:  # ConfigError is a ValueError
        print(f"curves: {err}", file=sys.stderr)
        return 1
    for r in runs:
        row = summary_row(r)
        print(f"{r.name}: {row['updates']} updates, {row['spikes']} spikes, "
              f"{row['skipped updates']} skipped, clipped {fmt(row['clipped %'])}%")
    print(f"wrote {args.output} and {Path(args.output).with_suffix('.md')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = KaldiArgumentParser(prog="python -m espnet_warmup.recipe.analysis.curves",
                                 description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
