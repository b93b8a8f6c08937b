"""ESPnet's own training launcher (espnet2.bin.launch) driving our run.pl and slurm.pl.

espnet2.bin.launch is what asr.sh stage 11 runs; it finds the launcher by name on PATH and
adds its own options (--gpu, --num_threads, --num_nodes) and the srun line for multi-node.
The launched program here only prints its rank and arguments: the point is the launcher
contract, not training (which the recipe tests cover).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import SLURM_PL

UTILS = os.path.dirname(SLURM_PL)

SHOW_ARGS = (
    "import os, sys\n"
    "print('rank', os.environ.get('SLURM_PROCID', '-'), 'on', os.environ.get('SLURMD_NODENAME', '-'),"
    " 'args', ' '.join(sys.argv[1:]))\n"
)


def _launch(workdir, env, cmd, *options):
    (workdir / "show_args.py").write_text(SHOW_ARGS)
    env = {**env, "PATH": f"{UTILS}:{env['PATH']}"}
    return subprocess.run(
        [sys.executable, "-m", "espnet2.bin.launch", "--cmd", cmd, "--log", "exp/train.log",
         *options, "--", "python3", "show_args.py", "--output_dir", "exp"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=180,
    )


def test_espnet_launch_runs_single_node_training_through_run_pl(tmp_path):
    res = _launch(tmp_path, dict(os.environ), "run.pl --name exp/train.log", "--ngpu", "0")
    assert res.returncode == 0, res.stderr
    log = (tmp_path / "exp/train.log").read_text()
    assert "rank - on - args --output_dir exp --ngpu 0 --multiprocessing_distributed True\n" in log
    assert "# Ended (code 0)" in log


@pytest.mark.cluster
def test_espnet_launch_runs_two_node_training_through_slurm_pl(slurm_cluster, slurm_workdir):
    res = _launch(slurm_workdir, slurm_cluster.env, "slurm.pl --name exp/train.log",
                  "--ngpu", "0", "--num_nodes", "2")
    assert res.returncode == 0, res.stderr
    log = (slurm_workdir / "exp/train.log").read_text()
    ranks = sorted(line for line in log.splitlines() if line.startswith("rank "))
    assert [r.split(" args ")[0] for r in ranks] == ["rank 0 on n1", "rank 1 on n2"]
    for line in ranks:
        args = line.split(" args ")[1]
        assert args.startswith("--output_dir exp --ngpu 0 --multiprocessing_distributed true "
                               "--dist_launcher slurm --dist_init_method file://")
        assert args.endswith(" --dist_backend gloo")
    script = (slurm_workdir / "exp/q/train.sh").read_text()
    assert "--nodes 2 --ntasks-per-node 1" in script
