"""bench/seed_study.py: the groups' configs exist, and the paired (same-seed) WER difference."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_module import load_bench

ROOT = Path(__file__).resolve().parents[2]


def _module():
    return load_bench("seed_study")


def test_every_group_names_repo_configs_or_generated_ones():
    mod = _module()
    assert list(mod.GROUPS) == ["paper", "cosine", "powers", "transducer"]
    for items in mod.GROUPS.values():
        for _, config, sched in items:
            assert (sched is not None) == config.startswith("study_conf/")
            if sched is None:
                assert (ROOT / config).is_file(), config
    assert [c for _, c, _ in mod.GROUPS["transducer"]] == [
        f"conf/train_transducer_{p}_warmup.yaml" for p in ("linear", "owsm", "poly", "exp")]


def _row(name: str, seed: int, wer: float | None) -> dict:
    return {"name": f"{name}_seed{seed}", "seed": seed,
            "scores": {} if wer is None else {"test": {"wer": {"all": {"err": wer}}}}}


def test_the_paired_difference_is_taken_seed_by_seed_against_the_groups_first_policy():
    mod = _module()
    groups = [{"group": "g", "label": "A", "policy": "asr_a", "seeds": [1, 2, 3]},
              {"group": "g", "label": "B", "policy": "asr_b", "seeds": [1, 2, 3]},
              {"group": "h", "label": "C", "policy": "asr_c", "seeds": [1]}]
    # seed 1 is a bad seed for both (60 vs 62), seeds 2, 3 good; B is 2 worse, then 1 better, then 3 worse
    rows = [_row("asr_a", 1, 60.0), _row("asr_a", 2, 30.0), _row("asr_a", 3, 35.0),
            _row("asr_b", 1, 62.0), _row("asr_b", 2, 29.0), _row("asr_b", 3, None), _row("asr_c", 1, 5.0)]
    mod.add_paired(groups, rows)
    a, b, c = groups
    assert b["paired"]["reference"] == "A" and b["paired"]["diff"]["n"] == 2  # seed 3 not scored for B: left out
    assert b["paired"]["diff"]["mean"] == pytest.approx(0.5) and b["paired"]["lower"] == 1
    assert (b["paired"]["diff"]["min"], b["paired"]["diff"]["max"]) == (pytest.approx(-1.0), pytest.approx(2.0))
    assert a["paired"]["diff"]["mean"] == 0 and a["paired"]["lower"] == 0  # the reference against itself
    assert c["paired"]["reference"] == "C"  # another group: its own reference
