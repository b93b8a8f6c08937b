"""The warmup guard in real ESPnet trainings (espnet2.bin.asr_train through our launcher, accum_grad 2).

A guard that never fires leaves the run bit-identical to the unguarded schedule (the same logged LRs,
losses and grad norms); a hair-trigger guard (spike factor 1.05 over the last 2 updates) intervenes
during the warmup: each intervention is a train.log line and an entry of <exp>/warmup_guard.log,
the LR never exceeds the unguarded schedule and equals it after the warmup; a run stopped after
epoch 1 (mid-guard) and resumed logs the same LRs and interventions as the uninterrupted one.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from espnet_warmup import schedules
from tiny_asr import logged_lrs, make_data, run_train

pytestmark = pytest.mark.slow

PEAK, ITERS, ACCUM, EPOCHS, W = 5e-4, 8, 2, 3, 8  # 4 updates per epoch, 12 in all, warmup 8


def unguarded(i: int) -> float:
    return PEAK * schedules.warmup_factor(i, W, schedules.exponential_warmup, alpha=1.5)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("tiny"))


def config(path, **guard):
    conf = {"optim": "adam", "optim_conf": {"lr": PEAK}, "accum_grad": ACCUM,
            "scheduler": "warmupguardlr",
            "scheduler_conf": {"schedule": "exponentialwarmuplr", "schedule_conf": {"warmup_steps": W, "alpha": 1.5},
                               **guard}}
    if guard.get("plain"):
        conf["scheduler"], conf["scheduler_conf"] = "exponentialwarmuplr", {"warmup_steps": W, "alpha": 1.5}
    path.write_text(yaml.safe_dump(conf))
    return path


def train(data, outdir, cfg, max_epoch):
    return run_train(data, outdir, "--config", str(cfg), "--max_epoch", str(max_epoch),
                     "--num_iters_per_epoch", str(ITERS))


def train_lines(text):
    return [re.sub(r"^.*?(\d+epoch:train:)", r"\1", line) for line in text.splitlines()
            if re.search(r"\d+epoch:train:\d+-\d+batch:", line)]


def strip_times(line):
    return re.sub(r"(iter_time|forward_time|backward_time|optim_step_time|train_time)=[0-9.e+-]+,?", "", line)


def test_a_guard_that_never_fires_leaves_the_run_bit_identical(data, tmp_path):
    plain = train(data, tmp_path / "plain", config(tmp_path / "p.yaml", plain=True), EPOCHS)
    quiet = train(data, tmp_path / "quiet", config(tmp_path / "q.yaml", spike_factor=1e9), EPOCHS)
    assert [strip_times(x) for x in train_lines(quiet.stderr)] == [strip_times(x) for x in train_lines(plain.stderr)]
    assert len(train_lines(plain.stderr)) == EPOCHS * ITERS  # one line per mini-batch (log_interval 1)
    assert len(logged_lrs(plain.stderr)) == EPOCHS * ITERS // ACCUM
    assert "warmup guard:" not in quiet.stderr
    assert not (tmp_path / "quiet/warmup_guard.log").exists()


@pytest.fixture(scope="module")
def twitchy(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("twitchy")
    cfg = config(root / "t.yaml", spike_factor=1.05, window=2, min_history=1, hold_steps=2)
    full = train(data, root / "full", cfg, EPOCHS)
    (root / "full/train.log").write_text(full.stderr)  # what run.pl would have written
    first = train(data, root / "resumed", cfg, 1)
    second = train(data, root / "resumed", cfg, EPOCHS)
    return root, full, first, second


def test_a_hair_trigger_guard_intervenes_in_the_warmup_and_logs_each_intervention(twitchy):
    root, full, _, _ = twitchy
    lines = re.findall(r"warmup guard: update (\d+): grad norm", full.stderr)
    entries = [json.loads(x) for x in (root / "full/warmup_guard.log").read_text().splitlines()]
    assert lines, "the run had no intervention: the test set-up no longer provokes one"
    assert [int(u) for u in lines] == [e["update"] for e in entries]
    assert all(e["progress_before"] < W for e in entries)  # only during the warmup
    lrs = [v for _, _, v in logged_lrs(full.stderr)]  # logged after update k: the LR of update k + 1
    want = [unguarded(k + 1) for k in range(1, len(lrs) + 1)]
    assert all(g <= u * (1 + 1e-6) for g, u in zip(lrs, want))
    first_hit = entries[0]["update"]
    assert lrs[first_hit - 1] < want[first_hit - 1] * (1 - 1e-3)  # the LR after the first spike is held down
    # each entry's next_lr is the LR ESPnet logs for that update
    for e in entries:
        assert lrs[e["update"] - 1] == pytest.approx(e["next_lr"], rel=1e-3)


def test_resume_mid_guard_equals_the_uninterrupted_run(twitchy):
    root, full, first, second = twitchy
    assert "1epoch" not in "\n".join(line for line in second.stderr.splitlines() if "batch:" in line)
    resumed = [v for _, _, v in logged_lrs(first.stderr) + logged_lrs(second.stderr)]
    assert resumed == [v for _, _, v in logged_lrs(full.stderr)]
    assert (root / "resumed/warmup_guard.log").read_text() == (root / "full/warmup_guard.log").read_text()


def test_curves_mark_the_interventions_on_the_lr_panel(twitchy):
    from espnet_warmup.recipe.analysis.curves import curves

    root, _, _, _ = twitchy
    entries = [json.loads(x) for x in (root / "full/warmup_guard.log").read_text().splitlines()]
    runs, plotted = curves([root / "full"], root / "curves.png")
    assert plotted["guard"] == [("full", [e["update"] for e in entries], [e["next_lr"] for e in entries])]
    table = (root / "curves.md").read_text()
    assert "|guard interventions|" in table and f"|{len(entries)}|" in table


def test_two_gloo_ranks_take_the_same_interventions(data, tmp_path):
    # Two DDP ranks (gloo, CPU), one process each, as two nodes would run them. ESPnet logs only
    # rank 0's warnings, so rank 1 writes its own record (log_all_ranks).
    import os
    import subprocess

    from tiny_asr import train_command

    cfg = config(tmp_path / "t.yaml", spike_factor=1.05, window=2, min_history=1, hold_steps=2, log_all_ranks=True)
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    procs = [subprocess.Popen(
        train_command(data, out, "--config", str(cfg), "--max_epoch", "2", "--num_iters_per_epoch", str(ITERS),
                      "--dist_backend", "gloo", "--dist_init_method", f"file://{tmp_path / 'rdzv'}",
                      "--dist_world_size", "2", "--dist_rank", str(rank), "--multiprocessing_distributed", "false"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for rank in (0, 1)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results[0][1][-3000:] + results[1][1][-3000:]
    rank0 = (out / "warmup_guard.log").read_text()
    assert rank0, "no intervention on rank 0: the set-up no longer provokes one"
    assert (out / "warmup_guard.log.rank1").read_text() == rank0
