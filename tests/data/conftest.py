"""Shared helpers of the corpus tests: run the paper recipe's local/data.sh on replicas."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "warmup_dilemma" / "asr1"
DB_VARS = ("LIBRISPEECH", "MLS", "COMMONVOICE", "FLEURS", "VOXPOPULI")


@pytest.fixture
def data_sh(tmp_path):
    """``data_sh(*args, **roots)``: run local/data.sh from the recipe dir into tmp_path/data."""

    def run(*args: str, **roots: Path) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        for var in DB_VARS:  # every root defined: unset ones point nowhere, as a wrong db.sh would
            env[var] = str(roots.get(var, tmp_path / f"no_{var.lower()}"))
        cmd = ["bash", "local/data.sh", *args, "--data_dir", str(tmp_path / "data"), "--progress", "false"]
        return subprocess.run(cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=300)

    return run
