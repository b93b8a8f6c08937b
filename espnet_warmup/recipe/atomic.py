"""Atomic file writes: a reader sees the old file or the complete new one, never a half.

Why: recipe stages skip work whose outputs exist; a scorer killed mid-write must not
leave a truncated ``result.txt`` or ``scores.json`` that a rerun takes as done.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temp file beside ``path`` (``mode`` "w" for UTF-8 text, "wb" for bytes); when
    the block ends without an error, fsync it and rename it over ``path``; on any error,
    remove it, so nothing is left behind that looks like an output."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; give it the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_output`)."""
    with atomic_output(path, "w") as f:
        f.write(text)


@contextmanager
def atomic_dir(path: str | Path, keep: tuple[str, ...] | list[str] = ()) -> Iterator[Path]:
    """Build a directory in a temp dir beside ``path`` and, when the block ends without an
    error, put it in place of ``path`` (whose old content goes); on any error, remove it.

    ``keep``: entries of the old ``path`` moved into the new dir before the swap (e.g. large
    derived files the new content still points at). Why: a data dir is one unit; a reader
    (or a rerun looking for the ``.done`` marker written inside) must see the old dir or the
    whole new one. The swap is two renames (old aside, new in), so a crash between them
    leaves no dir at ``path``, which a rerun treats as not made yet.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for name in keep:
            if (path / name).exists():
                os.replace(path / name, tmp / name)
        os.chmod(tmp, 0o777 & ~_current_umask())
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
