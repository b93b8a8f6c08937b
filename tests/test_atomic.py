"""espnet_warmup.recipe.atomic: an output is either the old file or the complete new one."""

from __future__ import annotations

import os

import pytest

from espnet_warmup.recipe.atomic import atomic_output, atomic_write_text


def test_binary_output_replaces_the_file_only_when_the_block_succeeds(tmp_path):
    out = tmp_path / "sub" / "a.wav"
    with atomic_output(out, "wb") as f:
        f.write(b"RIFF first")
    assert out.read_bytes() == b"RIFF first"
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # not mkstemp's 0600
    with pytest.raises(RuntimeError, match="encoder died"):
        with atomic_output(out, "wb") as f:
            f.write(b"RIFF half")
            raise RuntimeError("encoder died")
    assert out.read_bytes() == b"RIFF first"  # the old file is untouched
    assert sorted(os.listdir(out.parent)) == ["a.wav"]  # and no temp file is left


def test_text_output_and_bad_mode(tmp_path):
    atomic_write_text(tmp_path / "t.txt", "héllo\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb', got 'a'"):
        with atomic_output(tmp_path / "x", "a"):
            pass
    assert not (tmp_path / "x").exists()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
