"""``python -m espnet_warmup``: a drop-in for the interpreter that registers first."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

LAUNCH = [sys.executable, "-m", "espnet_warmup"]
CHECK = (
    "import sys; from espnet2.tasks import abs_task; "
    "print('registered' if 'exponentialwarmuplr' in abs_task.scheduler_classes else 'missing'); "
    "print(sys.argv)"
)


def run(args, **kw):
    return subprocess.run(LAUNCH + args, capture_output=True, text=True, timeout=180, **kw)


def lines(out):
    # ESPnet prints a flash-attention notice on stdout at import; it is not the target's output.
    return [x for x in out.stdout.splitlines() if not x.startswith("Failed to import Flash Attention")]


def test_dash_c_runs_code_after_registering_with_python_argv():
    out = run(["-c", CHECK, "a", "--b"])
    assert out.returncode == 0, out.stderr
    assert lines(out) == ["registered", "['-c', 'a', '--b']"]


def test_script_path_runs_as_main_with_its_argv(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(CHECK + "\nimport sys; assert __name__ == '__main__'; sys.exit(7)\n")
    out = run([str(script), "x"])
    assert out.returncode == 7
    assert lines(out) == ["registered", f"[{str(script)!r}, 'x']"]


def test_dash_m_runs_a_module_as_main(tmp_path):
    pkg = tmp_path / "mymod.py"
    pkg.write_text(CHECK + "\nassert __name__ == '__main__'\n")
    out = run(["-m", "mymod", "--flag", "1"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    got = lines(out)
    assert got[0] == "registered"
    assert got[1] == f"[{str(pkg)!r}, '--flag', '1']"


def test_exit_status_of_the_target_is_returned():
    assert run(["-c", "raise SystemExit(3)"]).returncode == 3
    out = run(["-c", "raise ValueError('boom')"])
    assert out.returncode == 1 and "ValueError: boom" in out.stderr


def test_unknown_module_is_reported_like_python():
    out = run(["-m", "no_such_module_xyz"])
    assert out.returncode == 1
    assert "No module named no_such_module_xyz" in out.stderr


def test_no_arguments_prints_usage_and_exits_2():
    out = run([])
    assert out.returncode == 2 and "usage: python -m espnet_warmup" in out.stderr


def test_sigterm_reaches_the_target_like_a_plain_python_process(tmp_path):
    ready = tmp_path / "ready"
    code = f"import time, pathlib; pathlib.Path({str(ready)!r}).touch(); time.sleep(60)"
    proc = subprocess.Popen(LAUNCH + ["-c", code])
    deadline = time.time() + 120
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM


def test_spawned_worker_processes_register_too(tmp_path):
    # ESPnet's multi-GPU training starts workers with torch.multiprocessing.spawn; each worker
    # builds the scheduler from its own copy of the registry.
    (tmp_path / "probe_mod.py").write_text(
        "def probe(q):\n"
        "    from espnet2.tasks import abs_task\n"
        "    q.put('polynomialwarmuplr' in abs_task.scheduler_classes)\n"
    )
    code = (
        "import multiprocessing as mp, probe_mod\n"
        "ctx = mp.get_context('spawn'); q = ctx.Queue()\n"
        "p = ctx.Process(target=probe_mod.probe, args=(q,)); p.start()\n"
        "print('worker registered:', q.get(timeout=170)); p.join()\n"
    )
    out = run(["-c", code], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    assert "worker registered: True" in lines(out)


@pytest.mark.slow
def test_print_config_shows_our_scheduler_defaults():
    out = run(["-m", "espnet2.bin.asr_train", "--print_config", "--scheduler", "exponentialwarmuplr"])
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load("\n".join(lines(out)))
    assert config["scheduler"] == "exponentialwarmuplr"
    assert config["scheduler_conf"] == {"warmup_steps": 50000, "alpha": 1.5, "last_epoch": -1}
    out = run(["-m", "espnet2.bin.asr_train", "--print_config", "--scheduler", "polynomialwarmuplr",
               "--scheduler_conf", "power=2.0"])
    assert yaml.safe_load("\n".join(lines(out)))["scheduler_conf"] == {"warmup_steps": 50000, "power": 2.0, "last_epoch": -1}


@pytest.mark.slow
def test_plain_python_does_not_know_our_schedulers():
    out = subprocess.run([sys.executable, "-m", "espnet2.bin.asr_train", "--print_config", "--scheduler",
                          "exponentialwarmuplr"], capture_output=True, text=True, timeout=180)
    assert out.returncode != 0
    assert "invalid choice: 'exponentialwarmuplr'" in out.stderr
