"""Explicit registration of our schedulers into ESPnet's scheduler registry.

ESPnet 202511 has no plugin entry points: the task parser takes its ``--scheduler``
choices from the module-level dict ``espnet2.tasks.abs_task.scheduler_classes`` when
the parser is built, and ``main_worker`` instantiates ``scheduler_classes[name]``.
So we add our classes to that dict *before* the parser is built. Nothing happens on
import; :func:`register` is called by the launcher (``python -m espnet_warmup``).

A new family of ours is one line in :data:`SCHEDULERS`. A family defined elsewhere (a user's
module, a test) is registered with ``register(schedulers={"mywarmuplr": MyWarmupLR})``; from
then on check-config, plot-lr and the report of this process know it too (they read ESPnet's
registry).
"""

from __future__ import annotations

from collections.abc import Mapping

from espnet_warmup.guard import WarmupGuardLR
from espnet_warmup.schedulers import (
    ExponentialWarmupLR,
    PolynomialWarmupLR,
    WarmupCosineLR,
    WarmupScheduleLR,
    WarmupStableDecayLR,
)

#: ESPnet registry key (the lower-cased class name, ESPnet's convention) -> class
SCHEDULERS: dict[str, type] = {
    "exponentialwarmuplr": ExponentialWarmupLR,
    "polynomialwarmuplr": PolynomialWarmupLR,
    # any shape x tail (espnet_warmup.families), and its presets under the names users look for
    "warmupschedulelr": WarmupScheduleLR,
    "warmupcosinelr": WarmupCosineLR,
    "warmupstabledecaylr": WarmupStableDecayLR,
    # any of the above, with a warmup that holds on gradient-norm spikes (espnet_warmup.guard)
    "warmupguardlr": WarmupGuardLR,
}


class RegistrationConflict(RuntimeError):
    """A different class is already registered under one of our names."""


def register(registry: dict | None = None, schedulers: Mapping[str, type] | None = None) -> dict:
    """Add ``schedulers`` (default :data:`SCHEDULERS`) to ``registry`` (default: ESPnet's
    ``scheduler_classes``).

    Idempotent: registering the same class again is a no-op. Refuses (raises
    :class:`RegistrationConflict`) to replace a *different* class already under one of
    the names, so two plugins can never silently shadow each other. Returns the registry.
    """
    if registry is None:
        from espnet2.tasks import abs_task

        registry = abs_task.scheduler_classes
    if schedulers is None:
        schedulers = SCHEDULERS
    for name, cls in schedulers.items():
        existing = registry.get(name)
        if existing is not None and existing is not cls:
            raise RegistrationConflict(
                f"cannot register scheduler {name!r}: it is already taken by "
                f"{existing.__module__}.{existing.__qualname__}"
            )
    for name, cls in schedulers.items():
        registry[name] = cls
    return registry
