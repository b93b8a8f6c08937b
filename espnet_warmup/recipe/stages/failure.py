"""Say why a recipe job failed: the cause in words, its last real error lines, what to do.

asr.sh's ``report_failure`` runs ``python3 -m espnet_warmup.recipe.stages.failure <log>...``
on the logs of a failed job (a JOB array's logs, or a glob left unexpanded when none matched).
Each log that does not end in a ``# Ended (code 0)`` trailer is read, and its cause is, the
first that applies:

1. no space left: the log has ENOSPC / "No space left on device" / "Disk quota exceeded", or
   a write error that a full disk produces without saying so (``basic_ios::clear: iostream
   error``, libsndfile's "System error", PyTorch's "PytorchStreamWriter failed writing" /
   "unexpected pos") while the filesystem of the job's output is full or nearly (below
   :data:`NEARLY_FULL_FRACTION` of its size or :data:`NEARLY_FULL_BYTES` free), or a log cut
   before run.pl's trailer on a full filesystem. The mount point and ``df``'s free bytes are named;
2. killed by signal N (run.pl's ``# Ended (code 128+N; signal N)`` trailer, or exit status
   128+N with no Python traceback), with what sends that signal (SIGKILL: out of memory or a
   scheduler's kill);
3. corrupt file: an unpickling / zip-archive error while loading a model, with the files that
   do not load (the model files the log names and those beside it, each loaded again here);
4. the Python exception's last line, with the file and line that raised it;
5. else the exit status.

Output goes to stdout (asr.sh sends it to stderr); exit status 0 (it is a report).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from espnet_warmup.recipe.launchers.common import _ENDED

#: A filesystem counts as (nearly) full below this share of its size free ...
NEARLY_FULL_FRACTION = 0.02
#: ... or below this many bytes free.
NEARLY_FULL_BYTES = 64 * 1024 * 1024
#: Error lines shown per log.
SHOWN_LINES = 6

NO_SPACE = re.compile(r"No space left on device|\bENOSPC\b|\[Errno 28\]|Disk quota exceeded|\[Errno 122\]|\bEDQUOT\b",
                      re.IGNORECASE)
WRITE_ERROR = re.compile(r"basic_ios::clear: iostream error|LibsndfileError.*System error|System error|"
                         r"PytorchStreamWriter failed writing|file write failed|unexpected pos \d+ vs \d+|"
                         r"\[Errno 5\] Input/output error")
CORRUPT = re.compile(r"UnpicklingError|invalid load key|PytorchStreamReader failed|failed finding central directory|"
                     r"Ran out of input|not a zip file|EOFError|zip archive", re.IGNORECASE)
ERROR_LINE = re.compile(r"error|exception|traceback|killed|no space|errno|fatal|abort|refus|cannot|failed",
                        re.IGNORECASE)
#: Lines that mention an error but are not one: nltk's offline download attempts (ESPnet imports
#: g2p_en), argparse's usage text, warnings.
NOISE = re.compile(r"^\s*\[nltk_data\]|^\s*\[--|^usage:|Warning\b|warnings\.warn|^\s*#", re.IGNORECASE)
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)|[A-Za-z_][\w.]*Error\w*)(?::|$)")
FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)')
MODEL_PATH = re.compile(r"(?:^|[\s'\"=(,])([\w./~+-]+\.(?:pth|pt|ckpt))\b")

SIGNAL_MEANING = {
    "SIGKILL": "out of memory (the kernel's OOM killer), a `kill -9`, or a scheduler's kill (memory or time limit)",
    "SIGTERM": "a `kill`, a scheduler's preemption or time limit, or a shutdown",
    "SIGINT": "an interrupt (Ctrl-C)",
    "SIGHUP": "the terminal that started it closed (run long jobs under nohup, tmux or a scheduler)",
    "SIGSEGV": "a crash in native code (segmentation fault)",
    "SIGABRT": "an abort in native code (e.g. a failed check in a C++ library)",
    "SIGBUS": "a bus error: often a memory-mapped file that was cut, or a full /dev/shm",
    "SIGXCPU": "the CPU time limit (ulimit -t or the scheduler's)",
    "SIGXFSZ": "the file size limit (ulimit -f)",
}


@dataclass
class Diagnosis:
    log: Path
    cause: str
    todo: str
    lines: list[str] = field(default_factory=list)
    #: Order among a job array's logs: a full disk, a corrupt file or an exception first; a
    #: signal last (run.pl stops the other tasks of an array with SIGTERM when one fails).
    rank: int = 0


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def mount_point(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    while not os.path.ismount(p):
        p = p.parent
    return p


def fs_type(mount: Path) -> str:
    try:
        best = ""
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1].replace("\\040", " ") == str(mount):
                best = parts[2]
        return best
    except OSError:
        return ""


@dataclass
class Space:
    mount: Path
    fstype: str
    free: int
    total: int

    @property
    def nearly_full(self) -> bool:
        return self.free < NEARLY_FULL_BYTES or (self.total > 0 and self.free < NEARLY_FULL_FRACTION * self.total)

    def describe(self) -> str:
        kind = f"{self.fstype}, " if self.fstype else ""
        free = f"{self.free} bytes" + (f" = {human_bytes(self.free)}" if self.free >= 1024 else "")
        return f"{self.mount} ({kind}{free} free of {self.total} bytes = {human_bytes(self.total)})"


def space_of(path: Path) -> Space:
    """``df`` of the filesystem holding ``path`` (its nearest existing ancestor)."""
    mount = mount_point(path)
    st = os.statvfs(mount)
    return Space(mount, fs_type(mount), st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize)


def read_lines(log: Path) -> list[str]:
    return log.read_bytes().decode("utf-8", errors="replace").splitlines()


def trailer(lines: list[str]) -> tuple[int, int | None] | None:
    """(exit code, signal or None) of run.pl's ``# Ended (...)`` trailer, if the log has one."""
    for line in reversed(lines[-5:]):
        m = _ENDED.match(line)
        if m:
            return int(m.group(1)), int(m.group(2)) if m.group(2) else None
    return None


def error_lines(lines: list[str]) -> list[str]:
    """The log's lines that report an error (header, trailer and known noise left out)."""
    return [ln.rstrip() for ln in lines if ERROR_LINE.search(ln) and not NOISE.search(ln)]


def last_exception(lines: list[str]) -> tuple[str, str | None] | None:
    """The last Python exception line and ``file:line`` of the innermost frame before it."""
    start = max((i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call last)")), default=None)
    if start is None:
        return None
    where = None
    for ln in lines[start + 1:]:
        m = FRAME.match(ln)
        if m:
            where = f"{m.group(1)}:{m.group(2)}"
        elif EXCEPTION_LINE.match(ln):
            return ln.strip(), where
    return None


def signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def shown_path(path: Path) -> str:
    """``path`` relative to the working dir (the recipe dir) when it lies under it."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def unloadable_models(log: Path, lines: list[str]) -> list[tuple[str, Path]]:
    """The model files that the log names or that lie beside it and do not load: (what and why, the
    file itself)."""
    from espnet_warmup.recipe.stages.checkpoints import NotLoadable, load

    candidates: list[Path] = []
    for ln in lines:
        for m in MODEL_PATH.finditer(ln):
            candidates.append(Path(m.group(1)))
    candidates += sorted(log.parent.glob("*.pth"))
    seen, found = set(), []
    for p in candidates:
        try:
            real = p.resolve()
        except OSError:
            continue
        if real in seen or not real.is_file():
            continue
        seen.add(real)
        if len(seen) > 40:
            break
        try:
            load(real)
        except NotLoadable as e:
            found.append((f"{p}{' -> ' + shown_path(real) if p.is_symlink() else ''} is {e}", real))
    return found


def diagnose(log: Path) -> Diagnosis | None:
    """Why the job of ``log`` failed (None if it succeeded)."""
    lines = read_lines(log)
    end = trailer(lines)
    if end is not None and end[0] == 0:
        return None
    errors = error_lines(lines)
    shown = errors[-SHOWN_LINES:]
    text = "\n".join(lines)
    exc = last_exception(lines)

    # 1. A full disk.
    strong = [ln for ln in errors if NO_SPACE.search(ln)]
    weak = [ln for ln in errors if WRITE_ERROR.search(ln)]
    named = [Path(m.group(1)) for ln in strong for m in re.finditer(r"'([^']+)'", ln)]
    space = space_of(named[-1] if named else log.parent)
    if strong or (weak and space.nearly_full) or (end is None and space.nearly_full):
        how = (strong or weak or ["the log ends before run.pl's trailer (the job could not write it)"])[0].strip()
        cause = f"no space left on {space.describe()}; the job's error: {how}"
        cut = unloadable_models(log, lines)
        if cut:
            cause += "; cut by it: " + "; ".join(text for text, _ in cut)
        todo = (f"free space on {space.mount} (or give the recipe's outputs another disk: --expdir, --dumpdir), "
                "then rerun the same command: finished stages are skipped (stage 11 first repairs or quarantines "
                "model files cut by the full disk, then resumes the training from checkpoint.pth)")
        return Diagnosis(log, cause, todo, shown)

    # 2. Killed by a signal.
    signum = None
    if end is not None:
        code, signum = end
        if signum is None and code > 128 and exc is None:
            signum = code - 128
    if signum:
        name = signal_name(signum)
        meaning = SIGNAL_MEANING.get(name, "a signal from outside")
        code_text = f"exit code {end[0]}" if end else "no exit code"
        cause = f"killed by signal {signum} ({name}; {code_text}): {meaning}"
        todo = ("if it ran out of memory (see `dmesg | grep -i oom`, or the scheduler's record of the job), lower the "
                "batch size (--batch_bins / --batch_size) or ask for more memory; then rerun the same command: "
                "a training resumes from its last checkpoint.pth")
        if name != "SIGKILL":
            todo = "rerun the same command once the cause is gone: a training resumes from its last checkpoint.pth"
        trail = [ln for ln in lines[-3:] if _ENDED.match(ln)]
        return Diagnosis(log, cause, todo, shown + trail, rank=2 if name == "SIGTERM" else 1)

    # 3. A corrupt model file.
    if CORRUPT.search(text) or (exc and "torch/serialization.py" in text and "Errno 22" in exc[0]):
        bad = unloadable_models(log, lines)
        what = "; ".join(text for text, _ in bad) if bad else f"a file it loads ({exc[0] if exc else 'see the log'})"
        cause = f"corrupt file: {what}"
        exps = sorted({shown_path(real.parent) for _, real in bad if (real.parent / "config.yaml").is_file()})
        if exps:
            todo = (f"run `python3 -m espnet_warmup.recipe.stages.checkpoints check {' '.join(exps)}`: it rewrites an "
                    "epoch model cut while saving from checkpoint.pth, or moves the file to quarantine/ (never deletes "
                    "it) and says what can be done; then rerun stage 11 (first `rm <exp dir>/.done` if the training "
                    "was marked done): it resumes at the last epoch and writes the averaged models again")
        else:
            todo = ("make the file again from its source (a model of an exp dir: `python3 -m "
                    "espnet_warmup.recipe.stages.checkpoints check <exp dir>`, which stage 11 runs, then stage 11)")
        return Diagnosis(log, cause, todo, shown)

    # 4. A Python exception; 5. an exit status.
    if exc is not None:
        where = f" (raised at {exc[1]})" if exc[1] else ""
        cause = f"{exc[0]}{where}"
        todo = f"read the traceback at the end of {log}"
        return Diagnosis(log, cause, todo, shown)
    code_text = f"exit code {end[0]}" if end else "no run.pl trailer: the job did not finish writing its log"
    if errors:
        return Diagnosis(log, f"{errors[-1].strip()} ({code_text})", f"read {log}", shown)
    return Diagnosis(log, f"{code_text}; the log names no error", f"read {log}", shown)


def summarise(logs: list[Path], out=sys.stdout, max_logs: int = 3) -> int:
    """Print the diagnosis of each failed log (the first ``max_logs``); return how many failed."""
    failed = []
    missing = []
    for log in logs:
        if not log.is_file():
            missing.append(log)
            continue
        d = diagnose(log)
        if d is not None:
            failed.append(d)
    failed.sort(key=lambda d: d.rank)  # stable: the logs' order otherwise
    for log in missing:
        print(f"  no log at {log}", file=out)
    causes: dict[str, Path] = {}
    for d in failed[:max_logs]:
        if d.cause in causes:
            print(f"  {d.log}: the same cause as {causes[d.cause]}", file=out)
            continue
        causes[d.cause] = d.log
        print(f"  cause: {d.cause}", file=out)
        if d.lines:
            print(f"  last error lines of {d.log}:", file=out)
            for ln in d.lines:
                print(f"    {ln}", file=out)
        print(f"  what to do: {d.todo}", file=out)
    if len(failed) > max_logs:
        print(f"  ... and {len(failed) - max_logs} more failed log(s): "
              + " ".join(str(d.log) for d in failed[max_logs:]), file=out)
    return len(failed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m espnet_warmup.recipe.stages.failure",
                                     description="Say why a job failed, from its log(s).")
    parser.add_argument("logs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    summarise(args.logs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
