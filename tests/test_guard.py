"""The adaptive warmup guard (warmupguardlr), stepped as ESPnet's trainer steps it: clip_grad_norm_,
optimizer.step(), scheduler.step() once per update, with chosen gradient norms."""

from __future__ import annotations

import io
import json
import logging
import math

import pytest
import torch

from espnet_warmup import guard
from espnet_warmup.guard import WarmupGuardLR
from espnet_warmup.schedulers import ExponentialWarmupLR, WarmupScheduleLR

W = 40
EXP = {"warmup_steps": W, "alpha": 1.5}


def trainer(sched_factory, norms, peak=1e-3):
    """The LR each update ran with, for one gradient norm per update (ESPnet's update order)."""
    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([p], lr=peak)
    sched = sched_factory(opt)
    lrs = []
    for n in norms:
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.full((4,), n / 2.0)  # ||g|| = n
        total = torch.nn.utils.clip_grad_norm_([p], max_norm=5.0)
        assert math.isclose(float(total), n, rel_tol=1e-6)
        opt.step()
        sched.step()
        opt.zero_grad()
    return lrs, sched


def guarded(**kw):
    conf = {"schedule": "exponentialwarmuplr", "schedule_conf": EXP, "log_file": None, **kw}
    return lambda opt: WarmupGuardLR(opt, **conf)


def steady(n):
    return [1.0 + 0.01 * (i % 3) for i in range(n)]


def test_without_spikes_the_lrs_are_bit_identical_to_the_unguarded_schedule():
    norms = steady(3 * W)
    plain, _ = trainer(lambda opt: ExponentialWarmupLR(opt, **EXP), norms)
    lrs, sched = trainer(guarded(), norms)
    assert lrs == plain
    assert sched.interventions == 0


def test_a_spike_holds_the_warmup_then_it_resumes_where_it_stopped():
    norms = steady(3 * W)
    norms[14] = 50.0  # update 15 spikes (> 5 x median ~1)
    plain, _ = trainer(lambda opt: ExponentialWarmupLR(opt, **EXP), norms)
    lrs, sched = trainer(guarded(hold_steps=10), norms)
    f = ExponentialWarmupLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), **EXP).factor
    assert lrs[:15] == plain[:15]
    # updates 16-25 read the warmup at progress 15 (frozen), then it goes on: 16, 17, ...
    assert lrs[15:25] == [pytest.approx(1e-3 * f(15), rel=1e-12)] * 10
    assert lrs[25] == pytest.approx(1e-3 * f(16), rel=1e-12)
    assert all(g <= u for g, u in zip(lrs, plain))
    # the lag ends at the peak: from progress W on the LR is the unguarded one, exactly
    assert lrs[W + 10:] == plain[W + 10:]
    assert lrs[W] < plain[W]  # at the unguarded peak the guarded warmup is still 10 updates behind
    assert sched.interventions == 1 and sched.progress == len(norms) + 1 - 10


def test_backoff_sets_the_progress_back_and_max_delay_bounds_the_lag():
    norms = steady(3 * W)
    norms[29] = 80.0
    lrs, sched = trainer(guarded(hold_steps=5, backoff=0.5), norms)
    f = ExponentialWarmupLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), **EXP).factor
    assert lrs[30] == pytest.approx(1e-3 * f(15), rel=1e-12)  # ceil(0.5 x 30) = 15 (the next one would be 31)
    # many spikes: the warmup still ends at most max_delay updates late
    norms = [1.0 if i % 7 else 100.0 for i in range(4 * W)]
    lrs, sched = trainer(guarded(hold_steps=6, max_delay=12, min_history=1), norms)
    assert sched.interventions >= 2
    plain, _ = trainer(lambda opt: ExponentialWarmupLR(opt, **EXP), norms)
    assert lrs[W + 12:] == plain[W + 12:]
    assert all(g <= u for g, u in zip(lrs, plain))


def test_after_the_warmup_spikes_change_nothing():
    norms = steady(3 * W)
    norms[W + 5] = 500.0
    plain, _ = trainer(lambda opt: ExponentialWarmupLR(opt, **EXP), norms)
    lrs, sched = trainer(guarded(), norms)
    assert lrs == plain and sched.interventions == 0


def test_resume_from_the_state_dict_mid_hold_equals_the_uninterrupted_run(tmp_path):
    norms = steady(3 * W)
    norms[12] = 60.0
    full, _ = trainer(guarded(hold_steps=8), norms)
    # run 16 updates (mid-hold), save as ESPnet does, load into a fresh scheduler, run the rest
    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([p], lr=1e-3)
    first = guarded(hold_steps=8)(opt)
    got = []
    for k, n in enumerate(norms):
        if k == 16:
            torch.save({"scheduler": first.state_dict()}, tmp_path / "ckpt.pth")
            state = torch.load(tmp_path / "ckpt.pth", weights_only=True)["scheduler"]
            opt = torch.optim.SGD([p], lr=1e-3)
            first = guarded(hold_steps=8)(opt)
            first.load_state_dict(state)
        got.append(opt.param_groups[0]["lr"])
        p.grad = torch.full((4,), n / 2.0)
        torch.nn.utils.clip_grad_norm_([p], max_norm=5.0)
        opt.step()
        first.step()
    assert got == full


def test_every_intervention_is_logged_and_written_on_rank_0(tmp_path, caplog):
    log = tmp_path / "exp/warmup_guard.log"
    norms = steady(2 * W)
    norms[10] = 99.0
    with caplog.at_level(logging.WARNING, logger="espnet_warmup.guard"):
        trainer(guarded(log_file=str(log), hold_steps=4), norms)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert lines[0].startswith("warmup guard: update 11: grad norm 99 > 5 x median 1.01 of the last 10 updates: "
                               "warmup progress 11/40, held for 4 updates")
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(e["update"], e["grad_norm"], e["progress"]) for e in entries] == [(11, 99.0, 11)]
    # a resume from before update 11 drops that entry (the run does the update again)
    p = torch.nn.Parameter(torch.zeros(1))
    s = guarded(log_file=str(log))(torch.optim.SGD([p], lr=1e-3))
    state = s.state_dict()
    state["last_epoch"] = 9
    s.load_state_dict(state)
    assert log.read_text() == ""


def test_the_output_dir_of_the_trainer_names_the_default_file(monkeypatch, tmp_path):
    monkeypatch.setattr("sys.argv", ["asr_train.py", "--config", "x.yaml", "--output_dir", str(tmp_path / "e")])
    s = WarmupGuardLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), schedule_conf=EXP)
    assert s._log_path == str(tmp_path / "e" / "warmup_guard.log")


def test_the_tap_returns_clip_grad_norm_s_value_unchanged():
    guard.install_norm_tap()
    guard.install_norm_tap()  # once
    fn = torch.nn.utils.clip_grad_norm_
    assert fn._espnet_warmup_tap and not getattr(fn._espnet_warmup_original, "_espnet_warmup_tap", False)
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    assert float(fn([p], max_norm=1.0)) == 5.0
    assert torch.allclose(p.grad, torch.tensor([0.6, 0.8, 0.0]), atol=1e-6)
    assert guard.take_norm() == 5.0 and guard.take_norm() is None


def test_any_shape_x_tail_family_can_be_guarded():
    conf = {"shape": "polynomial", "power": 1.2, "tail": "cosine", "warmup_steps": W, "total_steps": 3 * W,
            "min_lr_ratio": 0.1}
    norms = steady(3 * W)
    plain, _ = trainer(lambda opt: WarmupScheduleLR(opt, **conf), norms)
    lrs, _ = trainer(lambda opt: WarmupGuardLR(opt, schedule="warmupschedulelr", schedule_conf=conf,
                                               log_file=None), norms)
    assert lrs == plain


@pytest.mark.parametrize("kw, message", [
    ({"schedule": "warmuplr"}, "schedule: 'warmuplr' is not a warmup schedule of ours; allowed: exponentialwarmuplr"),
    ({"schedule_conf": {"warmup_steps": 0}}, "schedule_conf.warmup_steps must be"),
    ({"schedule_conf": {"nope": 1}}, "schedule_conf: "),
    ({"hold_steps": 0}, "hold_steps must be an integer >= 1, got 0"),
    ({"backoff": 1.5}, "backoff must be a number in (0, 1]"),
    ({"spike_factor": 1.0}, "spike_factor must be a finite number > 1"),
    ({"min_history": 60}, "min_history must be <= window (50)"),
    ({"max_delay": -1}, "max_delay must be an integer >= 0 or null"),
])
def test_bad_parameters_are_named(kw, message):
    with pytest.raises(ValueError) as err:
        WarmupGuardLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0),
                      **{"schedule_conf": EXP, "log_file": None, **kw})
    assert message in str(err.value)


def test_check_config_reports_guard_and_schedule_problems(tmp_path):
    from espnet_warmup.check_config import main

    cfg = tmp_path / "g.yaml"
    cfg.write_text("optim: adam\noptim_conf: {lr: 0.001}\nmax_epoch: 2\nnum_iters_per_epoch: 100\n"
                   "scheduler: warmupguardlr\nscheduler_conf:\n  schedule: warmupcosinelr\n"
                   "  schedule_conf: {warmup_steps: 50, total_steps: 150}\n  backoff: 2\n")
    err = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(err), contextlib.redirect_stderr(err):
        rc = main([str(cfg), "--no_registration_note"])
    out = err.getvalue()
    assert rc == 1
    assert "scheduler_conf.backoff: must be a number in (0, 1] (1: hold only), got 2" in out
    assert "scheduler_conf.schedule_conf.total_steps: 150 but the config plans 200 updates" in out


def test_a_trainer_that_never_calls_clip_grad_norm_is_told_once_that_the_guard_is_blind(caplog):
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=1e-3)
    sched = guarded()(opt)
    with caplog.at_level(logging.WARNING, logger="espnet_warmup.guard"):
        opt.step()
        sched.step()  # no gradients yet (e.g. plot-lr stepping the schedule): nothing to say
        for _ in range(3):
            p.grad = torch.ones(2)
            opt.step()
            sched.step()
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 1 and "the guard sees no gradient norms and will not act" in msgs[0]
