"""Shared set-up of the recipe tests: a throw-away recipe dir wired to this checkout.

A recipe dir is what users run from: run.sh, asr.sh, path.sh, cmd.sh, db.sh, utils/, local/
and conf/ link to the repository (as ESPnet's egs2 dirs link to TEMPLATE), while data/,
dump/, exp/, downloads/ and RESULTS.md are written inside the temp dir, never in the checkout.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINKS = ("run.sh", "asr.sh", "path.sh", "cmd.sh", "db.sh", "utils", "local", "conf")
#: A corpus small enough for CI (the corpus helper's size options, passed by stage 1).
TINY_CORPUS = "--num_train 40 --num_dev 8 --num_test 8"


def make_recipe_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in LINKS:
        (path / name).symlink_to(ROOT / name)
    return path


def run_recipe(recipe: Path, *args: str, env: dict | None = None, timeout: int = 600, script: str = "./run.sh"):
    """Run ``./run.sh args...`` in ``recipe``; return the CompletedProcess (stdout+stderr as text)."""
    full_env = dict(os.environ, PYTHONWARNINGS="ignore", **(env or {}))
    full_env.pop("VIRTUAL_ENV", None)
    return subprocess.run([script, *args], cwd=recipe, capture_output=True, text=True, timeout=timeout, env=full_env)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A recipe dir after stages 1-5 on the tiny corpus (word tokens, as ./run.sh)."""
    recipe = make_recipe_dir(tmp_path_factory.mktemp("recipe_data") / "asr1")
    out = run_recipe(recipe, "--stage", "1", "--stop_stage", "5", "--local_data_opts", TINY_CORPUS)
    assert out.returncode == 0, out.stderr[-3000:]
    return recipe


def clone_data(src: Path, dst: Path) -> Path:
    """A new recipe dir holding a copy of ``src``'s data/ and dump/ (and the shared audio)."""
    recipe = make_recipe_dir(dst)
    for name in ("data", "dump", "downloads"):
        if (src / name).exists():
            subprocess.run(["cp", "-a", str(src / name), str(recipe / name)], check=True)
    return recipe


@pytest.fixture
def tmpfs():
    """``tmpfs(path, size)``: mount a tmpfs of ``size`` (bytes, or "64k"-style) at ``path``: a real
    full disk for the fault tests. Every one is unmounted at teardown. No skip: the tests run as root."""
    mounted: list[Path] = []

    def mount(path: Path, size: int | str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True,
                       capture_output=True, text=True)
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)
