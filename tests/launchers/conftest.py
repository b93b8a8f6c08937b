"""Fixtures for the launcher tests: paths of the thin executables in utils/."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
UTILS = REPO / "egs2" / "TEMPLATE" / "asr1" / "utils"


@pytest.fixture
def run_pl() -> str:
    return str(UTILS / "run.pl")


@pytest.fixture
def launch(tmp_path):
    """Run a launcher executable in ``tmp_path`` and return the CompletedProcess."""

    def _launch(launcher: str, *args: str, timeout: float = 60, env: dict | None = None):
        return subprocess.run(
            [launcher, *args], cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, **(env or {})},
        )

    return _launch
