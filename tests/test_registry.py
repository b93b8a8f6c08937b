"""Registration into ESPnet's scheduler registry: explicit, idempotent, collision-safe."""

import subprocess
import sys

import pytest

from espnet_warmup.guard import WarmupGuardLR
from espnet_warmup.registry import SCHEDULERS, RegistrationConflict, register
from espnet_warmup.schedulers import (
    ExponentialWarmupLR,
    PolynomialWarmupLR,
    WarmupCosineLR,
    WarmupScheduleLR,
    WarmupStableDecayLR,
)


def test_importing_the_package_changes_nothing_in_espnet():
    code = (
        "import espnet_warmup, espnet_warmup.schedulers, espnet_warmup.registry\n"
        "from espnet2.tasks import abs_task\n"
        "assert 'exponentialwarmuplr' not in abs_task.scheduler_classes\n"
        "assert 'polynomialwarmuplr' not in abs_task.scheduler_classes\n"
        "espnet_warmup.register()\n"
        "assert abs_task.scheduler_classes['exponentialwarmuplr'].__name__ == 'ExponentialWarmupLR'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "ok"


def test_importing_the_package_does_not_import_torch():
    code = "import sys, espnet_warmup; print('torch' in sys.modules, 'espnet2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False False"


def test_register_adds_every_family_under_lowercase_class_names():
    reg = register({})
    assert reg == {"exponentialwarmuplr": ExponentialWarmupLR, "polynomialwarmuplr": PolynomialWarmupLR,
                   "warmupschedulelr": WarmupScheduleLR, "warmupcosinelr": WarmupCosineLR,
                   "warmupstabledecaylr": WarmupStableDecayLR, "warmupguardlr": WarmupGuardLR}
    assert all(name == cls.__name__.lower() for name, cls in SCHEDULERS.items())


def test_register_twice_is_harmless():
    reg = {"warmuplr": object}
    register(reg)
    register(reg)
    assert reg["exponentialwarmuplr"] is ExponentialWarmupLR and reg["warmuplr"] is object
    assert len(reg) == 1 + len(SCHEDULERS) == 7


def test_register_refuses_to_replace_a_different_class_and_changes_nothing():
    class Other:
        pass

    reg = {"polynomialwarmuplr": Other}
    with pytest.raises(RegistrationConflict) as err:
        register(reg)
    assert "cannot register scheduler 'polynomialwarmuplr': it is already taken by" in str(err.value)
    assert "Other" in str(err.value)
    assert reg == {"polynomialwarmuplr": Other}  # all-or-nothing


def test_register_targets_espnets_registry_by_default():
    from espnet2.tasks import abs_task

    assert register() is abs_task.scheduler_classes
    assert abs_task.scheduler_classes["exponentialwarmuplr"] is ExponentialWarmupLR
