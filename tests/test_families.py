"""Warmup shapes x decay tails: golden tables, joins, peak, floor, monotonicity, and equivalences.

The reference values come from an independent formula evaluated in 40-digit arithmetic (mpmath)
written out here from the math (families.py's docstring), not from our float code; the golden
tables are those values written out to 10 digits (w = 50k, T = 170k, eta = 2e-4, floor m = 0.01).
"""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch
from espnet2.schedulers.piecewise_linear_warmup_lr import PiecewiseLinearWarmupLR
from espnet2.schedulers.warmup_lr import WarmupLR

from espnet_warmup import families
from espnet_warmup.schedulers import (
    ExponentialWarmupLR,
    PolynomialWarmupLR,
    WarmupCosineLR,
    WarmupScheduleLR,
    WarmupStableDecayLR,
)

mp.mp.dps = 40
ETA, W, T, M = 2e-4, 50_000, 170_000, 0.01
STEPS = [1, W // 2, W - 1, W, W + 1, (W + T) // 2, 150_000, T - 1, T, 200_000]
WARMUP_STEPS, TAIL_STEPS = STEPS[:3], STEPS[3:]

#: shape name in the tables -> scheduler_conf of the shape
SHAPE_CONFS = {
    "linear": {"shape": "linear"},
    "linear_from_0.1": {"shape": "linear", "start_factor": 0.1},
    "piecewise": {"shape": "piecewise", "knot_steps": [25_000], "knot_lr_ratios": [0.1]},
    "polynomial_1.5": {"shape": "polynomial", "power": 1.5},
    "polynomial_0.5": {"shape": "polynomial", "power": 0.5},
    "exponential": {"shape": "exponential", "alpha": 1.5},
    "saturating_exponential": {"shape": "saturating_exponential", "rate": 5.0},
    "cosine": {"shape": "cosine"},
    "none": {"shape": "none"},
}
TAIL_CONFS = {
    "inverse_sqrt": {"tail": "inverse_sqrt"},
    "constant": {"tail": "constant"},
    "cosine": {"tail": "cosine", "total_steps": T, "min_lr_ratio": M},
    "linear": {"tail": "linear", "total_steps": T, "min_lr_ratio": M},
    "exponential": {"tail": "exponential", "total_steps": T, "min_lr_ratio": M},
    "wsd:linear:ratio": {"tail": "wsd", "total_steps": T, "min_lr_ratio": M, "decay_ratio": 0.2, "decay_type": "linear"},
    "wsd:cosine:ratio": {"tail": "wsd", "total_steps": T, "min_lr_ratio": M, "decay_ratio": 0.2, "decay_type": "cosine"},
    "wsd:1-sqrt:ratio": {"tail": "wsd", "total_steps": T, "min_lr_ratio": M, "decay_ratio": 0.2, "decay_type": "1-sqrt"},
    "wsd:1-sqrt:steps": {"tail": "wsd", "total_steps": T, "min_lr_ratio": M, "num_decay_steps": 20_000,
                         "decay_type": "1-sqrt"},
}

# lr at steps 1, w/2, w-1 (the warmup; the shape joined to the constant tail)
SHAPE_GOLDEN = {
    "linear": (4.0e-9, 1.0e-4, 1.99996e-4),
    "linear_from_0.1": (2.00036e-5, 1.1e-4, 1.999964e-4),
    "piecewise": (8.0e-10, 2.0e-5, 1.999928e-4),
    "polynomial_1.5": (1.788854382e-11, 7.071067812e-5, 1.99994e-4),
    "polynomial_0.5": (8.94427191e-7, 1.414213562e-4, 1.99998e-4),
    "exponential": (1.723327351e-9, 6.416426016e-5, 1.999922768e-4),
    "saturating_exponential": (1.999900003e-8, 1.835830003e-4, 1.986522758e-4),
    "cosine": (1.97392088e-13, 1.0e-4, 1.999999998e-4),
    "none": (2.0e-4, 2.0e-4, 2.0e-4),
}
# lr at steps w, w+1, (w+T)/2, 150k (in the WSD decay), T-1, T, 200k (beyond T); linear warmup before
TAIL_GOLDEN = {
    "inverse_sqrt": (2.0e-4, 1.99998e-4, 1.348399725e-4, 1.154700538e-4, 1.084655479e-4, 1.084652289e-4, 1.0e-4),
    "constant": (2.0e-4, 2.0e-4, 2.0e-4, 2.0e-4, 2.0e-4, 2.0e-4, 2.0e-4),
    "cosine": (2.0e-4, 2.0e-4, 1.01e-4, 1.526348503e-5, 2.000000034e-6, 2.0e-6, 2.0e-6),
    "linear": (2.0e-4, 1.9999835e-4, 1.01e-4, 3.5e-5, 2.00165e-6, 2.0e-6, 2.0e-6),
    "exponential": (2.0e-4, 1.999923249e-4, 2.0e-5, 4.30886938e-6, 2.000076754e-6, 2.0e-6, 2.0e-6),
    "wsd:linear:ratio": (2.0e-4, 2.0e-4, 2.0e-4, 1.184705882e-4, 2.005823529e-6, 2.0e-6, 2.0e-6),
    "wsd:cosine:ratio": (2.0e-4, 2.0e-4, 2.0e-4, 1.28092636e-4, 2.000000423e-6, 2.0e-6, 2.0e-6),
    "wsd:1-sqrt:ratio": (2.0e-4, 2.0e-4, 2.0e-4, 7.294558831e-5, 2.002911786e-6, 2.0e-6, 2.0e-6),
    "wsd:1-sqrt:steps": (2.0e-4, 2.0e-4, 2.0e-4, 2.0e-4, 2.004950062e-6, 2.0e-6, 2.0e-6),
}


# --------------------------------------------------------------------------- the independent formulas
def ref_shape(name: str, i: int):
    x = mp.mpf(i) / W
    half = mp.mpf("0.5")
    return {
        "linear": lambda: x,
        "linear_from_0.1": lambda: mp.mpf("0.1") + mp.mpf("0.9") * x,
        "piecewise": lambda: (mp.mpf("0.1") * x / half if x < half
                              else mp.mpf("0.1") + mp.mpf("0.9") * (x - half) / half),
        "polynomial_1.5": lambda: x ** mp.mpf("1.5"),
        "polynomial_0.5": lambda: x ** mp.mpf("0.5"),
        "exponential": lambda: (mp.e ** (mp.mpf("1.5") * x) - 1) / (mp.e ** mp.mpf("1.5") - 1),
        "saturating_exponential": lambda: 1 - mp.e ** (-5 * x),
        "cosine": lambda: (1 - mp.cos(mp.pi * x)) / 2,
        "none": lambda: mp.mpf(1),
    }[name]()


def ref_tail(name: str, i: int):
    m = mp.mpf(M)
    p = min(max(mp.mpf(i - W) / (T - W), 0), 1)
    if name == "inverse_sqrt":
        return mp.sqrt(mp.mpf(W) / i)
    if name == "constant":
        return mp.mpf(1)
    if name == "cosine":
        return m + (1 - m) * (1 + mp.cos(mp.pi * p)) / 2
    if name == "linear":
        return m + (1 - m) * (1 - p)
    if name == "exponential":
        return m ** p
    _, kind, how = name.split(":")
    n = mp.mpf("0.2") * T if how == "ratio" else mp.mpf(20_000)
    q = min(max((i - (T - n)) / n, 0), 1)
    g = {"linear": 1 - q, "cosine": (1 + mp.cos(mp.pi * q)) / 2, "1-sqrt": 1 - mp.sqrt(q)}[kind]
    return m + (1 - m) * g


def schedule(**conf) -> families.Schedule:
    return families.resolve({"warmup_steps": W, **conf})


def lr(sched: families.Schedule, i: int) -> float:
    return ETA * sched.factor(i)


# --------------------------------------------------------------------------- golden tables
@pytest.mark.parametrize("name", sorted(SHAPE_CONFS))
def test_shape_golden_table(name):
    sched = schedule(**SHAPE_CONFS[name], tail="constant")
    want = [ETA * ref_shape(name, i) for i in WARMUP_STEPS]
    assert [float(v) for v in want] == pytest.approx(list(SHAPE_GOLDEN[name]), rel=5e-10)  # the table
    for i, v in zip(WARMUP_STEPS, want):
        assert lr(sched, i) == pytest.approx(float(v), rel=1e-12, abs=0), (name, i)
    assert lr(sched, W) == ETA  # exactly the peak, at update w


@pytest.mark.parametrize("name", sorted(TAIL_CONFS))
def test_tail_golden_table(name):
    sched = schedule(shape="linear", **TAIL_CONFS[name])
    want = [ETA * ref_tail(name, i) for i in TAIL_STEPS]
    assert [float(v) for v in want] == pytest.approx(list(TAIL_GOLDEN[name]), rel=5e-10)
    for i, v in zip(TAIL_STEPS, want):
        assert lr(sched, i) == pytest.approx(float(v), rel=1e-12, abs=0), (name, i)
    for i in WARMUP_STEPS:  # the warmup is the shape's
        assert lr(sched, i) == pytest.approx(ETA * i / W, rel=1e-12)


@pytest.mark.parametrize("name", sorted(TAIL_CONFS))
def test_past_T_every_floor_is_held(name):
    sched = schedule(shape="linear", **TAIL_CONFS[name])
    if not families.TAILS[sched.tail].needs_total:
        return
    floor = ETA * M
    assert [lr(sched, i) for i in (T, T + 1, 2 * T, 10 * T)] == [floor] * 4  # exactly, never rising again


# --------------------------------------------------------------------------- joins, peak, floor, monotone
SMALL_W, SMALL_T = 50, 170


def small(shape_name: str, tail_name: str) -> families.Schedule:
    shape = dict(SHAPE_CONFS[shape_name])
    if shape_name == "piecewise":
        shape["knot_steps"] = [25]
    tail = {k: v for k, v in TAIL_CONFS[tail_name].items()}
    if "total_steps" in tail:
        tail["total_steps"] = SMALL_T
    if "num_decay_steps" in tail:
        tail["num_decay_steps"] = 20
    return families.resolve({"warmup_steps": SMALL_W, **shape, **tail})


ALL_PAIRS = [(s, t) for s in sorted(SHAPE_CONFS) for t in sorted(TAIL_CONFS)]


@pytest.mark.parametrize("shape_name,tail_name", ALL_PAIRS)
def test_every_pair_peaks_exactly_at_w_stays_in_floor_and_peak_and_is_monotone(shape_name, tail_name):
    sched = small(shape_name, tail_name)
    f = [sched.factor(i) for i in range(0, 3 * SMALL_T)]
    assert f[SMALL_W] == 1.0 and max(f) == 1.0  # the peak is eta, exactly, at update w
    if shape_name != "none":
        assert all(v < 1.0 for v in f[:SMALL_W])  # ... and not before
    floor = M if families.TAILS[sched.tail].needs_total else 0.0
    assert min(f[SMALL_W:]) >= floor and min(f[1:]) >= 0.0
    if floor:
        assert min(f[SMALL_W:]) == floor  # reached (at T) and held
    warm, tail = f[: SMALL_W + 1], f[SMALL_W:]
    assert all(b >= a for a, b in zip(warm, warm[1:])), "warmup shapes are non-decreasing"
    assert all(b <= a for a, b in zip(tail, tail[1:])), "tails are non-increasing"


@pytest.mark.parametrize("name", sorted(SHAPE_CONFS))
def test_shape_joins_the_tail_continuously_at_w(name):
    sched = schedule(**SHAPE_CONFS[name], tail="cosine", total_steps=T, min_lr_ratio=M)
    jump = lr(sched, W) - lr(sched, W - 1)
    if name == "saturating_exponential":
        # it never reaches the peak: 1 - e^(-5 (1 - 1/w)) at w-1, then the tail at eta: the documented step
        assert jump == pytest.approx(ETA * math.exp(-5 * (1 - 1 / W)), rel=1e-9)
    else:
        assert 0.0 <= jump <= ETA * 2.0 / W  # the slope of the steepest end (exponential: ~1.93 / w)
    assert 0.0 <= lr(sched, W) - lr(sched, W + 1) <= ETA * 1e-9  # the cosine starts flat


@pytest.mark.parametrize("name", sorted(TAIL_CONFS))
def test_tail_is_continuous_at_its_joins(name):
    sched = schedule(shape="linear", **TAIL_CONFS[name])
    joins = [W, *sched.decay_marks]
    for j in joins:
        for a, b in ((j - 1, j), (j, j + 1)):
            step = abs(lr(sched, b) - lr(sched, a))
            # one update's worth of the slope, never a jump; 1-sqrt starts with an infinite slope, so its
            # first decay update drops by (1 - m) eta sqrt(1/n) (n the decay length): still -> 0 with n
            bound = ETA * 3.0 / 20_000
            if "1-sqrt" in name and j == sched.decay_marks[0] and a == j:
                bound = ETA * (1 - M) / math.sqrt(sched.decay_steps) * (1 + 1e-9)
            assert step <= bound, (name, a, b)
    if name.startswith("wsd"):
        start = sched.decay_marks[0]
        assert start == (136_000 if name.endswith("ratio") else 150_000)
        assert lr(sched, start) == ETA and lr(sched, start + 1) < ETA  # held until D, then decays


def test_saturating_and_paper_exponential_curve_opposite_ways():
    sat, paper = schedule(shape="saturating_exponential"), schedule(shape="exponential")
    mid = W // 2
    assert sat.factor(mid) > 0.5 > paper.factor(mid)  # concave above the chord, convex below
    assert families.SHAPES["exponential"].fn is not families.SHAPES["saturating_exponential"].fn


# --------------------------------------------------------------------------- equivalences
def opt(lr_=ETA):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr_)


def lr_of_update(sch, i):
    sch.last_epoch = i - 1
    return sch.get_lr()[0]


GRID = [1, 2, 3, 17, 999, 24_999, 25_000, 25_001, W - 1, W, W + 1, 77_777, 110_000, T - 1, T, T + 1, 10**6]


def test_linear_with_inverse_sqrt_equals_espnet_warmuplr():
    ours, espnet = WarmupScheduleLR(opt(), warmup_steps=W), WarmupLR(opt(), warmup_steps=W)
    for i in GRID:
        assert lr_of_update(ours, i) == pytest.approx(lr_of_update(espnet, i), rel=1e-12, abs=0), i
    o1, o2 = opt(), opt()
    s1, s2 = WarmupScheduleLR(o1, warmup_steps=40), WarmupLR(o2, warmup_steps=40)
    for _ in range(300):  # stepped, as ESPnet's trainer does
        assert o1.param_groups[0]["lr"] == pytest.approx(o2.param_groups[0]["lr"], rel=1e-12, abs=0)
        s1.step()
        s2.step()


@pytest.mark.parametrize("cls,kw", [(ExponentialWarmupLR, {"alpha": 1.5}), (PolynomialWarmupLR, {"power": 1.5}),
                                    (ExponentialWarmupLR, {"alpha": 4.0}), (PolynomialWarmupLR, {"power": 0.7})])
def test_generic_with_the_paper_shapes_equals_our_named_classes(cls, kw):
    shape = "exponential" if cls is ExponentialWarmupLR else "polynomial"
    ours = WarmupScheduleLR(opt(), shape=shape, tail="inverse_sqrt", warmup_steps=W, **kw)
    named = cls(opt(), warmup_steps=W, **kw)
    for i in GRID:
        assert lr_of_update(ours, i) == pytest.approx(lr_of_update(named, i), rel=1e-12, abs=0), i


def test_generic_piecewise_equals_espnet_piecewiselinearwarmuplr_on_the_paper_knots():
    ours = WarmupScheduleLR(opt(), shape="piecewise", knot_steps=[25_000], knot_lr_ratios=[0.1], warmup_steps=W)
    espnet = PiecewiseLinearWarmupLR(opt(), warmup_steps_list=[0, 25_000, W], warmup_lr_list=[0.0, 2e-5, ETA])
    for i in GRID:
        assert lr_of_update(ours, i) == pytest.approx(lr_of_update(espnet, i), rel=1e-12, abs=0), i


@pytest.mark.parametrize("eta_min_ratio", [0.0, 0.05])
def test_cosine_tail_equals_torch_cosineannealinglr_over_the_same_span(eta_min_ratio):
    w, total = 40, 1040
    ours = WarmupScheduleLR(opt(), shape="none", tail="cosine", warmup_steps=w, total_steps=total,
                            min_lr_ratio=eta_min_ratio)
    o = opt()
    torch_cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total - w, eta_min=eta_min_ratio * ETA)
    for k in range(total - w + 1):  # torch's k-th LR is ours at update w + k
        assert lr_of_update(ours, w + k) == pytest.approx(o.param_groups[0]["lr"], rel=1e-9, abs=1e-18), k
        o.step()
        torch_cos.step()
    # beyond its span torch's cosine rises again; ours holds the floor
    for _ in range(50):
        o.step()
        torch_cos.step()
    assert o.param_groups[0]["lr"] > eta_min_ratio * ETA + 1e-6
    assert lr_of_update(ours, total + 50) == eta_min_ratio * ETA


def hf_wsd_lambda(step, num_warmup_steps, num_stable_steps, num_decay_steps, decay_type, min_lr_ratio):
    """The published WSD formula (HF transformers get_wsd_schedule's documented phases, MiniCPM):
    linear warmup s/W; 1 in the stable phase; then p = (s - W - S)/D and f = 1 - p (linear),
    0.5(1 + cos(2 pi 0.5 p)) (cosine, num_cycles 0.5), 1 - sqrt(p) (1-sqrt); value f (1 - m) + m;
    m after the decay."""
    if step < num_warmup_steps:
        return step / num_warmup_steps
    if step < num_warmup_steps + num_stable_steps:
        return 1.0
    if step < num_warmup_steps + num_stable_steps + num_decay_steps:
        p = (step - num_warmup_steps - num_stable_steps) / num_decay_steps
        f = {"linear": 1 - p, "cosine": 0.5 * (1 + math.cos(2 * math.pi * 0.5 * p)), "1-sqrt": 1 - math.sqrt(p)}
        return f[decay_type] * (1 - min_lr_ratio) + min_lr_ratio
    return min_lr_ratio


@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("how", ["num_decay_steps", "decay_ratio"])
def test_wsd_equals_the_published_wsd_formula(decay_type, how):
    n = 34_000
    kw = {"num_decay_steps": n} if how == "num_decay_steps" else {"decay_ratio": n / T}
    ours = WarmupStableDecayLR(opt(), warmup_steps=W, total_steps=T, decay_type=decay_type, min_lr_ratio=M, **kw)
    generic = WarmupScheduleLR(opt(), shape="linear", tail="wsd", warmup_steps=W, total_steps=T,
                               decay_type=decay_type, min_lr_ratio=M, **kw)
    for i in [*GRID, 136_000, 136_001, 150_000, 169_000]:
        want = ETA * hf_wsd_lambda(i, W, T - W - n, n, decay_type, M)
        assert lr_of_update(ours, i) == pytest.approx(want, rel=1e-9, abs=0), i
        assert lr_of_update(generic, i) == lr_of_update(ours, i)


def test_warmupcosinelr_is_the_generic_linear_cosine():
    preset = WarmupCosineLR(opt(), warmup_steps=W, total_steps=T, min_lr_ratio=M, start_factor=0.1)
    generic = WarmupScheduleLR(opt(), shape="linear", tail="cosine", warmup_steps=W, total_steps=T,
                               min_lr_ratio=M, start_factor=0.1)
    assert [lr_of_update(preset, i) for i in GRID] == [lr_of_update(generic, i) for i in GRID]
    assert preset.state_dict() == generic.state_dict()


# --------------------------------------------------------------------------- the scheduler contract
def test_lrs_are_plain_floats_and_state_is_plain_and_resumes_exactly():
    o = opt()
    sch = WarmupScheduleLR(o, shape="cosine", tail="wsd", warmup_steps=10, total_steps=60, decay_ratio=0.3,
                           decay_type="1-sqrt", min_lr_ratio=0.1)
    traj = []
    for _ in range(30):
        traj.append(o.param_groups[0]["lr"])
        o.step()
        sch.step()
    assert all(type(v) is float for v in traj)
    state = sch.state_dict()
    assert all(v is None or type(v) in (int, float, str, list) for v in state.values())
    o2 = opt()
    again = WarmupScheduleLR(o2, shape="cosine", tail="wsd", warmup_steps=10, total_steps=60, decay_ratio=0.3,
                             decay_type="1-sqrt", min_lr_ratio=0.1)
    again.load_state_dict(state)
    rest, rest2 = [], []
    for _ in range(40):
        rest.append(o.param_groups[0]["lr"])
        rest2.append(o2.param_groups[0]["lr"])
        o.step(), sch.step(), o2.step(), again.step()
    assert rest == rest2
    assert rest[-1] == pytest.approx(0.1 * ETA)


def test_resume_with_a_changed_config_keeps_the_config_and_warns(caplog):
    old = WarmupScheduleLR(opt(), tail="cosine", warmup_steps=10, total_steps=100)
    for _ in range(20):
        old.step()
    new = WarmupScheduleLR(opt(), tail="linear", warmup_steps=10, total_steps=200)
    with caplog.at_level("WARNING"):
        new.load_state_dict(old.state_dict())
    assert new.last_epoch == 20 and new.tail == "linear"
    assert "WarmupScheduleLR: tail is 'linear' in the config but 'cosine' in the checkpoint; using the config's value" \
        in caplog.text
    assert "total_steps is 200 in the config but 100 in the checkpoint" in caplog.text
    assert new.get_last_lr() == [pytest.approx(ETA * schedule_small_linear(21))]


def schedule_small_linear(i):
    return families.resolve({"warmup_steps": 10, "tail": "linear", "total_steps": 200}).factor(i)


def test_repr_shows_the_resolved_configuration():
    sch = WarmupScheduleLR(opt(), shape="polynomial", tail="cosine", warmup_steps=100, total_steps=900)
    assert repr(sch) == ("WarmupScheduleLR(warmup_steps=100, shape='polynomial', tail='cosine', total_steps=900, "
                         "min_lr_ratio=0.0, power=1.5)")


BAD = [
    ({"shape": "exp"}, "shape must be one of cosine, exponential, linear, none, piecewise, polynomial, "
                       "saturating_exponential; got 'exp'"),
    ({"tail": "cos"}, "tail must be one of constant, cosine, exponential, inverse_sqrt, linear, wsd; got 'cos'"),
    ({"tail": "cosine"}, "total_steps is required by tail cosine: the last update T, where the LR reaches its floor "
                         "(set it to max_epoch x (num_iters_per_epoch // accum_grad))"),
    ({"tail": "wsd", "decay_ratio": 0.1}, "total_steps is required by tail wsd: the last update T, where the LR "
                                          "reaches its floor (set it to max_epoch x (num_iters_per_epoch // accum_grad))"),
    ({"tail": "cosine", "total_steps": 100}, "total_steps must be > warmup_steps (100) for tail cosine (it decays from "
                                             "update w to update T), got 100"),
    ({"tail": "cosine", "total_steps": 500, "min_lr_ratio": 1.5},
     "min_lr_ratio must be a number in [0, 1] (the floor eta_min = min_lr_ratio x the peak lr, so eta_min <= eta), "
     "got 1.5"),
    ({"power": 2.0}, "power is not used by shape linear with tail inverse_sqrt (it belongs to shape polynomial); "
                     "remove it or set it to null"),
    ({"shape": "polynomial", "power": 0}, "power must be a finite number > 0, got 0"),
    ({"shape": "polynomial", "power": -1.0}, "power must be a finite number > 0, got -1.0"),
    ({"warmup_steps": 0}, "warmup_steps must be an integer >= 1 for shape linear (0 only with shape none), got 0"),
    ({"warmup_steps": 12.5}, "warmup_steps must be an integer >= 0, got 12.5"),
    ({"tail": "wsd", "total_steps": 500}, "num_decay_steps is required by tail wsd, or decay_ratio instead (exactly "
                                          "one of them): the decay length in updates, or as a fraction of total_steps"),
    ({"tail": "wsd", "total_steps": 500, "num_decay_steps": 450},
     "num_decay_steps must be <= total_steps - warmup_steps (400): the decay would start before the warmup ends, "
     "got 450"),
    ({"tail": "wsd", "total_steps": 500, "decay_ratio": 0.9},
     "decay_ratio must be <= (total_steps - warmup_steps) / total_steps (0.8): the decay would start before the "
     "warmup ends, got 0.9"),
    ({"tail": "wsd", "total_steps": 500, "decay_ratio": 0.1, "decay_type": "cos"},
     "decay_type must be one of 1-sqrt, cosine, linear; got 'cos'"),
    ({"tail": "exponential", "total_steps": 500}, "min_lr_ratio is required by tail exponential"),
    ({"tail": "exponential", "total_steps": 500, "min_lr_ratio": 0.0},
     "min_lr_ratio must be > 0 for tail exponential (it decays as min_lr_ratio ** p), got 0.0"),
    ({"shape": "piecewise"}, "knot_steps is required by shape piecewise"),
    ({"shape": "piecewise", "knot_steps": [50, 150], "knot_lr_ratios": [0.1, 0.5]},
     "knot_steps must be strictly increasing and below warmup_steps (100): the knots before the peak at update w, "
     "got [50, 150]"),
    ({"shape": "piecewise", "knot_steps": [50], "knot_lr_ratios": [0.1, 0.5]},
     "knot_lr_ratios must have one value per knot_steps entry (1), got 2"),
    ({"shape": "piecewise", "knot_steps": [50], "knot_lr_ratios": [2.0]},
     "knot_lr_ratios must be a non-empty list of numbers in [0, 1] (LR / peak), got [2.0]"),
    ({"tail": "constant", "total_steps": 500}, "total_steps is not used by tail constant (only by tail cosine, "
                                               "linear, exponential, wsd); remove it or set it to null"),
    ({"shape": "linear", "start_factor": 1.2}, "start_factor must be a number in [0, 1], got 1.2"),
]


@pytest.mark.parametrize("conf,msg", BAD)
def test_bad_values_are_refused_naming_the_key_and_the_allowed_range(conf, msg):
    with pytest.raises(ValueError) as err:
        WarmupScheduleLR(opt(), **{"warmup_steps": 100, **conf})
    assert str(err.value) == msg


def test_shape_none_with_zero_warmup_starts_at_the_peak():
    sch = families.resolve({"shape": "none", "tail": "linear", "warmup_steps": 0, "total_steps": 100,
                            "min_lr_ratio": 0.5})
    assert [sch.factor(i) for i in (0, 1, 50, 100, 101)] == [1.0, 0.995, 0.75, 0.5, 0.5]
    assert sch.warmup_end is None


def test_the_paper_joins_are_unchanged_bit_for_bit():
    from espnet_warmup import schedules as S

    for i in [0, 1, 7, 24_999, W - 1, W, W + 1, 10**6]:
        x = i / W
        assert S.linear_warmup(x) == x  # start_factor 0: exactly x, as before
        for shape, kw in [(S.linear_warmup, {}), (S.exponential_warmup, {"alpha": 1.5}),
                          (S.polynomial_warmup, {"power": 1.5})]:
            assert S.join(i, W, shape, kw, S.inverse_sqrt_decay, {}) == S.warmup_factor(i, W, shape, **kw)
        assert schedule(shape="exponential", alpha=1.5).factor(i) == S.exponential_warmup_lr(i, 1.0, W, 1.5)


def test_cosine_ramp_keeps_full_precision_at_the_first_update():
    # (1 - cos(pi x))/2 in floats would keep ~7 digits at x = 2e-5; sin^2(pi x / 2) keeps them all
    got = schedule(shape="cosine", tail="constant").factor(1)
    assert got == pytest.approx(float((1 - mp.cos(mp.pi / W)) / 2), rel=1e-14)
    assert abs((1 - math.cos(math.pi / W)) / 2 - got) / got > 1e-9  # the naive form really is worse here
