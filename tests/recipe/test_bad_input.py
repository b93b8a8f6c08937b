"""Bad input to the recipe stops it early with a message naming the file/option, and exit != 0."""

from __future__ import annotations

import os
import re
from pathlib import Path

from espnet_warmup.recipe.datadir import read_kv, write_kv
from tests.recipe.conftest import clone_data, make_recipe_dir, run_recipe


def test_unknown_option_is_rejected_before_any_stage(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, "--no_such_option", "1")
    assert out.returncode == 1
    assert "./asr.sh: invalid option --no_such_option" in out.stderr
    assert not (recipe / "data").exists()


def test_asr_config_is_an_alias_of_train_config(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, "--stage", "10", "--asr-config", "conf/missing.yaml")
    assert out.returncode == 1
    assert "ERROR: --train_config: file not found: conf/missing.yaml" in out.stderr


def test_missing_config_file_is_named(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, "--train_config", "conf/train_typo_warmup.yaml")
    assert out.returncode == 1
    assert "ERROR: --train_config: file not found: conf/train_typo_warmup.yaml" in out.stderr
    assert not (recipe / "data").exists()  # checked before stage 1 ran


def test_test_sets_auto_reads_the_names_stage_1_wrote(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, "--stage", "3", "--stop_stage", "3", "--test_sets", "auto")
    assert out.returncode == 1
    assert ("ERROR: --test_sets auto: data/test_sets not found or empty (local/data.sh writes it in stage 1; "
            "run stage 1 first)") in out.stderr
    (recipe / "data").mkdir()
    (recipe / "data/test_sets").write_text("test_a train\n")
    out = run_recipe(recipe, "--stage", "3", "--stop_stage", "3", "--test_sets", "auto")
    assert out.returncode == 1 and "ERROR: --train_set train is also in --test_sets" in out.stderr


def test_bad_boolean_and_bad_number_are_rejected(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, "--monitor", "yes")
    assert out.returncode == 1 and './asr.sh: expected "true" or "false": --monitor yes' in out.stderr
    out = run_recipe(recipe, "--nj", "two")
    assert out.returncode == 1 and "ERROR: --nj must be a non-negative integer, got 'two'" in out.stderr
    out = run_recipe(recipe, "--audio_format", "mp3")
    assert out.returncode == 1 and "ERROR: --audio_format must be wav or flac, got 'mp3'" in out.stderr


def test_bad_seeds_are_named_before_any_stage(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, "--seeds", "1 two")
    assert out.returncode == 1
    assert ("ERROR: --seeds: 'two' is not a seed; allowed: non-negative integers, space-separated "
            "(got '1 two')") in out.stderr
    out = run_recipe(recipe, "--seeds", "1 2", "--train_args", "--max_epoch 1 --seed 3")
    assert out.returncode == 1
    assert ("ERROR: --seeds '1 2' and --train_args '--max_epoch 1 --seed 3' both set the seed; "
            "give it in one place") in out.stderr
    out = run_recipe(recipe, "--seeds", "4", "--train_args", "--seed=3")
    assert out.returncode == 1 and "both set the seed" in out.stderr
    assert not (recipe / "data").exists()


def test_help_lists_the_options(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, "--help")
    assert out.returncode == 0
    for opt in ("--stage", "--stop_stage", "--skip_stages", "--ngpu", "--num_nodes", "--nj", "--inference_nj",
                "--train_config", "--asr_config", "--inference_config", "--token_type", "--nbpe", "--bpemode",
                "--lang", "--expdir", "--dumpdir", "--speed_perturb_factors", "--train_args", "--asr_args",
                "--inference_args", "--corpus", "--train_set", "--valid_set", "--test_sets", "--python",
                "--monitor", "--audio_format", "--fs"):
        assert opt in out.stderr, opt


def test_corrupt_audio_stops_stage_3_naming_the_file_and_the_log(tiny_data, tmp_path):
    recipe = clone_data(tiny_data, tmp_path / "asr1")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    wav = read_kv(recipe / "data/dev/wav.scp")
    victim = next(iter(wav))
    wav[victim] = str(bad)
    write_kv(recipe / "data/dev/wav.scp", wav)
    out = run_recipe(recipe, "--stage", "3", "--stop_stage", "3")
    assert out.returncode == 1
    assert "ERROR: Formatting the audio of data/dev failed; read the log: dump/raw/org/dev/logdir/format_audio.*.log" in out.stderr
    assert re.search(rf"ERROR: bad audio: {re.escape(victim)}: {re.escape(str(bad))}: unreadable audio", out.stderr)
    assert not (recipe / "dump/raw/org/dev/.done").exists()
    # Sets formatted before the failure stay finished (the train set comes first).
    assert (recipe / "dump/raw/org/train/.done").is_file()


def test_empty_transcript_is_named_before_formatting(tiny_data, tmp_path):
    recipe = clone_data(tiny_data, tmp_path / "asr1")
    text = read_kv(recipe / "data/test/text")
    victim = list(text)[1]
    text[victim] = "<it>"
    write_kv(recipe / "data/test/text", text)
    out = run_recipe(recipe, "--stage", "3", "--stop_stage", "3")
    assert out.returncode == 1
    assert f"ERROR: data/test/text: 1 utterance(s) with an empty transcript: {victim}" in out.stderr
    assert "ERROR: invalid data dir(s): data/test" in out.stderr


def test_missing_audio_file_is_named(tiny_data, tmp_path):
    recipe = clone_data(tiny_data, tmp_path / "asr1")
    wav = read_kv(recipe / "data/test/wav.scp")
    victim = list(wav)[0]
    wav[victim] = str(tmp_path / "gone.wav")
    write_kv(recipe / "data/test/wav.scp", wav)
    out = run_recipe(recipe, "--stage", "3", "--stop_stage", "3")
    assert out.returncode == 1
    assert f"ERROR: bad audio: {victim}: {tmp_path / 'gone.wav'}: file not found" in out.stderr


def path_without(tmp_path: Path, *programs: str) -> str:
    """A PATH with every program of the system bin dirs except ``programs``."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for d in ("/usr/local/bin", "/usr/bin", "/bin"):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name in programs or (bindir / name).exists():
                continue
            (bindir / name).symlink_to(os.path.join(d, name))
    return str(bindir)


def test_missing_sox_is_reported_for_speed_perturbation(tiny_data, tmp_path):
    recipe = clone_data(tiny_data, tmp_path / "asr1")
    out = run_recipe(recipe, "--stage", "2", "--stop_stage", "2", "--speed_perturb_factors", "0.9 1.0 1.1",
                     env={"PATH": path_without(tmp_path, "sox")})
    assert out.returncode == 1
    assert "ERROR: 'sox' not found on PATH; it is needed for speed perturbation (--speed_perturb_factors)" in out.stderr


def test_missing_espeak_ng_is_reported_by_data_preparation(tmp_path):
    recipe = make_recipe_dir(tmp_path / "asr1")
    out = run_recipe(recipe, "--stage", "1", "--stop_stage", "1", "--local_data_opts", "--num_train 4",
                     env={"PATH": path_without(tmp_path, "espeak-ng", "espeak")})
    assert out.returncode == 1
    assert "espeak-ng" in out.stderr
    assert "ERROR: local/data.sh --num_train 4 failed" in out.stderr
    assert not (recipe / "data/.done").exists()
