"""Tear a Gloo process group down before the interpreter does (used by ``python -m espnet_warmup``).

ESPnet's trainer initialises ``torch.distributed`` for a multi-node or multi-process training and
never destroys the process group: it is left to the interpreter's finalisation. With the Gloo
backend (CPU trainings, e.g. ``--ngpu 0 --num_nodes 2``) that teardown can run while Gloo's
worker threads still hold finished work objects; releasing them then needs a Python that is
already gone, and the process dies with ``terminate called without an active exception``
(SIGABRT, exit 134) after "The training was finished". The training's files are complete, but
srun, run.pl and the recipe see a failed job. Seen on a loaded CI machine, one run in several;
never on an idle one.

:func:`install` registers an ``atexit`` handler that destroys the default group while the
interpreter is fully alive, when one is initialised and its backend is Gloo. Other backends are
left as they are (NCCL's teardown has its own semantics). The handler does nothing when the target
already destroyed the group or never imported ``torch.distributed``, and it prints nothing.
"""

from __future__ import annotations

import atexit
import sys

_installed = False


def release_gloo_group() -> bool:
    """Destroy the default process group if it is initialised and uses Gloo; True if it did."""
    dist = sys.modules.get("torch.distributed")
    if dist is None:
        return False
    try:
        if not (dist.is_available() and dist.is_initialized()):
            return False
        if str(dist.get_backend()).lower() != "gloo":
            return False
        dist.destroy_process_group()
        return True
    except Exception:  # noqa: BLE001 -- at exit, a failed cleanup must not mask the target's status
        return False


def install() -> None:
    """Register :func:`release_gloo_group` to run at exit (once per process)."""
    global _installed
    if not _installed:
        atexit.register(release_gloo_group)
        _installed = True
