"""Explicit registration of our schedulers into ESPnet's scheduler registry.

ESPnet 202511 has no plugin entry points: the task parser takes its ``--scheduler``
choices from the module-level dict ``espnet2.tasks.abs_task.scheduler_classes`` when
the parser is built, and ``main_worker`` instantiates ``scheduler_classes[name]``.
So we add our classes to that dict *before* the parser is built. Nothing happens on
import; :func:`register` is called by the launcher (``python -m espnet_warmup``).
"""

from __future__ import annotations

from espnet_warmup.schedulers import ExponentialWarmupLR, PolynomialWarmupLR

#: ESPnet registry key (the lower-cased class name, ESPnet's convention) -> class
SCHEDULERS: dict[str, type] = {
    "exponentialwarmuplr": ExponentialWarmupLR,
    "polynomialwarmuplr": PolynomialWarmupLR,
}


class RegistrationConflict(RuntimeError):
    """A different class is already registered under one of our names."""


def register(registry: dict | None = None) -> dict:
    """Add :data:`SCHEDULERS` to ``registry`` (default: ESPnet's ``scheduler_classes``).

    Idempotent: registering the same class again is a no-op. Refuses (raises
    :class:`RegistrationConflict`) to replace a *different* class already under one of
    our names, so two plugins can never silently shadow each other. Returns the registry.
    """
    if registry is None:
        from espnet2.tasks import abs_task

        registry = abs_task.scheduler_classes
    for name, cls in SCHEDULERS.items():
        existing = registry.get(name)
        if existing is not None and existing is not cls:
            raise RegistrationConflict(
                f"cannot register scheduler {name!r}: it is already taken by "
                f"{existing.__module__}.{existing.__qualname__}"
            )
    for name, cls in SCHEDULERS.items():
        registry[name] = cls
    return registry
