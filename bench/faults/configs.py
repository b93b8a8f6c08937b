"""Fault-battery cases: bad options and stage ranges, bad training configs, changed or clashing
configs after a training, a train.log cut mid-number (contract: base.py).

Option and config cases run ./run.sh in a bare recipe dir (links to this checkout, nothing else):
they must be refused before any stage does work. The cases after a training (``needs_recipe``) train
the tiny config (2 updates) through stages 10-11 in their setup, then feed the fault; their
``after`` checks that nothing of the finished exp dir changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.faults.base import Case, Command

ROOT = Path(__file__).resolve().parents[2]
LINKS = ("run.sh", "asr.sh", "path.sh", "cmd.sh", "db.sh", "utils", "local", "conf")
TINY = ROOT / "conf/tuning/train_tiny_exp_warmup.yaml"
ENV = {"PYTHONWARNINGS": "ignore"}


def bare_recipe(tmp: Path) -> Path:
    """A recipe dir whose files link to this checkout (as tests/recipe's make_recipe_dir)."""
    recipe = tmp / "asr1"
    recipe.mkdir(parents=True, exist_ok=True)
    for name in LINKS:
        if not (recipe / name).exists():
            (recipe / name).symlink_to(ROOT / name)
    return recipe


def run_sh(*args: str, recipe_of=bare_recipe) -> Callable:
    def setup(tmp: Path, recipe: Path | None) -> Command:
        where = recipe if recipe is not None else recipe_of(tmp)
        return Command(["./run.sh", *args], where, ENV)
    return setup


def tiny_config(tmp: Path, name: str, replace: tuple[str, str] | None = None, folder: str = "myconf") -> str:
    """Write a copy of the tiny CPU config (optionally one edit) into <recipe>/<folder>/<name>."""
    text = TINY.read_text()
    if replace is not None:
        assert replace[0] in text, replace
        text = text.replace(*replace)
    path = bare_recipe(tmp) / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return f"{folder}/{name}"


def stage_11_with(name: str, replace: tuple[str, str]) -> Callable:
    def setup(tmp: Path, recipe: Path | None) -> Command:
        config = tiny_config(tmp, name, replace)
        return Command(["./run.sh", "--stage", "11", "--stop_stage", "11", "--train_config", config],
                       bare_recipe(tmp), ENV)
    return setup


def _two_of_one_name(tmp: Path, recipe: Path | None) -> Command:
    a = tiny_config(tmp, "tiny.yaml", folder="a")
    b = tiny_config(tmp, "tiny.yaml", ("warmup_steps: 2", "warmup_steps: 1"), folder="b")
    return Command(["./run.sh", "--train_jobs", "2", "--train_config", f"{a} {b}"], bare_recipe(tmp), ENV)


def _owner_elsewhere(tmp: Path, recipe: Path | None) -> Command:
    """exp/asr_tiny records that a/tiny.yaml trained it (train_guard's record); b/tiny.yaml asks for stage 12."""
    rec = bare_recipe(tmp)
    a = tiny_config(tmp, "tiny.yaml", folder="a")
    b = tiny_config(tmp, "tiny.yaml", folder="b")
    subprocess.run([sys.executable, "-m", "espnet_warmup.recipe.stages.train_guard", "record", "--stats", "s",
                    a, "exp/asr_tiny"], cwd=rec, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return Command(["./run.sh", "--stage", "12", "--train_config", b], rec, ENV)


# ----------------------------------------------------------------------------- after a real tiny training
def _snapshot(d: Path) -> dict[str, list]:
    return {str(p.relative_to(d)): [p.stat().st_size, p.stat().st_mtime_ns, hashlib.md5(p.read_bytes()).hexdigest()]
            for p in sorted(d.rglob("*")) if p.is_file()}


def _train_tiny(recipe: Path) -> Path:
    """Stages 10-11 of myconf/tiny.yaml in ``recipe``; returns its exp dir."""
    (recipe / "myconf").mkdir(exist_ok=True)
    shutil.copy(TINY, recipe / "myconf/tiny.yaml")
    out = subprocess.run(["./run.sh", "--stage", "10", "--stop_stage", "11", "--train_config", "myconf/tiny.yaml"],
                         cwd=recipe, capture_output=True, text=True, timeout=900, env={**os.environ, **ENV})
    if out.returncode != 0:
        raise RuntimeError(f"setup: the tiny training failed:\n{out.stderr[-3000:]}")
    return recipe / "exp/asr_tiny"


def _changed_after_training(tmp: Path, recipe: Path | None) -> Command:
    exp = _train_tiny(recipe)
    (tmp / "snapshot.json").write_text(json.dumps(_snapshot(exp)))
    conf = recipe / "myconf/tiny.yaml"
    conf.write_text(conf.read_text().replace("warmup_steps: 2", "warmup_steps: 1"))
    return Command(["./run.sh", "--stage", "11", "--stop_stage", "11", "--train_config", "myconf/tiny.yaml"],
                   recipe, ENV)


def _interrupted_then_changed(tmp: Path, recipe: Path | None) -> Command:
    exp = _train_tiny(recipe)
    (exp / ".done").unlink()  # what an interruption after an epoch leaves: checkpoint.pth, no .done
    (tmp / "snapshot.json").write_text(json.dumps(_snapshot(exp)))
    return Command(["./run.sh", "--stage", "11", "--stop_stage", "11", "--train_config", "myconf/tiny.yaml",
                    "--train_args", "--max_epoch 3"], recipe, ENV)


def _exp_unchanged(tmp: Path, recipe: Path | None) -> None:
    before = json.loads((tmp / "snapshot.json").read_text())
    after = _snapshot(recipe / "exp/asr_tiny")
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"files of the trained exp dir changed: {changed}"


def _truncated_log(tmp: Path, recipe: Path | None) -> Command:
    """A copy of a finished tiny training's exp dir whose train.log ends inside its last LR value."""
    exp = _train_tiny(recipe)
    cut = recipe / "exp/asr_cut"
    shutil.copytree(exp, cut)
    lines = (exp / "train.log").read_text().splitlines(keepends=True)
    idx = max(i for i, ln in enumerate(lines) if "batch:" in ln and "optim0_lr0=" in ln)
    at = lines[idx].index("optim0_lr0=") + len("optim0_lr0=") + 3
    (cut / "train.log").write_text("".join(lines[:idx]) + lines[idx][:at])
    (tmp / "cut_line").write_text(str(idx + 1))
    # stdout (the summary) is dropped: the warning on stderr is what the case is about
    return Command(["bash", "-c", ". ./path.sh && espnet-warmup curves exp/asr_cut -o curves.png > /dev/null"],
                   recipe, ENV)


def _one_update_fewer(tmp: Path, recipe: Path | None) -> None:
    md = (recipe / "curves.md").read_text()
    full = subprocess.run([sys.executable, "-c", "import sys; from espnet_warmup.recipe.analysis import logs; "
                           "print(len(logs.parse_train_log(sys.argv[1]).intervals))",
                           str(recipe / "exp/asr_tiny/train.log")], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    n = int(full.stdout)
    row = next(ln for ln in md.splitlines() if ln.startswith("|asr_cut|"))
    assert f"|{n - 1}|" in row, f"the cut record was read as an update: {row} (full log: {n} interval lines)"


CASES: list[Case] = [
    # ------------------------------------------------------------------ options
    Case("stage after stop_stage", "options", run_sh("--stage", "5", "--stop_stage", "3"), 1,
         r"ERROR: --stage 5 is after --stop_stage 3: no stage would run"),
    Case("stage beyond the recipe's stages", "options", run_sh("--stage", "99"), 1,
         r"ERROR: --stage 99: this recipe has stages 1-14"),
    Case("stop_stage 0", "options", run_sh("--stop_stage", "0"), 1,
         r"ERROR: --stage 1 is after --stop_stage 0"),
    Case("non-integer stage", "options", run_sh("--stage", "2.5"), 1,
         r"ERROR: --stage must be a stage number \(an integer; this recipe's stages are 1-14\), got '2\.5'"),
    Case("unknown skip_stages entry", "options", run_sh("--skip_stages", "3 15"), 1,
         r"ERROR: --skip_stages: '15' is not a stage of this recipe; allowed: stage numbers 1-14"),
    Case("every stage of the range skipped", "options",
         run_sh("--stage", "11", "--stop_stage", "11", "--skip_stages", "11"), 1,
         r"ERROR: --stage 11 --stop_stage 11 with the skipped stages '11'.*no stage would run"),
    Case("unknown option", "options", run_sh("--no_such_option", "1"), 1,
         r"invalid option --no_such_option"),
    Case("non-integer option value", "options", run_sh("--nj", "two"), 1,
         r"ERROR: --nj must be a non-negative integer, got 'two'"),
    Case("non-boolean option value", "options", run_sh("--monitor", "yes"), 1,
         r'expected "true" or "false": --monitor yes'),
    # ------------------------------------------------------------------ configs
    Case("missing config file", "configs", run_sh("--train_config", "conf/no_such.yaml"), 1,
         r"ERROR: --train_config: file not found: conf/no_such\.yaml"),
    Case("unknown scheduler name", "configs",
         stage_11_with("cosine.yaml", ("scheduler: exponentialwarmuplr", "scheduler: cosinewarmup")), 1,
         r"ERROR: myconf/cosine\.yaml: scheduler: unknown scheduler 'cosinewarmup'; allowed: "),
    Case("negative warmup", "configs", stage_11_with("negative.yaml", ("warmup_steps: 2", "warmup_steps: -100")), 1,
         r"ERROR: myconf/negative\.yaml: scheduler_conf\.warmup_steps: must be an integer >= 1, got -100"),
    Case("warmup longer than the training", "configs",
         stage_11_with("long.yaml", ("warmup_steps: 2", "warmup_steps: 50")), 1,
         r"ERROR: myconf/long\.yaml: scheduler_conf\.warmup_steps: 50 warmup updates but the config plans only 2 updates"),
    Case("piecewise lists of different lengths", "configs",
         stage_11_with("lists.yaml", ("scheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 2\n"
                                      "    alpha: 1.5\n",
                                      "scheduler: piecewiselinearwarmuplr\nscheduler_conf:\n"
                                      "    warmup_steps_list: [0, 1, 2]\n    warmup_lr_list: [0.0, 1.0e-3]\n")), 1,
         r"ERROR: myconf/lists\.yaml: scheduler_conf: warmup_steps_list has 3 entries but warmup_lr_list has 2"),
    Case("optimizer lr not a number", "configs", stage_11_with("lr.yaml", ("lr: 1.0e-3", "lr: fast")), 1,
         r"ERROR: myconf/lr\.yaml: optim_conf\.lr: must be a finite number > 0, got .fast. \(str\)"),
    Case("two configs of the same file name", "configs", _two_of_one_name, 1,
         r"ERROR: --train_config: a/tiny\.yaml and b/tiny\.yaml both map to the exp dir exp/asr_tiny"),
    Case("exp dir trained by another config of the same name", "configs", _owner_elsewhere, 1,
         r"ERROR: --train_config b/tiny\.yaml: its exp dir exp/asr_tiny was trained from another config, a/tiny\.yaml"),
    Case("changed config after a finished training", "configs", _changed_after_training, 1,
         r"ERROR: exp/asr_tiny: its training is finished \(exp/asr_tiny/\.done\), and myconf/tiny\.yaml now differs",
         needs_recipe=True, after=_exp_unchanged),
    Case("changed train_args for an interrupted training", "configs", _interrupted_then_changed, 1,
         r"ERROR: exp/asr_tiny: its training is interrupted, resumable from exp/asr_tiny/checkpoint\.pth",
         needs_recipe=True, after=_exp_unchanged),
    # ------------------------------------------------------------------ logs
    Case("train.log cut mid-number read by espnet-warmup curves", "logs", _truncated_log, 0,
         r"warning: exp/asr_cut/train\.log:\d+: the last line is incomplete .*not read as data",
         needs_recipe=True, after=_one_update_fewer),
    Case("curves on an exp dir without logs", "logs",
         lambda tmp, recipe: Command([sys.executable, "-m", "espnet_warmup.cli", "curves", str(tmp / "exp"),
                                      "-o", str(tmp / "c.png")], tmp, {"PYTHONPATH": str(ROOT)}), 1,
         r"curves: .*exp: no such experiment directory"),
]
