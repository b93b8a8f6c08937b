"""Stages 2-4 through asr.sh on the tiny corpus: speed perturbation, formatting, length filter."""

from __future__ import annotations

from espnet_warmup.recipe.datadir import read_kv, validate
from tests.recipe.conftest import clone_data, run_recipe


def test_speed_perturbation_renames_the_train_set_and_formats_every_copy(tiny_data, tmp_path):
    recipe = clone_data(tiny_data, tmp_path / "asr1")
    out = run_recipe(recipe, "--stage", "2", "--stop_stage", "4", "--speed_perturb_factors", "0.9 1.0 1.1")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Stage 2: Speed perturbation: data/train -> data/train_sp (factors 0.9 1.0 1.1)" in out.stderr
    assert validate(recipe / "data/train_sp") == []
    n = read_kv(recipe / "dump/raw/train_sp/utt2num_samples")
    assert len(n) == 3 * 40
    utt = next(u for u in n if not u.startswith("sp"))
    # sox speed 0.9 makes the audio 1/0.9 times as long (rounded to whole samples by sox)
    assert abs(int(n[f"sp0.9-{utt}"]) - int(n[utt]) / 0.9) < 50
    assert abs(int(n[f"sp1.1-{utt}"]) - int(n[utt]) / 1.1) < 50
    assert read_kv(recipe / "dump/raw/train_sp/utt2spk")[f"sp1.1-{utt}"].startswith("sp1.1-")
    # the valid and test sets are not perturbed
    assert len(read_kv(recipe / "dump/raw/dev/wav.scp")) == 8


def test_length_filter_drops_only_train_and_valid_utterances(tiny_data, tmp_path):
    recipe = clone_data(tiny_data, tmp_path / "asr1")
    n = read_kv(recipe / "dump/raw/org/train/utt2num_samples")
    cut = sorted(int(v) for v in n.values())[10] / 16000  # drops the 10 shortest
    out = run_recipe(recipe, "--stage", "4", "--stop_stage", "4", "--min_wav_duration", str(cut))
    assert out.returncode == 0, out.stderr[-3000:]
    kept = read_kv(recipe / "dump/raw/train/wav.scp")
    assert len(kept) == sum(1 for v in n.values() if int(v) > cut * 16000) <= 30
    assert validate(recipe / "dump/raw/train") == []
