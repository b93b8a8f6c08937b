"""The test cluster itself: it reports why it cannot start (so tests error, never skip),
and it is a real scheduler with two nodes."""

from __future__ import annotations

import time

import pytest

from .slurm_local import NODE_NAMES, LocalSlurm, SlurmStartError


def test_missing_daemons_make_start_fail_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SlurmStartError) as err:
        LocalSlurm(tmp_path).start()
    assert str(err.value) == (
        "missing Slurm/munge programs: munged, slurmctld, slurmd, sbatch, squeue, scancel, "
        "scontrol, sinfo (install the Debian packages slurm-wlm and munge)"
    )


@pytest.mark.cluster
def test_cluster_has_two_idle_nodes_in_cpu_and_gpu_partitions(slurm_cluster):
    expected = sorted(f"{node} {part} idle" for node in NODE_NAMES for part in ("cpu*", "gpu"))
    deadline = time.time() + 30  # a previous test's job may still be completing
    while True:
        out = slurm_cluster.run("sinfo", "-h", "-N", "-o", "%N %P %t").stdout.split("\n")
        nodes = sorted(line for line in out if line)
        if nodes == expected or time.time() > deadline:
            break
        time.sleep(0.5)
    assert nodes == expected
