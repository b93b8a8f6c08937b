"""Writing matplotlib figures for the analysis commands (``plot-lr``, ``curves``, ``report``).

:func:`save_figure` writes through :func:`espnet_warmup.recipe.atomic.atomic_output`: the image
goes to a temporary file beside ``output`` that is renamed over it, so an interrupted run never
leaves a half-written picture that a rerun (or RESULTS.md) would take as done.
"""

from __future__ import annotations

from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_output

DPI = 110


def save_figure(fig, output: str | Path, dpi: int = DPI) -> None:
    """Save ``fig`` to ``output`` atomically; the format follows the suffix (png, pdf, svg ...)."""
    output = Path(output)
    # savefig into a file object needs the format; matplotlib otherwise infers it from the name
    with atomic_output(output, "wb") as f:
        fig.savefig(f, dpi=dpi, format=output.suffix.lstrip(".").lower() or None)
