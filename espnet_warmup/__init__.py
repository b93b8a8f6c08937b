"""espnet_warmup: exponential and polynomial learning-rate warmup for ESPnet, and any warmup shape x decay tail.

Importing this package changes nothing in ESPnet (and imports neither torch nor
espnet2). Call :func:`register` -- or run training through
``python -m espnet_warmup -m espnet2.bin.asr_train ...`` -- to add the schedulers
``exponentialwarmuplr`` and ``polynomialwarmuplr`` (the paper's), ``warmupschedulelr`` (any shape
joined to any tail, :mod:`espnet_warmup.families`) and its presets ``warmupcosinelr`` and
``warmupstabledecaylr`` to ``espnet2.tasks.abs_task.scheduler_classes``.

The launcher and the startup hook also add the Conformer-transducer model with the sample-wise
RNN-T loss, ``model: espnet_samplewise_transducer``, to ``espnet2.tasks.asr.model_choices``
(right after ESPnet's ASR task module is imported); from your own code that is
``espnet_warmup.transducer.espnet_model.register_model()`` (it imports the ASR task), kept apart
from :func:`register` so that registering the schedulers never imports more than they need.

The plugin core (this package's top-level modules) needs espnet, torch and pyyaml only; the
recipe toolkit is :mod:`espnet_warmup.recipe` (``pip install 'espnet-warmup[recipe]'``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["register", "__version__"]


def register(registry: dict | None = None, schedulers: dict | None = None) -> dict:
    """Add our schedulers to ESPnet's registry (idempotent). See :func:`espnet_warmup.registry.register`."""
    from espnet_warmup.registry import register as _register

    return _register(registry, schedulers)
