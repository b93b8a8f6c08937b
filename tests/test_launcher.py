"""``python -m espnet_warmup``: a drop-in for the interpreter that registers first."""

import importlib.util
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from espnet_warmup.lazy_registration import FLASH_NOTICE

LAUNCH = [sys.executable, "-m", "espnet_warmup"]
CHECK = (
    "import sys; from espnet2.tasks import abs_task; "
    "print('registered' if 'exponentialwarmuplr' in abs_task.scheduler_classes else 'missing'); "
    "print(sys.argv)"
)


def run(args, **kw):
    return subprocess.run(LAUNCH + args, capture_output=True, text=True, timeout=180, **kw)


def lines(out):
    return out.stdout.splitlines()


def plain(args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, timeout=180, **kw)


def launched(args, **kw):
    return subprocess.run(LAUNCH + args, capture_output=True, timeout=180, **kw)


def quiet_env(value):
    env = dict(os.environ)
    env.pop("ESPNET_WARMUP_QUIET_IMPORTS", None)
    if value is not None:
        env["ESPNET_WARMUP_QUIET_IMPORTS"] = value
    return env


def test_dash_c_runs_code_after_registering_with_python_argv():
    out = run(["-c", CHECK, "a", "--b"])
    assert out.returncode == 0, out.stderr
    assert lines(out)[-2:] == ["registered", "['-c', 'a', '--b']"]


def test_script_path_runs_as_main_with_its_argv(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(CHECK + "\nimport sys; assert __name__ == '__main__'; sys.exit(7)\n")
    out = run([str(script), "x"])
    assert out.returncode == 7
    assert lines(out)[-2:] == ["registered", f"[{str(script)!r}, 'x']"]


def test_dash_m_runs_a_module_as_main(tmp_path):
    pkg = tmp_path / "mymod.py"
    pkg.write_text(CHECK + "\nassert __name__ == '__main__'\n")
    out = run(["-m", "mymod", "--flag", "1"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert lines(out)[-2:] == ["registered", f"[{str(pkg)!r}, '--flag', '1']"]


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
        "    from espnet2.tasks import abs_task, asr\n"
        "    q.put('polynomialwarmuplr' in abs_task.scheduler_classes\n"
        "          and 'espnet_samplewise_transducer' in asr.model_choices.classes)\n"
    )
    code = (
        "import multiprocessing as mp, probe_mod\n"
        "ctx = mp.get_context('spawn'); q = ctx.Queue()\n"
        "p = ctx.Process(target=probe_mod.probe, args=(q,)); p.start()\n"
        "print('worker registered:', q.get(timeout=170)); p.join()\n"
    )
    pythonpath = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    out = run(["-c", code], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=pythonpath))
    assert out.returncode == 0, out.stderr
    assert "worker registered: True" in lines(out)


GLOO_TARGET = """
import sys, torch.distributed as dist
marker = sys.argv[1]
def traced_destroy(*args, _orig=dist.destroy_process_group, **kw):
    open(marker, "w").write("destroyed while initialised: %s" % dist.is_initialized())
    return _orig(*args, **kw)
dist.destroy_process_group = traced_destroy
if sys.argv[2] == "init":
    dist.init_process_group("gloo", init_method="file://" + marker + ".rdzv", rank=0, world_size=1)
    dist.all_reduce(__import__("torch").ones(3))
sys.exit(int(sys.argv[3]))
"""


@pytest.mark.parametrize("where", ["launcher", "spawned worker"])
def test_a_gloo_group_left_by_the_target_is_destroyed_at_exit_and_the_status_kept(tmp_path, where):
    # ESPnet's trainer never destroys its process group; left to the interpreter's teardown, Gloo
    # can abort the process (SIGABRT, exit 134) after a finished CPU multi-node training.
    marker = tmp_path / "destroyed"
    if where == "launcher":
        out = launched(["-c", GLOO_TARGET, str(marker), "init", "3"], cwd=tmp_path)
    else:
        (tmp_path / "gloo_mod.py").write_text(
            "import sys, runpy\n"
            "def work(code, args):\n"
            "    sys.argv = ['-c', *args]\n"
            "    exec(code, {'__name__': 'gloo_worker'})\n")
        code = ("import multiprocessing as mp, sys, gloo_mod\n"
                "p = mp.get_context('spawn').Process(target=gloo_mod.work, args=(sys.argv[1], sys.argv[2:]))\n"
                "p.start(); p.join(); sys.exit(p.exitcode)\n")
        out = launched(["-c", code, GLOO_TARGET, str(marker), "init", "3"], cwd=tmp_path,
                       env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert out.returncode == 3, out.stderr.decode()
    assert out.stdout == b""
    assert marker.read_text() == "destroyed while initialised: True"


def test_no_group_no_cleanup(tmp_path):
    marker = tmp_path / "destroyed"
    out = launched(["-c", GLOO_TARGET, str(marker), "none", "0"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr.decode()
    assert not marker.exists()


@pytest.mark.slow
def test_print_config_shows_our_scheduler_and_model_defaults():
    out = run(["-m", "espnet2.bin.asr_train", "--print_config", "--scheduler", "exponentialwarmuplr"])
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout.removeprefix(FLASH_NOTICE + "\n"))
    assert config["scheduler"] == "exponentialwarmuplr"
    assert config["scheduler_conf"] == {"warmup_steps": 50000, "alpha": 1.5, "last_epoch": -1}
    # the transducer model (registered after espnet2.tasks.asr is imported) is one of asr_train's --model choices
    out = run(["-m", "espnet2.bin.asr_train", "--print_config", "--scheduler", "polynomialwarmuplr",
               "--scheduler_conf", "power=2.0", "--model", "espnet_samplewise_transducer", "--decoder", "transducer"])
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout.removeprefix(FLASH_NOTICE + "\n"))
    assert config["scheduler_conf"] == {"warmup_steps": 50000, "power": 2.0, "last_epoch": -1}
    assert (config["model"], config["decoder"]) == ("espnet_samplewise_transducer", "transducer")
    assert config["model_conf"] == {"transducer_fastemit_lambda": 0.0, "transducer_max_group_elements": None}


@pytest.mark.slow
def test_plain_python_does_not_know_our_schedulers():
    out = subprocess.run([sys.executable, "-m", "espnet2.bin.asr_train", "--print_config", "--scheduler",
                          "exponentialwarmuplr"], capture_output=True, text=True, timeout=180)
    assert out.returncode != 0
    assert "invalid choice: 'exponentialwarmuplr'" in out.stderr


@pytest.mark.slow
def test_a_target_that_never_imports_the_task_module_gets_plain_pythons_output_byte_for_byte(tmp_path):
    # Upstream asr.sh stage 13 pipes tokenize_text into ref.trn/hyp.trn: one extra line shifts every id.
    text = tmp_path / "text"
    text.write_text("utt1 HELLO WORLD\nutt2 CIAO MONDO\n", encoding="utf-8")
    args = ["-m", "espnet2.bin.tokenize_text", "-f", "2-", "--input", str(text), "--output", "-",
            "--token_type", "char"]
    want, got = plain(args, env=quiet_env(None)), launched(args, env=quiet_env(None))
    assert want.returncode == got.returncode == 0, got.stderr
    assert want.stdout == b"H E L L O <space> W O R L D\nC I A O <space> M O N D O\n"
    assert got.stdout == want.stdout
    assert got.stderr == want.stderr  # ESPnet's own stderr (nltk's attempts included), nothing of ours


@pytest.mark.slow
def test_a_target_that_imports_the_task_module_prints_what_plain_python_prints():
    # asr_train --help: ESPnet's flash-attention notice comes from the target's own import, as under python.
    args = ["-m", "espnet2.bin.asr_train", "--help"]
    want, got = plain(args, env=quiet_env(None)), launched(args, env=quiet_env(None))
    assert want.returncode == got.returncode == 0, got.stderr
    # The one difference is the point of the launcher: our names among --scheduler's and --model's choices.
    from espnet_warmup.lazy_registration import MODEL_NAME
    from espnet_warmup.registry import SCHEDULERS

    ours = ("," + ",".join(SCHEDULERS) + ",None}").encode()  # ESPnet lists them in registration order
    assert got.stdout.count(ours) == 2, got.stdout[-2000:]
    model = f",{MODEL_NAME}}}".encode()  # --model {espnet,maskctc,pit_espnet,espnet_samplewise_transducer}
    assert got.stdout.count(model) == 2 and want.stdout.count(model) == 0, got.stdout[-2000:]
    assert got.stdout.replace(ours, b",None}").replace(model, b"}") == want.stdout


def test_registration_waits_until_the_target_imports_the_task_module():
    code = "import sys; print(sorted(m for m in ('espnet2', 'torch', 'espnet_warmup.registry') if m in sys.modules))"
    out = run(["-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[]\n"


@pytest.mark.slow
def test_quiet_imports_keep_the_nltk_attempts_and_the_flash_notice_out():
    code = "import espnet2.tasks.asr; print('imported')"
    loud = launched(["-c", code], env=quiet_env(None))
    quiet = launched(["-c", code], env=quiet_env("1"))
    assert loud.returncode == quiet.returncode == 0, quiet.stderr
    attention = importlib.util.find_spec("espnet.nets.pytorch_backend.transformer.attention")
    prints_notice = "Failed to import Flash Attention" in open(attention.origin, encoding="utf-8").read()
    if prints_notice and importlib.util.find_spec("flash_attn") is None:  # the notice this test is about
        assert loud.stdout == (FLASH_NOTICE + "\nimported\n").encode()
    assert quiet.stdout == b"imported\n"
    assert b"[nltk_data]" not in quiet.stderr and b"Flash" not in quiet.stderr
