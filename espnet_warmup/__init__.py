"""espnet_warmup: exponential and polynomial learning-rate warmup for ESPnet.

Importing this package changes nothing in ESPnet (and imports neither torch nor
espnet2). Call :func:`register` -- or run training through
``python -m espnet_warmup -m espnet2.bin.asr_train ...`` -- to add the schedulers
``exponentialwarmuplr`` and ``polynomialwarmuplr`` to
``espnet2.tasks.abs_task.scheduler_classes``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["SCHEDULERS", "register", "__version__"]


def register() -> dict:
    """Add our schedulers to ESPnet's registry (idempotent). See :mod:`espnet_warmup.registry`."""
    from espnet_warmup.registry import register as _register

    return _register()


def __getattr__(name: str):
    # SCHEDULERS needs torch and espnet2; resolve it lazily so light tools stay light.
    if name == "SCHEDULERS":
        from espnet_warmup.registry import SCHEDULERS

        return SCHEDULERS
    raise AttributeError(f"module 'espnet_warmup' has no attribute {name!r}")
