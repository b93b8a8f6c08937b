"""ESPnet adapters: per-update values, stepping contract, param groups, state, equivalence with ESPnet."""

import io
import math

import pytest
import torch
from espnet2.schedulers.abs_scheduler import (
    AbsBatchStepScheduler,
    AbsEpochStepScheduler,
    AbsValEpochStepScheduler,
)
from espnet2.schedulers.piecewise_linear_warmup_lr import PiecewiseLinearWarmupLR
from espnet2.schedulers.warmup_lr import WarmupLR

from espnet_warmup import schedules as S
from espnet_warmup.schedulers import ExponentialWarmupLR, PolynomialWarmupLR


def make_optimizer(*lrs):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def trajectory(scheduler, optimizer, n):
    """LRs used by updates 1..n (group 0), stepping the way ESPnet's trainer does."""
    out = []
    for _ in range(n):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("cls", [ExponentialWarmupLR, PolynomialWarmupLR])
def test_is_a_batch_step_scheduler_and_never_an_epoch_scheduler(cls):
    sch = cls(make_optimizer(1e-3), warmup_steps=10)
    assert isinstance(sch, AbsBatchStepScheduler)
    assert not isinstance(sch, AbsEpochStepScheduler)
    assert not isinstance(sch, AbsValEpochStepScheduler)
    assert not isinstance(sch, torch.optim.lr_scheduler.LambdaLR)


def test_update_i_uses_lr_of_i_exponential():
    opt = make_optimizer(2e-4)
    sch = ExponentialWarmupLR(opt, warmup_steps=50, alpha=1.5)
    got = trajectory(sch, opt, 200)
    want = [S.exponential_warmup_lr(i, 2e-4, 50, 1.5) for i in range(1, 201)]
    assert got == want  # same closed form, bit for bit


def test_update_i_uses_lr_of_i_polynomial():
    opt = make_optimizer(2e-4)
    sch = PolynomialWarmupLR(opt, warmup_steps=50, power=1.5)
    got = trajectory(sch, opt, 200)
    assert got == [S.polynomial_warmup_lr(i, 2e-4, 50, 1.5) for i in range(1, 201)]


def lr_of_update(scheduler, step):
    """LRs that update ``step`` (1-based) uses: the counter set through the public state dict."""
    scheduler.load_state_dict({**scheduler.state_dict(), "last_epoch": step - 1})
    return scheduler.get_last_lr()


def test_paper_settings_hit_the_golden_values():
    opt = make_optimizer(2e-4)
    exp = ExponentialWarmupLR(opt, warmup_steps=50_000, alpha=1.5)
    assert exp.get_last_lr() == [pytest.approx(1.723327e-09, rel=5e-7)]  # update 1, as constructed
    assert lr_of_update(exp, 25_000) == [pytest.approx(6.416426e-05, rel=5e-7)]
    assert lr_of_update(exp, 50_000) == [2e-4]
    assert opt.param_groups[0]["lr"] == 2e-4
    poly = PolynomialWarmupLR(make_optimizer(2e-4))  # defaults are the paper's: w = 50k, power = 1.5
    assert lr_of_update(poly, 15_000) == [pytest.approx(3.286335e-05, rel=5e-7)]
    assert lr_of_update(poly, 200_000) == [pytest.approx(1e-4, rel=1e-12)]


def test_setting_the_counter_equals_stepping_to_it():
    o1, o2 = make_optimizer(2e-4), make_optimizer(2e-4)
    stepped, jumped = ExponentialWarmupLR(o1, warmup_steps=30), ExponentialWarmupLR(o2, warmup_steps=30)
    for step, want in enumerate(trajectory(stepped, o1, 90), start=1):
        assert lr_of_update(jumped, step) == [want]


@pytest.mark.parametrize("cls", [ExponentialWarmupLR, PolynomialWarmupLR])
def test_lrs_are_plain_python_floats(cls):
    opt = make_optimizer(1e-3)
    sch = cls(opt, warmup_steps=5)
    for _ in range(7):
        assert type(opt.param_groups[0]["lr"]) is float
        assert all(type(x) is float for x in sch.get_last_lr())
        opt.step()
        sch.step()


@pytest.mark.parametrize("cls", [ExponentialWarmupLR, PolynomialWarmupLR])
def test_each_param_group_scales_by_its_own_lr(cls):
    opt = make_optimizer(1e-3, 4e-3)
    sch = cls(opt, warmup_steps=8)
    for _ in range(20):
        g0, g1 = (g["lr"] for g in opt.param_groups)
        assert g1 == pytest.approx(4 * g0, rel=1e-15)
        opt.step()
        sch.step()


def test_power_one_equals_espnet_warmuplr():
    o1, o2 = make_optimizer(1e-3), make_optimizer(1e-3)
    ours = PolynomialWarmupLR(o1, warmup_steps=25, power=1.0)
    theirs = WarmupLR(o2, warmup_steps=25)
    a, b = trajectory(ours, o1, 100), trajectory(theirs, o2, 100)
    assert a == pytest.approx(b, rel=1e-12)


def test_pure_piecewise_schedule_equals_espnet_piecewiselinearwarmuplr_on_the_paper_knots():
    # The paper's double-linear warmup scaled down 1000x in steps: w' = 25, w = 50.
    opt = make_optimizer(2e-4)
    espnet = PiecewiseLinearWarmupLR(opt, warmup_steps_list=[0, 25, 50], warmup_lr_list=[0.0, 2e-5, 2e-4])
    theirs = trajectory(espnet, opt, 300)
    ours = [S.owsm_piecewise_lr(i, 2e-4, 50, 2e-5, 25) for i in range(1, 301)]
    assert ours == pytest.approx([float(x) for x in theirs], rel=1e-12)


def test_pure_piecewise_equals_espnet_at_full_paper_scale():
    opt = make_optimizer(2e-4)
    espnet = PiecewiseLinearWarmupLR(opt, warmup_steps_list=[0, 25_000, 50_000],
                                     warmup_lr_list=[0.0, 2e-5, 2e-4])
    for step in [1, 15_000, 25_000, 30_000, 49_999, 50_000, 50_001, 200_000]:
        espnet.last_epoch = step - 1
        theirs = float(espnet.get_lr()[0])
        assert S.owsm_piecewise_lr(step, 2e-4, 50_000, 2e-5, 25_000) == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize("cls,kw", [(ExponentialWarmupLR, {"alpha": 1.5}), (PolynomialWarmupLR, {"power": 1.5})])
def test_save_and_reload_halfway_continues_the_same_curve(cls, kw):
    o1 = make_optimizer(1e-3)
    s1 = cls(o1, warmup_steps=20, **kw)
    full = trajectory(s1, o1, 60)

    o2 = make_optimizer(1e-3)
    s2 = cls(o2, warmup_steps=20, **kw)
    first = trajectory(s2, o2, 27)
    buf = io.BytesIO()
    torch.save({"scheduler": s2.state_dict(), "optimizer": o2.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)  # plain ints/floats only

    o3 = make_optimizer(1e-3)
    s3 = cls(o3, warmup_steps=20, **kw)
    o3.load_state_dict(ckpt["optimizer"])
    s3.load_state_dict(ckpt["scheduler"])
    rest = trajectory(s3, o3, 33)
    assert first + rest == full


def test_state_dict_holds_the_counter_and_hyperparameters_as_plain_numbers():
    sch = ExponentialWarmupLR(make_optimizer(1e-3), warmup_steps=7, alpha=2.0)
    state = sch.state_dict()
    assert set(state) == {"last_epoch", "_step_count", "base_lrs", "warmup_steps", "alpha"}  # nothing else
    assert {k: state[k] for k in ("last_epoch", "base_lrs", "warmup_steps", "alpha")} == \
        {"last_epoch": 0, "base_lrs": [1e-3], "warmup_steps": 7, "alpha": 2.0}
    assert all(type(v) in (int, float, list) for v in state.values())  # what weights_only loads


def test_reload_with_a_changed_config_keeps_the_config_and_warns(caplog):
    o1 = make_optimizer(1e-3)
    s1 = ExponentialWarmupLR(o1, warmup_steps=10)
    trajectory(s1, o1, 4)
    o2 = make_optimizer(1e-3)
    s2 = ExponentialWarmupLR(o2, warmup_steps=20)
    with caplog.at_level("WARNING"):
        s2.load_state_dict(s1.state_dict())
    assert "warmup_steps is 20 in the config but 10 in the checkpoint" in caplog.text
    assert o2.param_groups[0]["lr"] == S.exponential_warmup_lr(5, 1e-3, 20, 1.5)


def test_repr_shows_the_configuration():
    assert repr(PolynomialWarmupLR(make_optimizer(1.0), warmup_steps=3, power=2)) == \
        "PolynomialWarmupLR(warmup_steps=3, power=2.0)"


@pytest.mark.parametrize("cls,kw,msg", [
    (ExponentialWarmupLR, {"warmup_steps": 0}, "warmup_steps must be an integer >= 1, got 0"),
    (ExponentialWarmupLR, {"alpha": 0.0}, "alpha must be a finite number > 0, got 0.0"),
    (ExponentialWarmupLR, {"alpha": "1.5"}, "alpha must be a finite number > 0, got '1.5' (str)"),
    (PolynomialWarmupLR, {"power": -2}, "power must be a finite number > 0, got -2"),
    (PolynomialWarmupLR, {"warmup_steps": 10.5}, "warmup_steps must be an integer >= 1, got 10.5"),
    (PolynomialWarmupLR, {"power": math.nan}, "power must be a finite number > 0, got nan"),
])
def test_bad_constructor_values_raise_valueerror_naming_key_and_range(cls, kw, msg):
    with pytest.raises(ValueError) as err:
        cls(make_optimizer(1e-3), **kw)
    assert str(err.value) == msg
