"""``espnet-warmup hook install|uninstall|status``: zero-change registration, opt-in.

``install`` writes ``espnet_warmup_hook.pth`` and its module ``_espnet_warmup_hook.py`` (with its
.pyc) into the site-packages of the current environment (``sysconfig``'s purelib, or ``--site DIR``).
Python's ``site`` module runs the .pth file's one line at every interpreter start; it imports that
small module, which only puts a finder on ``sys.meta_path`` and imports nothing else. When a program first imports ``espnet`` or ``espnet2``, the finder removes itself and
installs :mod:`espnet_warmup.lazy_registration`, which registers our schedulers right after
``espnet2.tasks.abs_task`` has executed, and our transducer model (``espnet_samplewise_transducer``)
right after ``espnet2.tasks.asr`` has -- before ESPnet builds its parser. So any Python process
of that environment knows ``exponentialwarmuplr``, ``polynomialwarmuplr`` (and our other schedulers)
and ``--model espnet_samplewise_transducer``, and an unmodified recipe needs no ``--python`` change. ``uninstall`` removes the file; ``status`` says whether it is
there and current.

The hook never breaks a Python start or an ESPnet import: any exception inside it becomes one
line on stderr (never stdout), and the program goes on without our schedulers.
Cost per interpreter start: bench/startup_hook.py.
"""

from __future__ import annotations

import argparse
import os
import site
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "espnet_warmup_hook.pth"
#: The finder's module, written beside the .pth file (with its .pyc: no compiling at start-up).
#: Not in the espnet_warmup package: nothing of ours is imported until ESPnet is.
MODULE_NAME = "_espnet_warmup_hook"

# It triggers on the top-level packages, which Python imports before any of their submodules.
MODULE_SOURCE = '''"""Installed by `espnet-warmup hook install`; removed by `espnet-warmup hook uninstall`.

Registers espnet-warmup's schedulers in ESPnet: a finder that imports nothing until a program first
imports espnet or espnet2, then removes itself and hands over to espnet_warmup.lazy_registration
(registration right after espnet2.tasks.abs_task has executed). Never raises: a failure is one line
on stderr and the program goes on without our schedulers.
"""
import sys


class EspnetWarmupStartupHook:
    def find_spec(self, name, path=None, target=None):
        if name == "espnet2" or name == "espnet":
            try:
                sys.meta_path.remove(self)
                from espnet_warmup import lazy_registration

                lazy_registration.install(on_error="warn")
            except Exception as err:
                sys.stderr.write("espnet-warmup hook (%s): schedulers not registered: %s: %s\\n"
                                 % (__file__, type(err).__name__, err))
        return None


# Once, even where site.py reads the same site-packages twice (a venv's lib64 -> lib link).
if not any(type(f).__name__ == "EspnetWarmupStartupHook" for f in sys.meta_path):
    sys.meta_path.insert(0, EspnetWarmupStartupHook())
'''

#: The .pth file's line. site.py executes lines that start with "import". The try keeps even a
#: deleted module file to one line on stderr; the sys.modules test, to one attempt per start where
#: site.py reads the same site-packages twice.
PTH_LINE = (
    'import sys; exec("try:\\n import ' + MODULE_NAME + '\\nexcept Exception as e:\\n'
    ' sys.modules[\'' + MODULE_NAME + '\'] = None\\n'
    ' sys.stderr.write(\'espnet-warmup hook: %r; run: espnet-warmup hook uninstall\\\\n\' % e)")'
    ' if \'' + MODULE_NAME + '\' not in sys.modules else None\n'
)


def default_site() -> Path:
    """site-packages of the running interpreter's environment (a venv's own, where active)."""
    return Path(sysconfig.get_paths()["purelib"])


def _is_site_dir(path: Path) -> bool:
    dirs = list(site.getsitepackages()) + [site.getusersitepackages()]
    return any(os.path.realpath(d) == os.path.realpath(path) for d in dirs)


def _files(site_dir: Path) -> dict[Path, str]:
    return {site_dir / f"{MODULE_NAME}.py": MODULE_SOURCE, site_dir / PTH_NAME: PTH_LINE}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # not *.pth/*.py: never read half-written
    tmp.write_text(text)
    os.replace(tmp, path)


def install(site_dir: Path) -> tuple[Path, bool]:
    """Write the hook (its module first, the .pth that runs it last, and the module's .pyc);
    returns (.pth path, changed). Idempotent: identical files are left as they are."""
    import py_compile

    site_dir.mkdir(parents=True, exist_ok=True)
    changed = False
    for path, text in _files(site_dir).items():
        if not (path.is_file() and path.read_text() == text):
            _write(path, text)
            changed = True
        if path.suffix == ".py":
            py_compile.compile(str(path), doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    return site_dir / PTH_NAME, changed


def uninstall(site_dir: Path) -> tuple[Path, bool]:
    """Remove the hook (the .pth first); returns (.pth path, removed)."""
    import importlib.util

    removed = False
    module = site_dir / f"{MODULE_NAME}.py"
    for path in (site_dir / PTH_NAME, module, Path(importlib.util.cache_from_source(str(module)))):
        try:
            path.unlink()
            removed = removed or path.suffix == ".pth"
        except FileNotFoundError:
            pass
    return site_dir / PTH_NAME, removed


def status(site_dir: Path) -> tuple[Path, str]:
    """(.pth path, one of 'installed', 'outdated', 'not installed')."""
    path = site_dir / PTH_NAME
    if not path.is_file():
        return path, "not installed"
    current = all(p.is_file() and p.read_text() == text for p, text in _files(site_dir).items())
    return path, "installed" if current else "outdated"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "uninstall", "status"],
                        help="install|uninstall the startup hook, or show whether it is installed")
    parser.add_argument("--site", type=Path, default=None,
                        help=f"site-packages directory (default: this environment's, {default_site()})")


def run(args: argparse.Namespace) -> int:
    site_dir = args.site if args.site is not None else default_site()
    if args.action == "install":
        path, changed = install(site_dir)
        print(f"espnet-warmup hook: {'installed' if changed else 'already installed'}: {path}")
        if not _is_site_dir(site_dir):
            print(f"espnet-warmup hook: warning: {site_dir} is not a site-packages directory of "
                  f"{sys.executable}; Python reads .pth files only from its site directories",
                  file=sys.stderr)
        return 0
    if args.action == "uninstall":
        path, removed = uninstall(site_dir)
        print(f"espnet-warmup hook: {'removed' if removed else 'not installed'}: {path}")
        return 0
    path, state = status(site_dir)
    print(f"espnet-warmup hook: {state}: {path}")
    if state == "outdated":
        print("espnet-warmup hook: run `espnet-warmup hook install` to update it", file=sys.stderr)
    return 0 if state == "installed" else 1
