"""Reading wav.scp entries: file paths, Kaldi pipes (``cmd |``) and archive offsets (``x.ark:123``).

:func:`audio_source` turns any entry into something soundfile opens, the one place where the
three kinds are told apart.

Kaldi and ESPnet can keep audio in archives: ``wav-copy`` writes wav data into an ark
(Kaldi's ``RIFF`` payload), and ESPnet's format stage with ``--audio_format flac.ark`` /
``wav.ark`` writes kaldiio's ``AUDIO`` payload. wav.scp then points at byte offsets. Both
kinds are read here with kaldiio (an ESPnet dependency); a binary matrix at the offset
(features, not audio) is refused with a reason.

Everything else in the project reads files with soundfile and pipes by running them, so an
archive entry can also be turned into a pipe that writes a wav to stdout::

    python3 -m espnet_warmup.recipe.wavscp '/path/to/x.ark:123' | sox -t wav - ...
"""

from __future__ import annotations

import io
import os
import shlex
import sys


class ArchiveError(Exception):
    """The audio at an archive offset cannot be read; the message says why."""


class CommandError(Exception):
    """A pipe entry's command failed: ``returncode`` (negative: killed by that signal), ``stderr``."""

    def __init__(self, returncode: int, stderr: str):
        super().__init__(f"exit {returncode}")
        self.returncode, self.stderr = returncode, stderr


def is_pipe_entry(entry: str) -> bool:
    return entry.endswith("|")


def is_archive_entry(entry: str) -> bool:
    """Whether a wav.scp value is an archive offset ``path:<byte offset>`` (not a pipe)."""
    if is_pipe_entry(entry):
        return False
    head, sep, tail = entry.rpartition(":")
    return bool(sep and head and tail.isdigit())


def is_file_entry(entry: str) -> bool:
    """Whether a wav.scp value is a plain file path (neither a pipe nor an archive offset)."""
    return not is_pipe_entry(entry) and not is_archive_entry(entry)


def audio_source(entry: str) -> str | io.BytesIO:
    """What soundfile can open for a wav.scp value: the path itself for a file (existence is
    the caller's check), else the audio bytes of the pipe's stdout or of the archive offset.
    Raises :class:`CommandError` or :class:`ArchiveError`."""
    import subprocess

    if is_pipe_entry(entry):
        proc = subprocess.run(entry[:-1].strip(), shell=True, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            raise CommandError(proc.returncode, proc.stderr.decode("utf-8", "replace"))
        return io.BytesIO(proc.stdout)
    if is_archive_entry(entry):
        return io.BytesIO(archive_entry_wav_bytes(entry))
    return entry


def load_archive_entry(entry: str):
    """(samples, rate) of the audio at an archive offset: samples as stored (int16 for
    Kaldi's wav payload, float in [-1, 1] for kaldiio's soundfile payload), shape
    (frames,) or (frames, channels). Raises :class:`ArchiveError`."""
    import kaldiio
    import numpy as np

    path = entry.rpartition(":")[0]
    if not os.path.isfile(path):
        raise ArchiveError(f"archive file missing: {path}")
    try:
        value = kaldiio.load_mat(entry)
    except Exception as err:  # kaldiio asserts/decodes its way through a bad offset
        detail = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise ArchiveError(f"no audio at this archive offset ({detail})") from None
    if not isinstance(value, tuple):
        raise ArchiveError("the archive holds a matrix at this offset (features?), not audio")
    rate, data = (value[0], value[1]) if isinstance(value[0], int) else (value[1], value[0])
    data = np.asarray(data)
    if data.size == 0:
        raise ArchiveError("no samples")
    return data, int(rate)


def archive_entry_wav_bytes(entry: str) -> bytes:
    """The audio at an archive offset as a complete wav file: 16-bit PCM when the samples are
    16-bit values (stored as int16, or as float k/32768), else 32-bit float, so no precision
    is lost."""
    import numpy as np
    import soundfile

    data, rate = load_archive_entry(entry)
    if data.dtype.kind == "f":
        # kaldiio's soundfile payload is read back as float = int16 / 32768: undo it exactly
        scaled = data * 32768.0
        if np.all(np.isfinite(scaled)) and np.all(scaled == np.round(scaled)) and \
                scaled.min() >= -32768 and scaled.max() <= 32767:
            data = scaled.astype(np.int16)
    buf = io.BytesIO()
    subtype = "PCM_16" if data.dtype == np.int16 else "FLOAT"
    soundfile.write(buf, data, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def archive_pipe(entry: str) -> str:
    """A wav.scp pipe entry (``cmd |``) that yields the same audio as archive entry ``entry``."""
    return f"python3 -m espnet_warmup.recipe.wavscp {shlex.quote(entry)} |"  # python3 of path.sh, as everywhere in asr.sh


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: python -m espnet_warmup.recipe.wavscp <x.ark:offset>   (writes the audio there as wav to stdout)",
              file=sys.stderr)
        return 2
    try:
        data = archive_entry_wav_bytes(argv[0])
    except ArchiveError as err:
        print(f"espnet_warmup.recipe.wavscp: {argv[0]}: {err}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
