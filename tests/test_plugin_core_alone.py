"""The plugin core without the recipe toolkit: ``pip install espnet-warmup`` (no ``[recipe]`` extra).

An environment without the recipe extra is simulated in a subprocess whose import system does not
see some packages: a ``sitecustomize`` wraps every finder of ``sys.meta_path`` so that a hidden
module is not found, exactly as when it is not installed (``importlib.util.find_spec`` gives None,
``import`` raises ModuleNotFoundError). What can be hidden, measured on espnet 202511:

* ``import espnet_warmup.schedulers`` (and the other core modules) needs none of the recipe
  extra's packages: all of them are hidden, and ``espnet_warmup.recipe`` itself.
* registration (``espnet2.tasks.abs_task``) imports numpy, scipy, soundfile, kaldiio and
  torchaudio (ESPnet's own dependencies), so those stay visible there; matplotlib,
  tensorboard, tqdm, sentencepiece and ``espnet_warmup.recipe`` are hidden.
* ``espnet2.bin.asr_train`` (``espnet2.tasks.asr``) imports sentencepiece too.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import re
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "espnet_warmup"


def recipe_extra() -> tuple[str, ...]:
    """The import names of the recipe extra's packages (pyproject.toml; each is its import name)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return tuple(re.match(r"[A-Za-z0-9_.-]+", req).group(0) for req in project["optional-dependencies"]["recipe"])


#: the packages of the recipe extra, and the toolkit itself
RECIPE_EXTRA = (*recipe_extra(), "espnet_warmup.recipe")
#: what ESPnet's import chain for registration does not need
NOT_NEEDED_TO_REGISTER = ("matplotlib", "tensorboard", "tqdm", "sentencepiece", "espnet_warmup.recipe")
#: ... nor espnet2.bin.asr_train (the ASR task needs sentencepiece)
NOT_NEEDED_TO_TRAIN = ("matplotlib", "tensorboard", "tqdm", "espnet_warmup.recipe")

HIDING_SITECUSTOMIZE = textwrap.dedent('''\
    import os, sys
    _HIDDEN = tuple(n for n in os.environ.get("ESPNET_WARMUP_TEST_HIDDEN", "").split(",") if n)

    def _hidden(name):
        return any(name == h or name.startswith(h + ".") for h in _HIDDEN)

    class _Hiding:
        """A meta path finder that does not see the hidden modules."""
        def __init__(self, finder):
            self._finder = finder
        def find_spec(self, name, path=None, target=None):
            if _hidden(name):
                return None
            find = getattr(self._finder, "find_spec", None)
            return find(name, path, target) if find else None
        def __getattr__(self, attr):
            return getattr(self._finder, attr)

    sys.meta_path[:] = [_Hiding(f) for f in sys.meta_path]
''')


def run_hiding(tmp_path: Path, hidden: tuple[str, ...], *args: str, timeout: int = 300):
    """``python args...`` in a subprocess that cannot import ``hidden`` (see the module doc)."""
    site = tmp_path / "hiding_site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(HIDING_SITECUSTOMIZE)
    env = {**os.environ, "ESPNET_WARMUP_TEST_HIDDEN": ",".join(hidden),
           "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=tmp_path)


def test_hidden_modules_are_really_missing(tmp_path):
    code = ("import importlib.util\n"
            "assert importlib.util.find_spec('matplotlib') is None\n"
            "try:\n    import espnet_warmup.recipe\nexcept ModuleNotFoundError as e:\n    print('missing', e.name)\n")
    out = run_hiding(tmp_path, RECIPE_EXTRA, "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "missing espnet_warmup.recipe"


def test_core_modules_import_without_any_recipe_package(tmp_path):
    code = ("import espnet_warmup.schedulers, espnet_warmup.registry, espnet_warmup.schedules\n"
            "import espnet_warmup.check_config, espnet_warmup.espnet_config, espnet_warmup.cli\n"
            "import sys\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'tensorboard', 'kaldiio')))\n")
    out = run_hiding(tmp_path, RECIPE_EXTRA, "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_launcher_registers_without_the_recipe_packages(tmp_path):
    code = ("from espnet2.tasks import abs_task\n"
            "from espnet_warmup.schedulers import ExponentialWarmupLR, PolynomialWarmupLR\n"
            "assert abs_task.scheduler_classes['exponentialwarmuplr'] is ExponentialWarmupLR\n"
            "assert abs_task.scheduler_classes['polynomialwarmuplr'] is PolynomialWarmupLR\n"
            "print('registered')\n")
    out = run_hiding(tmp_path, NOT_NEEDED_TO_REGISTER, "-m", "espnet_warmup", "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "registered"


@pytest.mark.slow  # a second ESPnet ASR-task start-up; the registration itself is tested just above
def test_asr_train_print_config_takes_our_scheduler_and_model_without_the_recipe_packages(tmp_path):
    out = run_hiding(tmp_path, NOT_NEEDED_TO_TRAIN, "-m", "espnet_warmup", "-m", "espnet2.bin.asr_train",
                     "--print_config", "--scheduler", "exponentialwarmuplr",
                     "--model", "espnet_samplewise_transducer", "--decoder", "transducer")
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "scheduler: exponentialwarmuplr\n" in text
    assert "    warmup_steps: 50000\n    alpha: 1.5\n" in text  # the constructor signature is the schema
    assert "model: espnet_samplewise_transducer\nmodel_conf:\n    transducer_fastemit_lambda: 0.0\n" in text


def test_check_config_works_without_the_recipe_packages(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("optim: adam\noptim_conf:\n    lr: 0.001\nscheduler: polynomialwarmuplr\n"
                    "scheduler_conf:\n    warmup_steps: 100\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheduler: polynomialwarmuplr\nscheduler_conf:\n    power: 0\n")
    out = run_hiding(tmp_path, NOT_NEEDED_TO_REGISTER, "-m", "espnet_warmup.cli", "check-config", str(good), str(bad))
    assert out.returncode == 1, out.stderr
    assert f"{good}: OK" in out.stdout
    assert f"{bad}: scheduler_conf.power: must be a finite number > 0, got 0" in out.stderr


@pytest.mark.parametrize("command", ["plot-lr", "curves", "monitor", "score", "report", "select-s2t"])
def test_recipe_subcommands_name_the_extra_they_need(tmp_path, command):
    out = run_hiding(tmp_path, RECIPE_EXTRA, "-m", "espnet_warmup.cli", command, "--help", timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip() == (f"espnet-warmup {command}: needs the recipe extra: pip install "
                                  "'espnet-warmup[recipe]' (No module named 'espnet_warmup.recipe')")


def test_plot_lr_without_matplotlib_names_the_extra(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("optim: adam\nscheduler: exponentialwarmuplr\nscheduler_conf:\n    warmup_steps: 10\n")
    out = run_hiding(tmp_path, ("matplotlib",), "-m", "espnet_warmup.cli", "plot-lr", str(conf),
                     "--steps", "20", "-o", str(tmp_path / "lr.png"))
    assert out.returncode == 1
    assert out.stderr.strip().endswith("espnet-warmup plot-lr: needs the recipe extra: pip install "
                                       "'espnet-warmup[recipe]' (No module named 'matplotlib')")
    assert not (tmp_path / "lr.png").exists()


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` in ``path`` (a module of the package ``espnet_warmup``) names, also
    imports inside functions; a relative import (``from .recipe import x``) is named absolutely."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                module = node.module
            else:  # relative: the core modules are top-level in espnet_warmup
                module = "espnet_warmup" + (f".{node.module}" if node.module else "")
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return found


def test_no_core_module_imports_the_recipe_toolkit():
    core = sorted(PACKAGE.glob("*.py")) + sorted((PACKAGE / "transducer").glob("*.py"))
    assert {p.name for p in core} >= {"schedules.py", "schedulers.py", "registry.py", "check_config.py",
                                      "espnet_config.py", "options.py", "cli.py", "__main__.py"}
    offenders = {p.name: sorted(m for m in _imported_modules(p) if m.startswith("espnet_warmup.recipe"))
                 for p in core}
    assert {k: v for k, v in offenders.items() if v} == {}
