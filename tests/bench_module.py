"""Load a script of bench/ as a module (bench/ is not a package): the tests of its pure parts use it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_bench(name: str) -> ModuleType:
    """A fresh module object of ``bench/<name>.py`` (executed anew on every call). bench/ goes on sys.path, as
    when a script runs: the scripts import each other (guard_rescue and finetune_study use stability_study)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
