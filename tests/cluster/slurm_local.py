"""A real single-node Slurm for tests: munged + slurmctld + slurmd, private to one test session.

Why a real one: slurm.pl must work on a user's cluster on the first try, so its tests talk to
the real scheduler (sbatch, squeue, scancel, scontrol, job arrays, memory enforcement), not
to a fake ``sbatch``.

Isolation (several test sessions may run on one machine at the same time):
- munged runs in the foreground with its own key, socket, pid, seed and log files in the
  scratch dir; Slurm finds it through ``AuthInfo=socket=...``;
- slurmctld and the slurmds listen on free ports picked at start; all state, spool, pid and
  log files are in the scratch dir; clients find this cluster through ``SLURM_CONF``;
- two nodes, ``n1`` and ``n2``, both this host (one slurmd each, started with ``-N``), so
  multi-node jobs (``--nodes 2`` + ``srun``) run for real;
- every daemon is started by us in the foreground (``-F``/``-D``), so we know its pid and
  stop exactly those pids (and nothing else) in :meth:`LocalSlurm.stop`.

Choices that avoid cgroups and accounting daemons (see docs/cluster.md): proctrack/linuxproc,
task/none, no accounting storage. Memory limits are enforced by ``jobacct_gather/linux``
sampling every second with ``JobAcctGatherParams=OverMemoryKill``: a job using more than
its ``--mem``/``--mem-per-cpu`` is killed and ends as OUT_OF_MEMORY.
``SlurmdParameters=config_overrides`` makes the node take the CPUs/memory written here
whatever the machine has, so tests behave the same on a 2-core laptop and a CI runner.

Usable outside pytest too::

    python3 tests/cluster/slurm_local.py /tmp/myslurm   # starts, prints SLURM_CONF, waits for Ctrl-C
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

#: Partitions named like the shipped conf/slurm.conf's, so it works unchanged here.
CPU_PARTITION = "cpu"
GPU_PARTITION = "gpu"
#: Two nodes (two slurmd on this host, Debian's slurmd allows that with -N) so that
#: multi-node jobs (sbatch --nodes 2 + srun) really run.
NODE_NAMES = ("n1", "n2")
NODE_CPUS = 2
#: Generous: ESPnet jobs (torch + data loading) need 1-3 GB RSS each; memory here is only
#: bookkeeping (config_overrides), enforced per job by jobacct_gather.
NODE_MEMORY_MB = 8000

_REQUIRED = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")


class SlurmStartError(RuntimeError):
    """The cluster could not be started; the message carries the daemons' log tails."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _all_nodes_idle(sinfo_out: str) -> bool:
    states = dict(line.split() for line in sinfo_out.splitlines() if line.strip())
    return all(states.get(node) == "idle" for node in NODE_NAMES)


def _tail(path: pathlib.Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class LocalSlurm:
    """One private single-node Slurm cluster rooted at ``root`` (a scratch directory)."""

    def __init__(self, root: str | os.PathLike):
        self.root = pathlib.Path(root).resolve()
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self._procs: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """Environment for clients (sbatch, squeue, slurm.pl) of this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    # ---- start -----------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> "LocalSlurm":
        missing = [tool for tool in _REQUIRED if shutil.which(tool) is None]
        if missing:
            raise SlurmStartError(
                f"missing Slurm/munge programs: {', '.join(missing)} "
                "(install the Debian packages slurm-wlm and munge)"
            )
        try:
            self._start_munged()
            self._write_slurm_conf()
            self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
            self._wait_for(["scontrol", "ping"], lambda out: "UP" in out, timeout, "slurmctld")
            for node in NODE_NAMES:
                self._spawn(f"slurmd-{node}", ["slurmd", "-D", "-N", node, "-f", str(self.conf)])
            self._wait_for(
                ["sinfo", "-h", "-N", "-o", "%N %t"], _all_nodes_idle, timeout,
                "slurmd (all nodes idle in sinfo)",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _start_munged(self) -> None:
        munge_dir = self.munge_socket.parent
        munge_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(munge_dir, 0o700)
        key = munge_dir / "munge.key"
        # Own random key: nothing depends on (or changes) the machine's /etc/munge.
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        self._spawn("munged", [
            "munged", "--foreground", "--force", f"--socket={self.munge_socket}",
            f"--key-file={key}", f"--pid-file={munge_dir / 'munged.pid'}",
            f"--seed-file={munge_dir / 'munged.seed'}", f"--log-file={munge_dir / 'munged.log'}",
        ])
        deadline = time.time() + 30
        while not self.munge_socket.exists():
            self._check_alive("munged")
            if time.time() > deadline:
                raise SlurmStartError("munged did not create its socket:\n" + self._logs())
            time.sleep(0.1)

    def _write_slurm_conf(self) -> None:
        d = self.root
        for sub in ("state", "log", *(f"spool/{node}" for node in NODE_NAMES)):
            (d / sub).mkdir(parents=True, exist_ok=True)
        # The daemons run as whoever runs the tests (root here and in CI).
        user = pwd.getpwuid(os.getuid()).pw_name
        # Every node is this host, each slurmd on its own port.
        nodes = "\n".join(
            f"NodeName={node} NodeHostname=localhost Port={_free_port()} CPUs={NODE_CPUS} "
            f"RealMemory={NODE_MEMORY_MB} State=UNKNOWN" for node in NODE_NAMES
        )
        self.conf.write_text(f"""\
# Written by tests/cluster/slurm_local.py: a private single-node test cluster.
ClusterName=local
SlurmctldHost=localhost
SlurmctldPort={_free_port()}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.%n.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
DefMemPerCPU={NODE_MEMORY_MB // NODE_CPUS}
# Memory enforcement without cgroups: sample every second, kill steps over their limit.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
# Keep finished jobs visible to scontrol long enough for slurm.pl to read their state.
MinJobAge=600
KillWait=2
InactiveLimit=0
MailProg=/bin/true
{nodes}
PartitionName={CPU_PARTITION} Nodes={",".join(NODE_NAMES)} Default=YES MaxTime=INFINITE State=UP
PartitionName={GPU_PARTITION} Nodes={",".join(NODE_NAMES)} Default=NO MaxTime=INFINITE State=UP
""")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.out", "ab")
        self._procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "SLURM_CONF": str(self.conf)}, start_new_session=True,
        )
        log.close()

    def _check_alive(self, name: str) -> None:
        proc = self._procs[name]
        if proc.poll() is not None:
            raise SlurmStartError(f"{name} exited with status {proc.returncode}:\n" + self._logs())

    def _wait_for(self, argv, ready, timeout: float, what: str) -> None:
        deadline = time.time() + timeout
        out = ""
        while time.time() < deadline:
            for name in self._procs:
                self._check_alive(name)
            res = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=30)
            out = res.stdout + res.stderr
            if res.returncode == 0 and ready(out):
                return
            time.sleep(0.3)
        raise SlurmStartError(f"{what} not ready after {timeout:.0f} s (last: {out.strip()!r}):\n"
                              + self._logs())

    def _logs(self) -> str:
        parts = []
        logs = [("munged", self.root / "munge" / "munged.log"),
                ("slurmctld", self.root / "log" / "slurmctld.log")]
        logs += [(f"slurmd-{node}", self.root / "log" / f"slurmd.{node}.log") for node in NODE_NAMES]
        for name, path in logs:
            out = self.root / f"{name}.out"
            parts.append(f"--- {name} log ---\n{_tail(path)}\n--- {name} stdout ---\n{_tail(out)}")
        return "\n".join(parts)

    # ---- use -------------------------------------------------------------------------
    def run(self, *argv: str, **kwargs) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster."""
        return subprocess.run(list(argv), capture_output=True, text=True, env=self.env,
                              timeout=kwargs.pop("timeout", 60), **kwargs)

    def cancel_all(self) -> None:
        if self.conf.exists() and "slurmctld" in self._procs:
            self.run("scancel", "--user", str(os.getuid()))

    # ---- stop ------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel our jobs, then stop exactly the daemons this object started, by pid."""
        try:
            self.cancel_all()
            deadline = time.time() + 10
            while time.time() < deadline and "slurmctld" in self._procs:
                res = self.run("squeue", "-h", "-o", "%i")
                if res.returncode != 0 or not res.stdout.strip():
                    break
                time.sleep(0.3)
        except (OSError, subprocess.SubprocessError):
            pass
        # Reverse start order: slurmds, slurmctld, munged.
        for name in reversed(list(self._procs)):
            proc = self._procs.pop(name)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: slurm_local.py <scratch-dir>", file=sys.stderr)
        return 1
    cluster = LocalSlurm(argv[0]).start()
    print(f"export SLURM_CONF={cluster.conf}", flush=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)  # just wake up signal.pause()
    try:
        signal.pause()
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
