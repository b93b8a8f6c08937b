"""``espnet-warmup plot-lr``: the LR curves of ESPnet training configs in one picture.

    espnet-warmup plot-lr conf/train_linear_warmup.yaml conf/train_exp_warmup.yaml \\
        --steps 200000 -o lr.png

Each config's curve comes from :mod:`espnet_warmup.recipe.analysis.config_lr` (its registered
scheduler, stepped as ESPnet steps it; x = optimizer updates). The warmup window of each
config (:func:`espnet_warmup.espnet_config.scheduler_spec`, carried by the curve) is marked: a dotted vertical line at its last warmup update (the peak), dots at
intermediate knots (piecewise linear), open squares where a tail changes (a WSD decay starts, a decay
reaches its floor at total_steps), and the span [0, longest warmup] shaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from espnet_warmup.recipe.analysis.config_lr import ConfigError, LRCurve, lr_curve
from espnet_warmup.recipe.analysis.figures import save_figure


def plot_lr(configs: list[str | Path], steps: int, output: str | Path,
            labels: list[str] | None = None, logy: bool = False, points: int = 2000) -> list[LRCurve]:
    """Draw the curves into ``output`` (any matplotlib format); return the plotted curves.

    The image is written to a temporary name and renamed, so an interrupted run never
    leaves a partial file at ``output``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if labels is not None and len(labels) != len(configs):
        raise ConfigError(f"--labels gives {len(labels)} names for {len(configs)} configs")
    curves = [
        lr_curve(cfg, steps, name=(labels[i] if labels else None), points=points)
        for i, cfg in enumerate(configs)
    ]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    longest = max((c.warmup_end or 0) for c in curves)
    if longest:
        ax.axvspan(0, longest, color="0.92", zorder=0, label="warmup window")
    for c in curves:
        label = c.name if c.scheduler is None else f"{c.name} ({c.scheduler})"
        (line,) = ax.plot(c.steps, c.lrs, label=label, lw=1.6)
        if c.warmup_end:
            ax.axvline(c.warmup_end, color=line.get_color(), ls=":", lw=1)
        for k in c.knots:
            ax.plot([k], [c.lr_at(k)], "o", color=line.get_color(), ms=4)
        for k in c.decay_marks:  # WSD decay start, the last update T of a decay to a floor
            if k in c.steps:
                ax.plot([k], [c.lr_at(k)], "s", color=line.get_color(), ms=4, mfc="none")
    ax.set_xlabel("optimizer update")
    ax.set_ylabel("learning rate")
    if logy:
        ax.set_yscale("log")
    ax.set_xlim(0, steps)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("LR schedules (dotted: end of warmup)")
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)
    return curves


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", help="ESPnet training configs (YAML)")
    parser.add_argument("--steps", type=int, required=True, help="number of optimizer updates to plot")
    parser.add_argument("-o", "--output", required=True, help="output image (png, pdf, svg)")
    parser.add_argument("--labels", nargs="+", help="legend names, one per config (default: file stems)")
    parser.add_argument("--logy", action="store_true", help="log-scale LR axis")


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        print(f"plot-lr: --steps must be >= 1, got {args.steps}", file=sys.stderr)
        return 2
    try:
        curves = plot_lr(args.configs, args.steps, args.output, labels=args.labels, logy=args.logy)
    except ConfigError as err:
        print(f"plot-lr: {err}", file=sys.stderr)
        return 1
    for c in curves:
        peak = max(c.lrs)
        warm = f"warmup ends at update {c.warmup_end}" if c.warmup_end else "no warmup"
        if c.decay_marks:
            warm += f", floor from update {c.decay_marks[-1]}"
        print(f"{c.name}: scheduler={c.scheduler} peak_lr={peak:.3e} {warm}"
              + (f" [{c.note}]" if c.note else ""))
    print(f"wrote {args.output}")
    return 0
