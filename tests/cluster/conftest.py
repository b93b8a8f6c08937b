"""Fixtures for tests against a real Slurm on this machine (two nodes; see slurm_local.py).

``slurm_cluster`` is session-scoped: the daemons start once, on first use, and the ones it
started are stopped (by pid) when the session ends. If they cannot start, every test using
the fixture ERRORS with the daemons' log tails: a cluster test is never skipped.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

from .slurm_local import LocalSlurm

REPO = pathlib.Path(__file__).resolve().parents[2]
SLURM_PL = str(REPO / "egs2" / "TEMPLATE" / "asr1" / "utils" / "slurm.pl")


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def slurm_workdir(tmp_path, slurm_cluster):
    """A recipe-like directory with the shipped conf/slurm.conf, and no jobs left queued."""
    (tmp_path / "conf").mkdir()
    shutil.copy(REPO / "conf" / "slurm.conf", tmp_path / "conf" / "slurm.conf")
    yield tmp_path
    slurm_cluster.cancel_all()


@pytest.fixture
def slurm_pl(slurm_cluster, slurm_workdir):
    """Run utils/slurm.pl in the work dir against the test cluster."""

    def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([SLURM_PL, *args], cwd=slurm_workdir, capture_output=True,
                              text=True, timeout=timeout, env=slurm_cluster.env)

    return _run
