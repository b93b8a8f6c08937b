"""The whole recipe, stages 1-14, on the tiny corpus, with real ESPnet jobs; then the users' commands.

One module-scoped run of ``./run.sh`` (a tiny OWSM-policy model, 2 updates) is inspected
stage by stage; then ``./run.sh --stage 10 --train_config conf/train_exp_warmup.yaml`` is run
as typed (its sizes shrunk with --train_args so CI stays fast), and the rerun/skip behaviour,
the resume of an interrupted training and a failing training are checked on the finished dir.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import torch
import yaml

from espnet_warmup.recipe.datadir import read_kv, validate
from tests.recipe.conftest import TINY_CORPUS, clone_data, run_recipe

pytestmark = pytest.mark.slow

TINY_OWSM = "conf/tuning/train_tiny_owsm_warmup.yaml"
TINY_EXP = "conf/tuning/train_tiny_exp_warmup.yaml"
TINY_DECODE = "conf/tuning/decode_tiny.yaml"
DECODE_TAG = "decode_tiny_asr_model_valid.acc.ave"
#: Shrinks conf/train_exp_warmup.yaml's run (600 updates) to 2 updates for CI.
SMALL_RUN = "--max_epoch 1 --num_iters_per_epoch 2 --batch_size 4 --use_tensorboard false"


@pytest.fixture(scope="module")
def pipeline(tiny_data, tmp_path_factory):
    """Stages 1-14 in a fresh recipe dir (stage 1 re-runs local/data.sh on the tiny corpus)."""
    recipe = clone_data(tiny_data, tmp_path_factory.mktemp("recipe_pipeline") / "asr1")
    shutil.rmtree(recipe / "dump")  # stages 3-5 run here too
    shutil.rmtree(recipe / "data" / "token_list")
    out = run_recipe(recipe, "--local_data_opts", TINY_CORPUS, "--train_config", TINY_OWSM,
                     "--inference_config", TINY_DECODE)
    assert out.returncode == 0, out.stderr[-4000:]
    return recipe, out.stderr


def stage_lines(log: str) -> dict[str, int]:
    """How many ``Stage N:`` (and ``Stages 6-9:``) log lines each stage wrote."""
    counts: dict[str, int] = {}
    for m in re.finditer(r"\) (Stages? [0-9-]+): ", log):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def test_every_stage_logs_one_line_per_unit_of_work(pipeline):
    _, log = pipeline
    # one line per output: 3 sets formatted (train, dev, test), 2 filtered (train, dev), one config
    # trained, decoded and scored on one test set; stages 6-9 share one line
    assert stage_lines(log) == {"Stage 1": 1, "Stage 2": 1, "Stage 3": 3, "Stage 4": 2, "Stage 5": 1,
                                "Stages 6-9": 1, "Stage 10": 1, "Stage 11": 1, "Stage 12": 1, "Stage 13": 1,
                                "Stage 14": 1}
    assert "Stages 6-9: Language model: not used" in log
    assert "Successfully finished" in log


def test_stage_1_writes_valid_data_dirs(pipeline):
    recipe, _ = pipeline
    for dset, n in (("train", 40), ("dev", 8), ("test", 8)):
        assert validate(recipe / "data" / dset) == []
        assert len(read_kv(recipe / "data" / dset / "wav.scp")) == n
    assert next(iter(read_kv(recipe / "data" / "train" / "text").values())).split()[0] in ("<en>", "<it>")


def test_stages_3_4_write_16k_wavs_and_sample_counts(pipeline):
    import soundfile as sf

    recipe, _ = pipeline
    for d in ("dump/raw/org/train", "dump/raw/train", "dump/raw/dev", "dump/raw/test"):
        wav = read_kv(recipe / d / "wav.scp")
        n = read_kv(recipe / d / "utt2num_samples")
        assert list(wav) == list(n) and validate(recipe / d) == []
        utt, path = next(iter(wav.items()))
        info = sf.info(path)
        assert info.samplerate == 16000 and info.frames == int(n[utt]) and info.channels == 1
    assert (recipe / "dump/raw/org/train/run.sh").is_file()  # the resume command of the job stage


def test_stage_5_word_token_list_has_espnets_layout(pipeline):
    recipe, _ = pipeline
    tokens = (recipe / "data/token_list/word/tokens.txt").read_text().split()
    words = {w for t in read_kv(recipe / "dump/raw/train/text").values() for w in t.split()}
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert set(tokens[2:-1]) == words and len(tokens) == len(words) + 3
    assert (recipe / "data/token_list/nlsyms.txt").read_text().split() == sorted(
        w for w in words if w.startswith("<"))


def test_stage_10_writes_stats_and_token_shapes(pipeline):
    recipe, _ = pipeline
    stats = recipe / "exp/asr_stats_raw_word"
    vocab = len((recipe / "data/token_list/word/tokens.txt").read_text().split())
    for s, n in (("train", 40), ("valid", 8)):
        assert (stats / s / "feats_stats.npz").is_file()
        shapes = read_kv(stats / s / "text_shape.word")
        assert len(shapes) == n and all(v.endswith(f",{vocab}") for v in shapes.values())
        assert len(read_kv(stats / s / "speech_shape")) == n
    assert "espnet2.bin.asr_train --collect_stats true" in (stats / "logdir/stats.1.log").read_text()


def test_stage_11_trains_through_our_launcher_and_keeps_the_model(pipeline):
    recipe, _ = pipeline
    exp = recipe / "exp/asr_train_tiny_owsm_warmup"
    assert (exp / "valid.acc.ave.pth").exists() and (exp / "checkpoint.pth").is_file()
    log = (exp / "train.log").read_text()
    assert "-m espnet_warmup -m espnet2.bin.asr_train" in log and "# Ended (code 0)" in log
    assert "--resume true" in log and "piecewiselinearwarmuplr" in (exp / "config.yaml").read_text()
    resume = (exp / "run.sh").read_text()
    assert "--train_config conf/tuning/train_tiny_owsm_warmup.yaml --stage 11" in resume


def test_stage_12_merges_one_hypothesis_per_test_utterance(pipeline):
    recipe, _ = pipeline
    dec = recipe / "exp/asr_train_tiny_owsm_warmup" / DECODE_TAG / "test"
    hyps = read_kv(dec / "text")
    assert list(hyps) == list(read_kv(recipe / "dump/raw/test/wav.scp"))
    assert len(list((dec / "logdir").glob("asr_inference.*.log"))) == 2  # --inference_nj 2


def test_stage_13_writes_result_txt_and_results_md_rows(pipeline):
    recipe, _ = pipeline
    exp = recipe / "exp/asr_train_tiny_owsm_warmup"
    result = (exp / DECODE_TAG / "test/score_wer/result.txt").read_text()
    assert re.search(r"Sum/Avg\s*\|\s*8\s", result)  # 8 test sentences
    assert (exp / DECODE_TAG / "test/score_cer/result.txt").is_file()
    md = (exp / "RESULTS.md").read_text()
    assert re.search(rf"^\|{DECODE_TAG}/test\|8\|", md, re.M)
    assert "### Exact commands" in md and "espnet2.bin.asr_inference" in md


def test_stage_14_writes_the_cross_policy_report(pipeline):
    recipe, _ = pipeline
    assert "asr_train_tiny_owsm_warmup" in (recipe / "RESULTS.md").read_text()


@pytest.fixture(scope="module")
def verbatim(pipeline):
    """The users' command after stages 1-5, as typed, plus CI-size overrides appended."""
    recipe, _ = pipeline
    out = run_recipe(recipe, "--stage", "10", "--train_config", "conf/train_exp_warmup.yaml",
                     "--train_args", SMALL_RUN)
    return recipe, out


def test_stage_10_command_for_one_policy_runs_verbatim(verbatim):
    recipe, out = verbatim
    assert out.returncode == 0, out.stderr[-4000:]
    exp = recipe / "exp/asr_train_exp_warmup"
    assert "exponentialwarmuplr" in (exp / "config.yaml").read_text()
    assert (exp / DECODE_TAG.replace("decode_tiny", "decode") / "test/score_wer/result.txt").is_file()
    assert "Stage 1:" not in out.stderr  # starts at stage 10
    # Only this policy was trained; the report covers every scored experiment.
    assert not (recipe / "exp/asr_train_linear_warmup").exists()
    report = (recipe / "RESULTS.md").read_text()
    assert "asr_train_exp_warmup" in report and "asr_train_tiny_owsm_warmup" in report


@pytest.fixture(scope="module")
def seeded(verbatim):
    """``--seeds "2 1 2"``: one config, two seeds (the repeat trained once), stages 11-14."""
    recipe, _ = verbatim
    out = run_recipe(recipe, "--stage", "11", "--train_config", TINY_EXP, "--inference_config", TINY_DECODE,
                     "--seeds", "2 1 2")
    return recipe, out


def test_seeds_train_each_config_once_per_seed_into_its_own_exp_dir(seeded):
    recipe, out = seeded
    assert out.returncode == 0, out.stderr[-4000:]
    assert "NOTE: --seeds lists 2 more than once; it is trained once" in out.stderr
    models = {}
    for seed in (1, 2):
        exp = recipe / f"exp/asr_train_tiny_exp_warmup_seed{seed}"
        assert f"Stage 11: Training: {TINY_EXP} (seed {seed}) -> {exp.relative_to(recipe)}" in out.stderr
        config = (exp / "config.yaml").read_text()
        assert re.search(rf"^seed: {seed}$", config, re.M)
        assert f"--seed {seed}" in (exp / "train_record.yaml").read_text()
        assert f"--seeds {seed} --stage 11" in (exp / "run.sh").read_text()
        assert (exp / DECODE_TAG / "test/score_wer/result.txt").is_file()
        models[seed] = torch.load(exp / "valid.acc.ave.pth", map_location="cpu")
    # the seed reaches ESPnet: the two runs' initial weights, hence their models, differ
    name = next(k for k in models[1] if k.endswith("weight"))
    assert not torch.equal(models[1][name], models[2][name])
    assert not (recipe / "exp/asr_train_tiny_exp_warmup_seed3").exists()


def test_the_report_aggregates_the_seeds_of_a_policy(seeded):
    recipe, _ = seeded
    report = (recipe / "RESULTS.md").read_text()
    wers = []
    for seed in (1, 2):
        sj = recipe / f"exp/asr_train_tiny_exp_warmup_seed{seed}/{DECODE_TAG}/test/scores.json"
        wers.append(json.loads(sj.read_text())["wer"]["all"]["err"])
    mean = (wers[0] + wers[1]) / 2
    sd = abs(wers[0] - wers[1]) / 2 ** 0.5  # sample sd of two values
    row = next(line for line in report.splitlines() if line.startswith("|asr_train_tiny_exp_warmup|"))
    assert "|2 (1, 2)|" in row
    assert f"{mean:.2f} \u00b1 {sd:.2f} [{min(wers):.2f}\u2013{max(wers):.2f}]" in row
    assert "## Across seeds" in report
    # runs without seeds are groups of one
    assert re.search(r"^\|asr_train_exp_warmup\|[^\n]*\|1 \(1\)\|", report, re.M)


def test_the_stability_probe_runs_on_the_recipes_data_and_stats(verbatim):
    recipe, _ = verbatim
    # 2 policies x (a 2-point grid + one bisection round) x 1 seed: real trainings through run.pl
    args = ["--stage", "11", "--train_config", TINY_EXP, "--probe",
            "conf/tuning/train_tiny_exp_warmup.yaml conf/tuning/train_tiny_poly_warmup.yaml",
            "--probe_args", "--peak_lrs 1e-4:100 --grid 2 --refine 1 --seeds '1' --updates 12 --log_interval 1"]
    out = run_recipe(recipe, *args)
    assert out.returncode == 0, out.stderr[-4000:]
    work = recipe / "exp/probe_train_tiny_exp_warmup"
    assert "Stage 11: Stability probe: conf/tuning/train_tiny_exp_warmup.yaml" in out.stderr
    result = json.loads((work / "probe.json").read_text())
    assert [r["policy"] for r in result["rows"]] == ["train_tiny_exp_warmup", "train_tiny_poly_warmup"]
    for row in result["rows"]:
        name = row["policy"]
        # the grid, then the geometric middle of the bracket (sqrt(1e-4 x 100) = 0.1)
        assert sorted(float(k) for k in result["runs"][name]) == [1e-4, 0.1, 100.0]
        assert row["lowest_diverged_peak"] in (0.1, 100.0) and row["diverged_runs"] >= 1
        assert row["highest_stable_peak"] in (1e-4, 0.1) and row["highest_stable_peak"] < row["lowest_diverged_peak"]
        cfg = yaml.safe_load((work / f"runs/{name}/lr100_seed1/config.yaml").read_text())
        assert cfg["optim_conf"]["lr"] == 100.0 and cfg["scheduler_conf"]["warmup_steps"] == 6
        assert cfg["seed"] == 1 and cfg["num_iters_per_epoch"] == 12 and cfg["max_epoch"] == 1
        r = json.loads((work / f"runs/{name}/lr100_seed1/result.json").read_text())
        assert r["status"] == "diverged" and r["diverged_kinds"]
    cmd = json.loads((work / "runs/train_tiny_poly_warmup/lr0.0001_seed1/command.json").read_text())["train"]
    assert "exp/asr_stats_raw_word/train/feats_stats.npz" in " ".join(cmd)  # the recipe's stats
    assert "Stage 12" not in out.stderr  # the probe replaces training; nothing to decode
    md = (work / "probe.md").read_text()
    assert "|train_tiny_poly_warmup|" in md and (work / "stability_map.png").stat().st_size > 1000
    # a rerun of the finished probe trains nothing and gives the same table
    again = run_recipe(recipe, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "probe: round" not in again.stderr
    assert json.loads((work / "probe.json").read_text())["rows"] == result["rows"]


def test_rerun_skips_finished_work(verbatim):
    recipe, _ = verbatim
    out = run_recipe(recipe, "--local_data_opts", TINY_CORPUS, "--train_config", TINY_OWSM,
                     "--inference_config", TINY_DECODE)
    assert out.returncode == 0, out.stderr[-3000:]
    # one message for every skipped output: "Stage N: <stage>: <output dir> already done, skipped"
    for line in ("Stage 1: Data preparation: data already done", "Stage 3: Format audio: dump/raw/org/train already done",
                 "Stage 5: Token list: data/token_list/word already done",
                 "Stage 10: Collect stats: exp/asr_stats_raw_word already done",
                 "Stage 11: Training: exp/asr_train_tiny_owsm_warmup already done",
                 "Stage 12: Decoding: exp/asr_train_tiny_owsm_warmup/decode_tiny_asr_model_valid.acc.ave/test already done",
                 "Stage 13: Scoring: exp/asr_train_tiny_owsm_warmup/decode_tiny_asr_model_valid.acc.ave/test/score_wer already done",
                 "Stage 14: Report: exp already done"):
        assert line in out.stderr
    elapsed = int(re.search(r"elapsed=(\d+)s", out.stderr).group(1))
    assert elapsed < 60  # nothing but bookkeeping ran


def test_removing_a_done_marker_redoes_that_stage_only(verbatim):
    recipe, _ = verbatim
    (recipe / "dump/raw/train/.done").unlink()
    out = run_recipe(recipe, "--stage", "4", "--stop_stage", "5", "--train_config", TINY_OWSM)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Stage 4: Filter by length: dump/raw/org/train -> dump/raw/train" in out.stderr
    assert "Stage 4: Filter by length: dump/raw/dev already done, skipped" in out.stderr
    assert "Stage 5: Token list: data/token_list/word already done, skipped" in out.stderr
    assert (recipe / "dump/raw/train/.done").is_file()


def test_interrupted_training_resumes_from_its_checkpoint(verbatim):
    recipe, _ = verbatim  # stats of stage 10 are there (same frontend as the tiny configs)
    exp = recipe / "exp/asr_train_tiny_exp_warmup"
    args = ["./run.sh", "--stage", "11", "--stop_stage", "11", "--train_config", TINY_EXP,
            "--train_args", "--max_epoch 3 --num_iters_per_epoch 40"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(args, cwd=recipe, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    # ESPnet saves checkpoint.pth at the end of an epoch, then logs the next epoch's start.
    while "2/3epoch started" not in ((exp / "train.log").read_text() if (exp / "train.log").exists() else ""):
        assert proc.poll() is None and time.time() < deadline, "training ended before it could be interrupted"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
    proc.wait(timeout=60)
    # run.pl kills the training job and closes its log with a trailer naming the signal.
    while "# Ended (code" not in (exp / "train.log").read_text():
        assert time.time() < deadline, "run.pl did not stop the training job"
        time.sleep(0.2)
    assert "signal" in (exp / "train.log").read_text().splitlines()[-1]
    assert not (exp / ".done").exists()

    out = run_recipe(recipe, *args[1:])
    assert out.returncode == 0, out.stderr[-3000:]
    log = (exp / "train.log").read_text()
    assert "The training was resumed using" in log
    assert "1/3epoch started" not in log  # epoch 1 is not trained again
    assert "2/3epoch started" in log and "3/3epoch started" in log
    assert (exp / "train.1.log").is_file()  # the interrupted run's log is kept (launch.py rotation)
    assert (exp / ".done").is_file()


def test_failing_training_exits_nonzero_and_names_its_log(verbatim):
    recipe, _ = verbatim
    out = run_recipe(recipe, "--stage", "11", "--stop_stage", "11", "--train_config", TINY_EXP,
                     "--asr_tag", "broken", "--train_args", "--no_such_trainer_option 1")
    assert out.returncode == 1
    assert "ERROR: Training exp/asr_train_tiny_exp_warmup_broken failed; read the log: exp/asr_train_tiny_exp_warmup_broken/train.log" in out.stderr
    assert "unrecognized arguments: --no_such_trainer_option" in out.stderr
    assert not (recipe / "exp/asr_train_tiny_exp_warmup_broken/.done").exists()


def test_a_cpu_training_gets_the_cores_not_path_shs_one_thread(pipeline):
    # GNU nproc answers OMP_NUM_THREADS, which path.sh sets to 1 for parallel jobs: asr.sh counts the
    # cores without it (cpu_cores), and a training gets cores / train_jobs threads (run.sh: --train_jobs 2)
    recipe, _ = pipeline
    cores = len(os.sched_getaffinity(0))
    fn = re.search(r"^cpu_cores\(\) \{.*?^\}", (recipe / "asr.sh").read_text(), re.S | re.M).group(0)
    got = subprocess.run(["bash", "-c", f"{fn}\ncpu_cores"], capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert got.stdout.strip() == str(cores)
    commands = (recipe / "exp/asr_train_tiny_owsm_warmup/commands.sh").read_text()
    assert f"OMP_NUM_THREADS={max(cores // 2, 1)} " in commands
