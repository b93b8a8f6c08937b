"""The recipe's tiny pipeline, stages 1-14, with cmd_backend=slurm on the real test cluster.

``CMD_BACKEND=slurm ./run.sh ...`` in a throw-away recipe dir (tests/recipe's layout): cmd.sh
then sets train_cmd/cuda_cmd/decode_cmd to ``slurm.pl --config conf/slurm.conf``, so format
audio (stage 3), collect stats (10), training via espnet2.bin.launch (11) and decoding (12)
are submitted with sbatch to the fixture's cluster. The tests check that every such job really
went through Slurm (job scripts in q/, Slurm's header in each task log, the jobs in
``scontrol``), and that the outputs are the same kind as with run.pl. Training runs with
``--num_nodes 2``: srun starts one CPU rank on each of the cluster's two nodes (DDP, gloo).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from espnet_warmup.recipe.datadir import read_kv
from tests.recipe.conftest import TINY_CORPUS, make_recipe_dir, run_recipe

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

TINY_EXP = "conf/tuning/train_tiny_exp_warmup.yaml"
TINY_DECODE = "conf/tuning/decode_tiny.yaml"
EXP = "exp/asr_train_tiny_exp_warmup"
DECODE = f"{EXP}/decode_tiny_asr_model_valid.acc.ave/test"
#: Task logs of every stage that launches jobs: (glob, number of task logs).
JOB_LOGS = {
    "stage 3 (format audio)": ("dump/raw/**/logdir/format_audio.*.log", 6),  # 3 sets x --nj 2
    "stage 10 (collect stats)": ("exp/asr_stats_raw_word/logdir/stats.*.log", 2),
    "stage 11 (training)": (f"{EXP}/train.log", 1),
    "stage 12 (decoding)": (f"{DECODE}/logdir/asr_inference.*.log", 2),
}


@pytest.fixture(scope="module")
def slurm_recipe(slurm_cluster, tmp_path_factory):
    recipe = make_recipe_dir(tmp_path_factory.mktemp("recipe_slurm") / "asr1")
    # --num_nodes 2: training is the multi-node layout too (one CPU rank per node, gloo); the
    # other stages' jobs are plain single-node arrays.
    out = run_recipe(recipe, "--local_data_opts", TINY_CORPUS, "--train_config", TINY_EXP,
                     "--inference_config", TINY_DECODE, "--num_nodes", "2", timeout=1200,
                     env={"SLURM_CONF": str(slurm_cluster.conf), "CMD_BACKEND": "slurm"})
    assert out.returncode == 0, out.stderr[-4000:]
    yield recipe, out.stderr
    slurm_cluster.cancel_all()


def _job_logs(recipe, pattern):
    return sorted(p for p in recipe.glob(pattern) if p.parent.name != "q")


def test_pipeline_runs_every_stage_to_the_end(slurm_recipe):
    _, log = slurm_recipe
    for n in (1, 2, 3, 4, 5, 10, 11, 12, 13, 14):
        assert re.search(rf"Stage {n}: ", log), f"no log line for stage {n}"
    assert "Successfully finished" in log


@pytest.mark.parametrize("stage", sorted(JOB_LOGS))
def test_stage_jobs_ran_as_slurm_array_tasks(slurm_recipe, stage):
    recipe, _ = slurm_recipe
    pattern, n_tasks = JOB_LOGS[stage]
    logs = _job_logs(recipe, pattern)
    assert logs, f"no task log matches {pattern}"
    assert len(logs) == n_tasks
    for path in logs:
        text = path.read_text()
        # slurm.pl's task header (run.pl writes neither line) and a clean trailer.
        assert re.search(r"^# Running on \S+$", text, re.M), path
        assert re.search(r"^# SLURM_JOB_ID=\d+$", text, re.M), path
        assert re.search(r"^# SLURM_JOB_PARTITION=cpu$", text, re.M), path
        assert "# Ended (code 0)" in text, path
        # Kaldi layout: the job script sits in q/ beside the log, with the sbatch line it was sent with.
        # (stats.2.log -> q/stats.sh; train.log -> q/train.sh)
        script = path.parent / "q" / (re.sub(r"\.\d+$", "", path.name[: -len(".log")]) + ".sh")
        assert re.search(r"^# Submitted with: sbatch --export=PATH (.* )?-p cpu .*--array 1-\d+ ",
                         script.read_text(), re.M), script


def test_training_ran_on_both_nodes_as_one_named_job(slurm_recipe):
    recipe, _ = slurm_recipe
    log = (recipe / EXP / "train.log").read_text()
    assert "# SLURM_JOB_NAME=asr_train_tiny_exp_warmup\n" in log  # asr.sh's --name
    assert "# SLURM_JOB_NODELIST=n[1-2]\n" in log
    assert "srun --export=ALL python3 -m espnet_warmup -m espnet2.bin.asr_train" in log
    assert re.search(r"--dist_launcher slurm --dist_init_method file://\S+/exp/asr_train_tiny_exp_warmup/"
                     r"\.dist_init_\S+ --dist_backend gloo", log)
    # Rank 0 of a world of 2 logged the training (ESPnet's [host:rank/world] prefix).
    assert re.search(r"^\[[^\]:]+:0/2\] .*The training was finished at 1 epochs", log, re.M)
    assert "--nodes 2 --ntasks-per-node 1" in (recipe / EXP / "q/train.sh").read_text()
    assert "exponentialwarmuplr" in (recipe / EXP / "config.yaml").read_text()


def test_slurm_knows_every_job_of_the_recipe_as_completed(slurm_cluster, slurm_recipe):
    recipe, _ = slurm_recipe
    out = slurm_cluster.run("scontrol", "-o", "show", "job")
    assert out.returncode == 0, out.stderr
    ours = [line for line in out.stdout.splitlines() if f"WorkDir={recipe} " in line]
    states = {re.search(r"JobState=(\S+)", line).group(1) for line in ours}
    names = Counter(re.search(r"JobName=(\S+)", line).group(1) for line in ours)
    assert states == {"COMPLETED"}
    # One line per array task: format audio 3 sets x 2, stats 2, training 1 (named after the
    # experiment by asr.sh's --name), decoding 2.
    assert names == {"format_audio.sh": 6, "stats.sh": 2, "asr_train_tiny_exp_warmup": 1,
                     "asr_inference.sh": 2}


def test_outputs_are_complete_and_scored(slurm_recipe):
    recipe, _ = slurm_recipe
    hyps = read_kv(recipe / DECODE / "text")
    assert list(hyps) == list(read_kv(recipe / "dump/raw/test/wav.scp")) and len(hyps) == 8
    result = (recipe / DECODE / "score_wer/result.txt").read_text()
    assert re.search(r"Sum/Avg\s*\|\s*8\s", result)  # 8 test sentences
    m = re.search(r"^\|decode_tiny_asr_model_valid\.acc\.ave/test\|8\|(\d+)\|([\d.]+)\|",
                  (recipe / EXP / "RESULTS.md").read_text(), re.M)
    assert m and int(m.group(1)) > 0 and 0.0 <= float(m.group(2)) <= 100.0
    assert "asr_train_tiny_exp_warmup" in (recipe / "RESULTS.md").read_text()
