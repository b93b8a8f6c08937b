#!/usr/bin/env python3
"""The fault battery: bad inputs and faults fed to the recipe and its tools, and what came back.

Every case module under ``bench/faults/`` (one per area; contract in ``bench/faults/base.py``)
contributes cases. Each case runs in its own fresh directory; the ones that need a recipe get a
private copy of a recipe dir that has finished stages 1-5 on the tiny embedded corpus (made once
per battery run). The table (area, case, exit code, first error line, verdict) is written to
``docs/faults.md`` and, with the full outputs' paths, to ``<workdir>/faults.json``.

Usage (from the repository root; a few minutes per 10 cases on a 2-core CPU)::

    python3 bench/fault_battery.py [--workdir bench_out/faults] [--out docs/faults.md]
        [--only REGEX] [--list]

``--only`` reruns some cases and updates their rows in ``<workdir>/faults.json`` (and the table,
once every case has a row).

Exit status: 0 when every case gave its expected exit code and error line (and its ``after``
check held), 1 otherwise (the mismatches are listed on stderr).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.faults.base import AREAS, Case, first_error_line  # noqa: E402

LINKS = ("run.sh", "asr.sh", "path.sh", "cmd.sh", "db.sh", "utils", "local", "conf")
TINY_CORPUS = "--num_train 40 --num_dev 8 --num_test 8"


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted((ROOT / "bench" / "faults").glob("*.py")):
        if path.stem in ("__init__", "base"):
            continue
        mod = importlib.import_module(f"bench.faults.{path.stem}")
        cases.extend(getattr(mod, "CASES"))
    names = [c.name for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SystemExit(f"fault_battery: case names used twice: {', '.join(dup)}")
    return cases


def make_recipe_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in LINKS:
        (path / name).symlink_to(ROOT / name)
    return path


def recipe_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    # this checkout's package first, whichever checkout the venv was installed from
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("VIRTUAL_ENV", None)
    return env


def prepared_recipe(workdir: Path) -> Path:
    """A recipe dir after stages 1-5 on the tiny corpus (reused while its marker is there)."""
    base = workdir / "prepared" / "asr1"
    marker = base.parent / ".done"
    if marker.exists():
        return base
    shutil.rmtree(base.parent, ignore_errors=True)
    make_recipe_dir(base)
    out = subprocess.run(["./run.sh", "--stage", "1", "--stop_stage", "5", "--local_data_opts", TINY_CORPUS],
                         cwd=base, capture_output=True, text=True, env=recipe_env())
    if out.returncode != 0:
        raise SystemExit(f"fault_battery: preparing the recipe dir failed:\n{out.stderr[-3000:]}")
    marker.write_text("stages 1-5\n")
    return base


def clone_recipe(src: Path, dst: Path) -> Path:
    recipe = make_recipe_dir(dst)
    for name in ("data", "dump", "downloads"):
        if (src / name).exists():
            subprocess.run(["cp", "-a", str(src / name), str(recipe / name)], check=True)
    return recipe


def run_case(case: Case, workdir: Path, prepared: Path | None) -> dict:
    # A neutral dir name: the case's words ("duplicate", "missing") in every path of its output
    # would read as error lines.
    tmp = workdir / "cases" / f"case_{hashlib.sha1(case.name.encode()).hexdigest()[:10]}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    recipe = clone_recipe(prepared, tmp / "recipe" / "asr1") if case.needs_recipe else None
    cmd = case.setup(tmp, recipe)
    env = {**recipe_env(), **cmd.env}
    log = tmp / "output.log"
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd.argv, cwd=cmd.cwd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        if cmd.during is not None:
            cmd.during(proc)
        try:
            rc = proc.wait(timeout=cmd.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            rc = proc.wait()
            out.write(f"\nfault_battery: TIMEOUT after {cmd.timeout} s\n")
    wall = time.monotonic() - t0
    text = log.read_text(errors="replace")
    line = first_error_line(text).replace(str(tmp), "<tmp>")  # the table reads the same on any machine
    problems = []
    if rc != case.expect_rc:
        problems.append(f"exit code {rc}, expected {case.expect_rc}")
    if not re.search(case.expect, line):
        problems.append(f"first error line does not match /{case.expect}/")
    if case.after is not None:
        try:
            case.after(tmp, recipe)
        except AssertionError as e:
            problems.append(f"after-check: {e}")
    return {"area": case.area, "case": case.name, "rc": rc, "expect_rc": case.expect_rc,
            "first_error_line": line, "ok": not problems, "problems": problems,
            "wall_s": round(wall, 1), "log": str(log)}


def md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("`", "'")


def write_table(results: list[dict], out: Path) -> None:
    n_ok = sum(r["ok"] for r in results)
    lines = [
        "# Fault battery",
        "",
        "Bad inputs and faults fed to the recipe and its tools, and what came back: the exit code and",
        "the first error line of the output. Generated by `python3 bench/fault_battery.py` (cases in",
        "`bench/faults/`, one module per area); a case passes when its exit code and error line are the",
        "expected ones and nothing finished was lost or relabelled (its own after-check).",
        "",
        f"{len(results)} cases, {n_ok} as expected, {len(results) - n_ok} not.",
        "",
        "| area | case | exit code | first error line | as expected |",
        "|---|---|---|---|---|",
    ]
    order = {a: i for i, a in enumerate(AREAS)}
    for r in sorted(results, key=lambda r: order[r["area"]]):
        line = r["first_error_line"]
        if len(line) > 220:
            line = line[:217] + "..."
        lines.append(f"| {r['area']} | {md_escape(r['case'])} | {r['rc']} | `{md_escape(line)}` | "
                     f"{'yes' if r['ok'] else 'NO: ' + md_escape('; '.join(r['problems']))} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)


def children_get_default_signal_dispositions() -> None:
    """Started in the background by a script (INT ignored) or under nohup (HUP ignored), the
    battery would hand those ignored signals to every case, and the signal cases would see what
    no user at a terminal sees; a handler (unlike SIG_IGN) is reset to the default at exec."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, lambda signum, frame: None)


def main(argv: list[str] | None = None) -> int:
    children_get_default_signal_dispositions()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", default="bench_out/faults")
    ap.add_argument("--out", default="docs/faults.md")
    ap.add_argument("--only", default=None, help="run only the cases whose name matches this regex")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)
    cases = load_cases()
    if args.only:
        cases = [c for c in cases if re.search(args.only, c.name)]
    if args.list:
        for c in cases:
            print(f"{c.area:12s} {c.name}")
        return 0
    if not cases:
        print("fault_battery: no cases selected", file=sys.stderr)
        return 1
    workdir = Path(args.workdir).resolve()
    prepared = prepared_recipe(workdir) if any(c.needs_recipe for c in cases) else None
    results = []
    for i, case in enumerate(cases, 1):
        r = run_case(case, workdir, prepared)
        results.append(r)
        print(f"[{i}/{len(cases)}] {'ok ' if r['ok'] else 'BAD'} {case.area}: {case.name}: rc={r['rc']} "
              f"({r['wall_s']} s) {r['first_error_line'][:120]}", file=sys.stderr, flush=True)
    # A partial run (--only) updates its cases in the last full run's results; the table is
    # written whenever the results cover every case.
    saved = workdir / "faults.json"
    if args.only and saved.exists():
        merged = {r["case"]: r for r in json.loads(saved.read_text())}
        merged.update({r["case"]: r for r in results})
        results = [merged[c.name] for c in load_cases() if c.name in merged]
    saved.write_text(json.dumps(results, indent=1) + "\n")
    if len(results) == len(load_cases()):
        write_table(results, ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out))
    bad = [r for r in results if not r["ok"]]
    for r in bad:
        print(f"fault_battery: {r['case']}: {'; '.join(r['problems'])} (output: {r['log']})", file=sys.stderr)
    print(f"fault_battery: {len(results)} cases, {len(results) - len(bad)} as expected", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
