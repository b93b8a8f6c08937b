"""Two-process DDP training on CPU (gloo) through Slurm, the way asr.sh --num_nodes 2 runs it.

ESPnet 202511 has no CPU path for several processes on *one* node: with ``--ngpu 0`` its
``resolve_distributed_mode`` (espnet2/train/distributed_utils.py) turns
``--multiprocessing_distributed`` off and trains in one process. It does allow one process
per *node* with ``--ngpu 0``: that is what ``espnet2.bin.launch --ngpu 0 --num_nodes 2`` submits
through our slurm.pl (``srun`` with one task per node, ``--dist_launcher slurm``,
``--dist_backend gloo``). Here that runs for real on the test cluster's two nodes and trains the
tiny model (tests/tiny_asr.py) with our ``exponentialwarmuplr``.

Each rank is traced by a probe script (run through our launcher, so registration is the real
one): it wraps ExponentialWarmupLR.step to append the rank's LR to ``trace/rank<r>.lr``, then
runs espnet2.bin.asr_train unchanged. So the test sees, per rank, that the scheduler was built
(the constructor's initial step) and the LR after every update.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from espnet_warmup import schedules as S
from tiny_asr import make_data, train_command

from .conftest import REPO, SLURM_PL

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

UTILS = os.path.dirname(SLURM_PL)
PEAK, WARMUP, ALPHA, UPDATES = 5e-4, 3, 1.5, 4

PROBE = '''\
"""Trace every ExponentialWarmupLR step of this rank, then run espnet2.bin.asr_train as is."""
import os
import runpy
import sys

import torch.distributed as dist

from espnet_warmup.schedulers import ExponentialWarmupLR

TRACE = {trace!r}
_step = ExponentialWarmupLR.step


def step(self, *args, **kwargs):
    _step(self, *args, **kwargs)
    rank = dist.get_rank() if dist.is_initialized() else -1
    world = dist.get_world_size() if dist.is_initialized() else 1
    with open(os.path.join(TRACE, f"rank{{rank}}.lr"), "a") as f:
        f.write(f"{{os.environ.get('SLURMD_NODENAME', '-')}} {{world}} "
                f"{{self.optimizer.param_groups[0]['lr']!r}}\\n")


ExponentialWarmupLR.step = step
sys.argv[0] = "asr_train"
runpy.run_module("espnet2.bin.asr_train", run_name="__main__")
'''


def lr(step: int) -> float:
    return S.exponential_warmup_lr(step, PEAK, WARMUP, ALPHA)


@pytest.fixture(scope="module")
def ddp_run(slurm_cluster, tmp_path_factory):
    """espnet2.bin.launch --ngpu 0 --num_nodes 2 through slurm.pl; returns (workdir, launch result)."""
    work = tmp_path_factory.mktemp("ddp")
    (work / "conf").mkdir()
    shutil.copy(REPO / "conf" / "slurm.conf", work / "conf" / "slurm.conf")  # as shipped
    data = make_data(work, n_utts=8)
    (work / "trace").mkdir()
    (work / "probe.py").write_text(PROBE.format(trace=str(work / "trace")))
    train = train_command(
        data, work / "exp",
        "--max_epoch", "1", "--num_iters_per_epoch", str(UPDATES), "--optim", "adam",
        "--optim_conf", f"lr={PEAK}", "--scheduler", "exponentialwarmuplr",
        "--scheduler_conf", f"warmup_steps={WARMUP}", "--scheduler_conf", f"alpha={ALPHA}",
        "--use_tensorboard", "true",
    )
    # train_command is "<python> -m espnet_warmup -m espnet2.bin.asr_train ..."; run the probe
    # script through our launcher instead of the module (same registration, plus the trace).
    assert train[1:5] == ["-m", "espnet_warmup", "-m", "espnet2.bin.asr_train"]
    train = [train[0], "-m", "espnet_warmup", str(work / "probe.py"), *train[5:]]
    env = {**slurm_cluster.env, "PATH": f"{UTILS}:{slurm_cluster.env['PATH']}"}
    res = subprocess.run(
        [sys.executable, "-m", "espnet2.bin.launch",
         "--cmd", "slurm.pl --config conf/slurm.conf --name exp/train.log", "--log", "exp/train.log",
         "--ngpu", "0", "--num_nodes", "2", "--init_file_prefix", "exp/.dist_init_",
         "--multiprocessing_distributed", "true", "--", *train],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )
    yield work, res
    slurm_cluster.cancel_all()


def test_two_node_cpu_training_succeeds_with_world_size_2(ddp_run):
    work, res = ddp_run
    log = (work / "exp/train.log").read_text()
    assert res.returncode == 0, res.stderr[-2000:] + log[-4000:]
    assert "# Ended (code 0)" in log and "# SLURM_JOB_ID=" in log
    # ESPnet prefixes rank 0's log lines with [host:rank/world]; other ranks log errors only.
    assert re.search(r"^\[[^\]:]+:0/2\] .*The training was finished at 1 epochs", log, re.M)
    # What ESPnet ran: srun, the slurm launcher, gloo, a file:// rendezvous under exp/.
    assert re.search(r"srun --export=ALL .* --dist_launcher slurm --dist_init_method "
                     r"file://\S*exp/\.dist_init_\S+ --dist_backend gloo", log)
    assert "--nodes 2 --ntasks-per-node 1" in (work / "exp/q/train.sh").read_text()
    assert (work / "exp/valid.acc.ave.pth").is_file()


def test_every_rank_built_our_scheduler_on_its_own_node(ddp_run):
    work, _ = ddp_run
    traces = {p.name: p.read_text().split("\n")[:-1] for p in (work / "trace").glob("rank*.lr")}
    assert sorted(traces) == ["rank0.lr", "rank1.lr"]
    nodes = {name: {line.split()[0] for line in lines} for name, lines in traces.items()}
    assert sorted(n for ns in nodes.values() for n in ns) == ["n1", "n2"]  # one rank per node
    for lines in traces.values():
        assert {line.split()[1] for line in lines} == {"2"}  # world size 2 in every step


def test_every_rank_follows_the_closed_form_lr(ddp_run):
    work, _ = ddp_run
    # The constructor's initial step sets lr(1); after update k the LR is lr(k+1).
    expected = [lr(k) for k in range(1, UPDATES + 2)]
    for rank in (0, 1):
        got = [float(line.split()[2]) for line in (work / f"trace/rank{rank}.lr").read_text().splitlines()]
        assert got == pytest.approx(expected, rel=1e-12), f"rank {rank}"
    assert max(expected) == pytest.approx(PEAK, rel=1e-12)  # the run reached the peak (update 3)


def test_rank_0_logs_the_closed_form_lr_after_every_update(ddp_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    work, _ = ddp_run
    acc = EventAccumulator(str(work / "exp/tensorboard/train"), size_guidance={"scalars": 0})
    acc.Reload()
    per_update = {}
    for e in acc.Scalars("optim0_lr0"):  # the epoch mean comes later under the same step
        per_update.setdefault(e.step, e.value)
    assert sorted(per_update) == list(range(1, UPDATES + 1))
    for k, value in per_update.items():
        assert value == pytest.approx(lr(k + 1), rel=1e-6), f"update {k}"
