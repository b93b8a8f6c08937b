"""What the startup hook costs an interpreter start: with and without it, side by side, same run.

    python bench/startup_hook.py [--runs 200] [--keep DIR]

Makes two throwaway venvs of this interpreter (no packages copied: a .pth adds this environment's
site-packages as a site dir, as tests/test_hook.py does), installs the hook
(``espnet_warmup.hook.install``) into one of them, and starts ``python -c pass`` in each, alternating,
``--runs`` times. Reports the median and the 10/90th percentiles of the wall time of a start, the
difference of the medians and their ratio; then, in-process, the time to run the hook's .pth line
(what site.py does at each start: the module comes from its .pyc) and the cost the installed finder adds to one import of a module
it does not handle. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import timeit
from pathlib import Path

from espnet_warmup import hook


def make_env(root: Path, with_hook: bool) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site_dir = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    shared = sysconfig.get_paths()["purelib"]
    (site_dir / "_shared_packages.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
    if with_hook:
        hook.install(site_dir)
    return python


def start_time(python: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the child) of one `python -c pass`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([python, "-c", "pass"], check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--keep", type=Path, default=None, help="make the venvs here (default: a temp dir)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        plain, hooked = make_env(root / "plain", False), make_env(root / "hooked", True)
        check = subprocess.run([hooked, "-c", "import sys; print(type(sys.meta_path[0]).__name__, "
                                              "'espnet_warmup' in sys.modules)"],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert check == "EspnetWarmupStartupHook False", check
        for python in (plain, hooked):  # warm the OS caches
            for _ in range(5):
                start_time(python)
        times: dict[str, list[float]] = {"plain": [], "hooked": []}
        cpu: dict[str, list[float]] = {"plain": [], "hooked": []}
        for _ in range(args.runs):
            for name, python in (("plain", plain), ("hooked", hooked)):
                wall, used = start_time(python)
                times[name].append(wall)
                cpu[name].append(used)

        # In-process: site.py's work for the .pth line (run the line; the module comes from its .pyc),
        # and what the finder adds to an import it does not handle.
        site_dir = hooked.parent.parent / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
        sys.path.append(str(site_dir))
        before = list(sys.meta_path)

        def run_pth_line():
            sys.modules.pop(hook.MODULE_NAME, None)
            sys.meta_path[:] = before
            exec(hook.PTH_LINE, {})  # noqa: S102 -- what site.py runs

        n = 2000
        pth_s = timeit.timeit(run_pth_line, number=n) / n
        finder = sys.meta_path[0]
        assert type(finder).__name__ == "EspnetWarmupStartupHook"
        per_import_s = timeit.timeit(lambda: finder.find_spec("json.decoder"), number=100000) / 100000
        sys.meta_path[:] = before
        sys.path.remove(str(site_dir))

    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.mean(v) for k, v in cpu.items()}  # getrusage ticks are coarse: the mean
    print(f"interpreter start (`python -c pass`), {args.runs} runs each, alternating; Python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n")
    print("| environment | wall median ms | wall p10 ms | wall p90 ms | CPU (user+sys) mean ms |")
    print("|---|---|---|---|---|")
    for k, v in times.items():
        print(f"| {k} | {med[k] * 1e3:.2f} | {pct(v, 0.1) * 1e3:.2f} | {pct(v, 0.9) * 1e3:.2f} | "
              f"{med_cpu[k] * 1e3:.2f} |")
    print(f"\nhook cost per start: wall (difference of medians) {(med['hooked'] - med['plain']) * 1e3:+.3f} ms, "
          f"ratio hooked/plain {med['hooked'] / med['plain']:.4f}; CPU (difference of means) "
          f"{(med_cpu['hooked'] - med_cpu['plain']) * 1e3:+.3f} ms")
    print(f"the .pth line itself (in-process, {n} runs): {pth_s * 1e6:.1f} us")
    print(f"the finder, per import of a module it does not handle: {per_import_s * 1e9:.0f} ns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
