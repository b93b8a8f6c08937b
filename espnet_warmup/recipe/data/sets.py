"""What data prep tells the later stages about the sets it wrote."""

from __future__ import annotations

from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_write_text


def write_test_sets(names: list[str], data: Path) -> None:
    """``<data>/test_sets``: one line, the test set names space-separated (asr.sh ``--test_sets auto``
    reads it after stage 1)."""
    atomic_write_text(Path(data) / "test_sets", " ".join(names) + "\n")
