"""``tail -F`` of a log file, by complete lines: what the live monitor reads train.log with.

A :class:`LogFollower` is polled; each :meth:`LogFollower.read` returns the lines completed
since the last one. It copes with what happens to a training log between two polls:

* the file does not exist yet (the job has not started writing): nothing is read;
* the file is replaced (a new inode: ``run.pl`` rewrites ``train.log`` for the resumed job) or
  truncated (shorter than what was read): reading restarts at its beginning, and ``read``
  says so, so that the caller can drop what it derived from the old content;
* the file is *stale*: last written before ``written_after`` (the job's start), so it is an
  earlier job's log (say, the diverged run being resumed). It is not read until it changes
  (inode, size or mtime), and then it is read from its beginning.

A line still being written (no newline yet) is held back until it is complete;
:meth:`LogFollower.rest` hands it over at the end. Cost: one ``stat`` and one ``read`` of the
new bytes per poll.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

# Clock slack between the job's start time (/proc ticks) and file mtimes.
STALE_SLACK_S = 1.0


class LogFollower:
    """Follow ``path`` as it grows (see the module docstring)."""

    def __init__(self, path: str | Path, written_after: float | None = None):
        self.path = Path(path)
        self._fh: IO[str] | None = None
        self._pos = 0
        self._buf = ""
        self._stale: os.stat_result | None = None
        if written_after is not None and self.path.is_file():
            st = os.stat(self.path)
            if st.st_mtime < written_after - STALE_SLACK_S:
                self._stale = st

    @property
    def stale(self) -> bool:
        """True while the file is an earlier job's (unchanged since before ``written_after``)."""
        return self._stale is not None

    def _still_stale(self) -> bool:
        if self._stale is not None and self.path.is_file():
            st = os.stat(self.path)
            old = self._stale
            if (st.st_ino, st.st_size, st.st_mtime) != (old.st_ino, old.st_size, old.st_mtime):
                self._stale = None  # rewritten by the new job: read it from the start
        return self._stale is not None

    def read(self) -> tuple[bool, list[str]]:
        """``(restarted, lines)``: the lines completed since the last call (without their
        newlines); ``restarted`` when the file was replaced or truncated since, in which case
        the lines are read from its beginning."""
        if self._still_stale():
            return False, []
        if self._fh is None:
            if not self.path.is_file():
                return False, []
            self._fh = open(self.path, errors="replace")
        try:
            st = os.stat(self.path)
        except FileNotFoundError:  # removed; a new file may appear under the name later
            st = None
        replaced = st is not None and st.st_ino != os.fstat(self._fh.fileno()).st_ino
        if replaced:
            self._fh.close()
            self._fh = open(self.path, errors="replace")
        restarted = replaced or os.fstat(self._fh.fileno()).st_size < self._pos
        if restarted:
            self._fh.seek(0)
            self._pos, self._buf = 0, ""
        self._buf += self._fh.read()
        self._pos = self._fh.tell()
        *lines, self._buf = self._buf.split("\n")
        return restarted, lines

    def rest(self) -> str:
        """The last, unterminated line (once; '' if none): call when the writer has ended.

        It is not a complete record (the writer stopped mid-line): feed it to
        :meth:`espnet_warmup.recipe.analysis.logs.TrainLogParser.feed` with ``complete=False``,
        which counts and reports it instead of reading a cut number as data."""
        rest, self._buf = self._buf, ""
        return rest

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
