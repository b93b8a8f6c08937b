"""``python -m espnet_warmup``: a drop-in for the Python interpreter that registers first.

Usage (the interpreter's own forms)::

    python -m espnet_warmup -m espnet2.bin.asr_train --scheduler exponentialwarmuplr ...
    python -m espnet_warmup path/to/script.py args...
    python -m espnet_warmup -c "code" args...

It arranges for :func:`espnet_warmup.register` to run right after the target first imports
``espnet2.tasks.abs_task``, and for our transducer model (``model: espnet_samplewise_transducer``,
:func:`espnet_warmup.transducer.espnet_model.register_model`) to join the ASR task's
``model_choices`` right after it first imports ``espnet2.tasks.asr``
(:mod:`espnet_warmup.lazy_registration`; nothing is imported before, so the target's output is
byte for byte what plain ``python`` gives), then runs the target as ``python`` would:
``sys.argv`` as the target expects it, ``__name__ == "__main__"``, the exit status of
the target (``SystemExit`` passes through) and Python's own signal handling (the target
runs in this process). An unmodified ESPnet recipe uses our schedulers with
``./asr.sh --python "python3 -m espnet_warmup"``.

The target runs in a fresh ``__main__`` module, as under python. Worker processes started with
the ``spawn`` method (ESPnet's multi-GPU training uses ``torch.multiprocessing.spawn``)
re-import the parent's main module by name; for ``-m`` and ``-c`` targets that name is
:mod:`espnet_warmup._worker_main`, which registers, so the workers know our schedulers and model too. (A *script* target runs as its own ``__main__``; a
script that spawns workers itself should call ``espnet_warmup.register()``.)
"""

from __future__ import annotations

import os
import runpy
import sys

USAGE = """\
usage: python -m espnet_warmup (-m module | -c command | script) [args ...]

Runs the target like the Python interpreter would, adding our schedulers
(exponentialwarmuplr, polynomialwarmuplr, warmupschedulelr, warmupcosinelr,
warmupstabledecaylr, warmupguardlr) to ESPnet's scheduler registry as soon as
the target imports it (espnet2.tasks.abs_task), and the transducer model
espnet_samplewise_transducer (--model, sample-wise RNN-T loss) to the ASR
task's model_choices as soon as it imports espnet2.tasks.asr.
  -m module   run a library module as a script (e.g. espnet2.bin.asr_train)
  -c command  run a program passed as a string
  script      run a Python file
Without a launcher: espnet-warmup hook install (every Python process of this
environment then registers when it imports ESPnet; see README).
"""


def _module_code(module: str):
    """(spec, code) of ``module`` as ``python -m`` finds them (a package runs its ``__main__``);
    errors are reported like the interpreter's, exit status 1."""
    import importlib.util

    def fail(msg: str):
        print(f"{sys.executable}: {msg}", file=sys.stderr)
        raise SystemExit(1)

    try:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations is not None:
            package, spec = module, importlib.util.find_spec(f"{module}.__main__")
            if spec is None:
                fail(f"No module named {package}.__main__; '{package}' is a package and cannot be directly executed")
    except (ImportError, ValueError) as err:
        fail(f"Error while finding module specification for {module!r} ({type(err).__name__}: {err})")
    if spec is None:
        fail(f"No module named {module}")
    code = spec.loader.get_code(spec.name) if spec.loader is not None else None
    if code is None:
        fail(f"No code object available for {module}")
    return spec, code


def _exec_as_main(code, **attrs) -> None:
    """Run ``code`` in a fresh ``__main__`` module, installed as ``sys.modules['__main__']`` like the
    interpreter's own (tools that look the target up there, e.g. typeguard's ``@typechecked``
    instrumentation in ESPnet's scripts, find it). Its ``__spec__`` names
    :mod:`espnet_warmup._worker_main`: ``multiprocessing``'s spawn re-imports the parent's main
    module in each worker by that name, so spawned workers register too."""
    import builtins
    import importlib.util
    import types

    main_module = types.ModuleType("__main__")
    main_module.__dict__.update(__builtins__=builtins, __loader__=None, __package__=None, __file__=None,
                                __cached__=None)
    for key in ("__file__", "__cached__"):
        if attrs.get(key) is None:
            del main_module.__dict__[key]
    main_module.__dict__.update({k: v for k, v in attrs.items() if v is not None})
    main_module.__spec__ = importlib.util.find_spec("espnet_warmup._worker_main")
    launcher = sys.modules.get("__main__")  # noqa: F841 -- kept alive while its main() runs
    sys.modules["__main__"] = main_module
    exec(code, main_module.__dict__)


def _run_module(module: str, args: list[str]) -> None:
    # Like `python -m module`: argv[0] is the module's file path, sys.path[0] is the cwd.
    spec, code = _module_code(module)
    sys.argv = [spec.origin or module, *args]
    sys.path[0] = os.getcwd()
    _exec_as_main(code, __file__=spec.origin if spec.has_location else None, __cached__=spec.cached,
                  __loader__=spec.loader, __package__=spec.parent)


def _run_path(path: str, args: list[str]) -> None:
    if not os.path.exists(path):
        print(f"{sys.executable}: can't open file {path!r}: [Errno 2] No such file or directory",
              file=sys.stderr)
        raise SystemExit(2)
    sys.argv = [path, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    # A script runs as its own __main__ (spawned workers re-run it by path, as under python).
    runpy.run_path(path, run_name="__main__")


def _run_command(code: str, args: list[str]) -> None:
    sys.argv = ["-c", *args]
    sys.path[0] = ""
    _exec_as_main(compile(code, "<string>", "exec"))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        raise SystemExit(2 if not argv else 0)

    # Registration happens right after the target first imports espnet2.tasks.abs_task (before
    # any ESPnet parser exists), so a target that never imports it runs exactly as under python.
    from espnet_warmup import lazy_registration, process_group_exit

    lazy_registration.install(on_error="raise")
    # A Gloo group the target leaves behind is destroyed at exit, before the interpreter's own
    # teardown could abort the process (espnet_warmup.process_group_exit).
    process_group_exit.install()
    head = argv[0]
    if head == "-m" or (head.startswith("-m") and len(head) > 2):
        module, rest = (argv[1], argv[2:]) if head == "-m" and len(argv) > 1 else (head[2:], argv[1:])
        if not module:
            print("Argument expected for the -m option", file=sys.stderr)
            raise SystemExit(2)
        _run_module(module, rest)
    elif head == "-c" or (head.startswith("-c") and len(head) > 2):
        if head == "-c" and len(argv) < 2:
            print("Argument expected for the -c option", file=sys.stderr)
            raise SystemExit(2)
        code, rest = (argv[1], argv[2:]) if head == "-c" else (head[2:], argv[1:])
        _run_command(code, rest)
    elif head.startswith("-"):
        print(f"python -m espnet_warmup: unsupported interpreter option {head!r} "
              "(use -m module, -c command or a script path)", file=sys.stderr)
        raise SystemExit(2)
    else:
        _run_path(head, argv[1:])


if __name__ == "__main__":
    main()
