"""``espnet-warmup hook install|uninstall|status``: zero-change registration, opt-in.

``install`` writes one file, ``espnet_warmup_hook.pth``, into the site-packages of the current
environment (``sysconfig``'s purelib, or ``--site DIR``). Python's ``site`` module runs its one
line at every interpreter start; that line only puts a tiny finder on ``sys.meta_path`` and imports
nothing. When a program first imports ``espnet`` or ``espnet2``, the finder removes itself and
installs :mod:`espnet_warmup.lazy_registration`, which registers our schedulers right after
``espnet2.tasks.abs_task`` has executed -- before ESPnet builds its parser. So any Python process
of that environment knows ``exponentialwarmuplr`` and ``polynomialwarmuplr``, and an unmodified
recipe needs no ``--python`` change. ``uninstall`` removes the file; ``status`` says whether it is
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

# The finder, run by site.py at start-up (exec'd with its own globals; `sys` is already imported).
# It triggers on the top-level packages, which Python imports before any of their submodules.
# Installed once even where site.py reads the same site-packages twice (a venv's lib64 -> lib link).
_FINDER_SOURCE = """\
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
if not any(type(f).__name__ == "EspnetWarmupStartupHook" for f in sys.meta_path):
    sys.meta_path.insert(0, EspnetWarmupStartupHook())
"""


def pth_line(pth_path: Path) -> str:
    """The one line of the .pth file (site.py executes lines that start with ``import``)."""
    return (
        "import sys; exec("
        f"compile({_FINDER_SOURCE!r}, {str(pth_path)!r}, 'exec'), "
        f"{{'sys': sys, '__file__': {str(pth_path)!r}}})\n"
    )


def default_site() -> Path:
    """site-packages of the running interpreter's environment (a venv's own, where active)."""
    return Path(sysconfig.get_paths()["purelib"])


def _is_site_dir(path: Path) -> bool:
    dirs = list(site.getsitepackages()) + [site.getusersitepackages()]
    return any(os.path.realpath(d) == os.path.realpath(path) for d in dirs)


def install(site_dir: Path) -> tuple[Path, bool]:
    """Write the hook; returns (path, changed). Idempotent: an identical file is left as it is."""
    path = site_dir / PTH_NAME
    text = pth_line(path)
    if path.is_file() and path.read_text() == text:
        return path, False
    site_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{PTH_NAME}.{os.getpid()}.tmp")  # not *.pth: site.py never reads it half-written
    tmp.write_text(text)
    os.replace(tmp, path)
    return path, True


def uninstall(site_dir: Path) -> tuple[Path, bool]:
    """Remove the hook; returns (path, removed)."""
    path = site_dir / PTH_NAME
    try:
        path.unlink()
    except FileNotFoundError:
        return path, False
    return path, True


def status(site_dir: Path) -> tuple[Path, str]:
    """(path, one of 'installed', 'outdated', 'not installed')."""
    path = site_dir / PTH_NAME
    if not path.is_file():
        return path, "not installed"
    return path, "installed" if path.read_text() == pth_line(path) else "outdated"


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
