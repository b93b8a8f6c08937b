"""``espnet-warmup hook``: the opt-in startup hook, in a throwaway environment made per test module.

The environment is a venv whose one .pth file adds this interpreter's site-packages (ESPnet, torch
...) as a site dir, so no package is copied and the hook's .pth lands in a site-packages of its own.
"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

import espnet_warmup
from espnet_warmup import hook

REPO = Path(espnet_warmup.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("hookenv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=120)
    python = root / "venv" / "bin" / "python"
    site_dir = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    shared = sysconfig.get_paths()["purelib"]
    (site_dir / "_shared_packages.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
    environ = dict(os.environ, PYTHONPATH=str(REPO))
    environ.pop("ESPNET_WARMUP_QUIET_IMPORTS", None)
    return python, site_dir, environ


def py(env, *args, extra_env=None, cwd=None, timeout=180):
    # cwd: not the checkout, whose espnet_warmup/ `-c` would find first through sys.path[0] == ''.
    python, site_dir, environ = env
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(environ, **(extra_env or {})), cwd=cwd or site_dir.parent)


def hook_cmd(env, *args):
    return py(env, "-m", "espnet_warmup.cli", "hook", *args)


@pytest.fixture
def installed(env):
    out = hook_cmd(env, "install")
    assert out.returncode == 0, out.stderr
    yield env
    hook_cmd(env, "uninstall")


def test_install_status_uninstall_and_install_twice(env):
    _, site_dir, _ = env
    pth = site_dir / hook.PTH_NAME
    out = hook_cmd(env, "status")
    assert (out.returncode, out.stdout) == (1, f"espnet-warmup hook: not installed: {pth}\n")
    out = hook_cmd(env, "install")
    assert (out.returncode, out.stdout, out.stderr) == (0, f"espnet-warmup hook: installed: {pth}\n", "")
    text = pth.read_text()
    assert text.startswith("import sys; exec(") and text.count("\n") == 1  # one line, run by site.py
    out = hook_cmd(env, "install")
    assert (out.returncode, out.stdout) == (0, f"espnet-warmup hook: already installed: {pth}\n")
    assert pth.read_text() == text
    assert sorted(p.name for p in site_dir.iterdir()) == [
        "__pycache__", "_espnet_warmup_hook.py", "_shared_packages.pth", hook.PTH_NAME]
    assert [p.name.split(".")[0] for p in (site_dir / "__pycache__").iterdir()] == ["_espnet_warmup_hook"]
    out = hook_cmd(env, "status")
    assert (out.returncode, out.stdout) == (0, f"espnet-warmup hook: installed: {pth}\n")
    (site_dir / "_espnet_warmup_hook.py").write_text("import sys\n")  # e.g. from an older release
    out = hook_cmd(env, "status")
    assert (out.returncode, out.stdout) == (1, f"espnet-warmup hook: outdated: {pth}\n")
    assert "run `espnet-warmup hook install` to update it" in out.stderr
    assert hook_cmd(env, "install").stdout == f"espnet-warmup hook: installed: {pth}\n"
    assert hook_cmd(env, "status").returncode == 0
    out = hook_cmd(env, "uninstall")
    assert (out.returncode, out.stdout) == (0, f"espnet-warmup hook: removed: {pth}\n")
    assert sorted(p.name for p in site_dir.iterdir()) == ["__pycache__", "_shared_packages.pth"]
    assert list((site_dir / "__pycache__").iterdir()) == []
    out = hook_cmd(env, "uninstall")
    assert (out.returncode, out.stdout) == (0, f"espnet-warmup hook: not installed: {pth}\n")


def test_site_option_writes_into_the_given_directory(env, tmp_path):
    out = hook_cmd(env, "install", "--site", str(tmp_path))
    assert out.returncode == 0
    assert (tmp_path / hook.PTH_NAME).is_file()
    assert "is not a site-packages directory" in out.stderr
    assert hook_cmd(env, "uninstall", "--site", str(tmp_path)).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["__pycache__"]


def test_the_hook_imports_nothing_at_interpreter_start(installed):
    out = py(installed, "-c", "import sys; print('espnet_warmup' in sys.modules, 'espnet2' in sys.modules)")
    assert (out.returncode, out.stdout, out.stderr) == (0, "False False\n", "")
    out = py(installed, "-c", "import sys; print([type(f).__name__ for f in sys.meta_path][0])")
    assert out.stdout == "EspnetWarmupStartupHook\n"


def test_the_hook_registers_when_espnet_task_module_is_imported(installed):
    out = py(installed, "-c", "from espnet2.tasks.abs_task import scheduler_classes as s; "
                              "print(s['exponentialwarmuplr'].__name__, s['polynomialwarmuplr'].__name__)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "ExponentialWarmupLR PolynomialWarmupLR"


@pytest.mark.slow
def test_plain_espnet_sees_our_scheduler_and_model_defaults_with_the_hook(installed):
    out = py(installed, "-m", "espnet2.bin.asr_train", "--print_config", "--scheduler", "exponentialwarmuplr",
             "--model", "espnet_samplewise_transducer", "--decoder", "transducer")
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout.split("\n", 1)[1] if out.stdout.startswith("Failed") else out.stdout)
    assert config["scheduler"] == "exponentialwarmuplr"
    assert config["scheduler_conf"] == {"warmup_steps": 50000, "alpha": 1.5, "last_epoch": -1}
    assert (config["model"], config["decoder"]) == ("espnet_samplewise_transducer", "transducer")
    assert config["model_conf"] == {"transducer_fastemit_lambda": 0.0, "transducer_max_group_elements": None}


def test_a_broken_plugin_never_breaks_python_one_line_on_stderr(installed, tmp_path):
    broken = tmp_path / "espnet_warmup"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise RuntimeError('boom')\n")
    out = py(installed, "-c", "import espnet2; print('still running')", extra_env={"PYTHONPATH": str(tmp_path)})
    assert (out.returncode, out.stdout) == (0, "still running\n")
    _, site_dir, _ = installed
    assert out.stderr == (f"espnet-warmup hook ({site_dir / '_espnet_warmup_hook.py'}): schedulers not "
                          "registered: RuntimeError: boom\n")


def test_a_hook_module_deleted_by_hand_costs_one_stderr_line(installed):
    _, site_dir, _ = installed
    (site_dir / "_espnet_warmup_hook.py").unlink()
    for pyc in (site_dir / "__pycache__").iterdir():
        pyc.unlink()
    out = py(installed, "-c", "print('ok')")
    assert (out.returncode, out.stdout) == (0, "ok\n")
    assert out.stderr == ("espnet-warmup hook: ModuleNotFoundError(\"No module named '_espnet_warmup_hook'\"); "
                          "run: espnet-warmup hook uninstall\n")


def test_without_the_plugin_installed_python_starts_silently(installed, tmp_path):
    # The package is gone (pip uninstall left the .pth): a plain start says nothing.
    python, _, environ = installed
    out = subprocess.run([str(python), "-c", "print('ok')"], capture_output=True, text=True, timeout=60,
                         env=dict(environ, PYTHONPATH=str(tmp_path)), cwd=tmp_path)
    assert (out.returncode, out.stdout, out.stderr) == (0, "ok\n", "")


def test_hook_and_launcher_together_register_once(installed):
    code = ("from espnet2.tasks.abs_task import scheduler_classes as s; import sys; "
            "print(s['polynomialwarmuplr'].__name__, "
            "sum(type(f).__name__ == 'RegisterAfterImport' for f in sys.meta_path))")
    out = py(installed, "-m", "espnet_warmup", "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "PolynomialWarmupLR 1"
