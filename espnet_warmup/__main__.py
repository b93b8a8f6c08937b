"""``python -m espnet_warmup``: a drop-in for the Python interpreter that registers first.

Usage (the interpreter's own forms)::

    python -m espnet_warmup -m espnet2.bin.asr_train --scheduler exponentialwarmuplr ...
    python -m espnet_warmup path/to/script.py args...
    python -m espnet_warmup -c "code" args...

It calls :func:`espnet_warmup.register`, then runs the target as ``python`` would:
``sys.argv`` as the target expects it, ``__name__ == "__main__"``, the exit status of
the target (``SystemExit`` passes through) and Python's own signal handling (the target
runs in this process). An unmodified ESPnet recipe uses our schedulers with
``./asr.sh --python "python3 -m espnet_warmup"``.

Worker processes started with the ``spawn`` method (ESPnet's multi-GPU training uses
``torch.multiprocessing.spawn``) re-import the parent's main module by name; for ``-m`` and
``-c`` targets that name is pointed at :mod:`espnet_warmup._worker_main`, which registers, so
the workers know our schedulers too. (A *script* target runs as its own ``__main__``; a
script that spawns workers itself should call ``espnet_warmup.register()``.)
"""

from __future__ import annotations

import os
import runpy
import sys

USAGE = """\
usage: python -m espnet_warmup (-m module | -c command | script) [args ...]

Runs the target like the Python interpreter would, after adding the schedulers
exponentialwarmuplr and polynomialwarmuplr to ESPnet's scheduler registry.
  -m module   run a library module as a script (e.g. espnet2.bin.asr_train)
  -c command  run a program passed as a string
  script      run a Python file
"""


def _run_module(module: str, args: list[str]) -> None:
    # Like `python -m module`: argv[0] is the module's file path, sys.path[0] is the cwd.
    spec_origin = module
    try:
        import importlib.util

        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as err:
        print(f"{sys.executable}: Error while finding module specification for {module!r} ({err})",
              file=sys.stderr)
        raise SystemExit(1) from None
    if spec is None:
        print(f"{sys.executable}: No module named {module}", file=sys.stderr)
        raise SystemExit(1)
    if spec.submodule_search_locations is not None:  # a package: run its __main__
        spec_origin = f"{module}.__main__"
    sys.argv = [spec.origin or module, *args]
    sys.path[0] = os.getcwd()
    # alter_sys=False keeps *this* module as sys.modules['__main__'] so that spawned
    # workers re-import it (and register) instead of the target.
    runpy.run_module(spec_origin, run_name="__main__", alter_sys=False)


def _run_path(path: str, args: list[str]) -> None:
    if not os.path.exists(path):
        print(f"{sys.executable}: can't open file {path!r}: [Errno 2] No such file or directory",
              file=sys.stderr)
        raise SystemExit(2)
    sys.argv = [path, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    runpy.run_path(path, run_name="__main__")


def _run_command(code: str, args: list[str]) -> None:
    sys.argv = ["-c", *args]
    sys.path[0] = ""
    exec(compile(code, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})


def _make_spawned_workers_register() -> None:
    # multiprocessing's spawn re-imports the parent's main module in each worker by name, but
    # skips names ending in ".__main__" (ours). Point our spec at a module that registers.
    import importlib.util

    main_module = sys.modules.get("__main__")
    if main_module is not None and getattr(main_module, "__spec__", None) is not None:
        main_module.__spec__ = importlib.util.find_spec("espnet_warmup._worker_main")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        raise SystemExit(2 if not argv else 0)

    from espnet_warmup import register

    register()
    _make_spawned_workers_register()
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
