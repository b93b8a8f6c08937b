"""An existing Kaldi data dir as a source (``--corpus kaldi:<dir>[:<lang>]``), ours or anyone's.

:class:`KaldiDirReader` is the reader of one such dir: one part, named ``kaldi_<dir name>``, whose
role comes from the dir's name as Kaldi recipes name them (:func:`kaldi_role`). Its files are read
leniently (:func:`espnet_warmup.recipe.datadir.read_kv` with ``strict=False``: a user's dir may be
rough); a segmented dir's segments are cut by the driver (see
:mod:`espnet_warmup.recipe.data.segments`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from espnet_warmup.recipe import datadir
from espnet_warmup.recipe.data.base import (
    CorpusReader, CorpusUtterance, Excluded, LayoutError, Segment, read_text_lines,
)
from espnet_warmup.recipe.data.normalize import normalize_text
from espnet_warmup.recipe.data.segments import read_segments
from espnet_warmup.recipe.wavscp import is_archive_entry

#: the files of an imported Kaldi dir whose edits must redo its import
KALDI_FILES = ("wav.scp", "text", "segments", "utt2spk", "utt2lang", "utt2dur")
LAYOUT = "  <dir>/wav.scp text [utt2spk utt2lang utt2dur segments]   (a Kaldi data dir)"


def kaldi_role(path: Path) -> str:
    """Role of an imported Kaldi dir, from its name as Kaldi recipes name them:
    ``test*``/``eval*`` -> test, ``dev*``/``valid*`` -> dev, anything else -> train."""
    base = path.name.lower()
    if base.startswith(("test", "eval")):
        return "test"
    if base.startswith(("dev", "valid")):
        return "dev"
    return "train"


class KaldiDirReader(CorpusReader):
    """The reader of one Kaldi data dir ``path``; ``lang`` "" means: from each text's tag or utt2lang."""

    name = "kaldi"
    layout = LAYOUT

    def __init__(self, path: Path):
        self.path = Path(path)
        self.splits = {self.path.name: kaldi_role(self.path)}

    def label(self, lang: str) -> str:
        return f"kaldi:{self.path}"

    def part_name(self, lang: str, split: str) -> str:
        return "kaldi_" + self.path.name.replace("-", "_")

    def root(self, overrides: dict[str, str], label: str) -> Path:
        if not (self.path / "wav.scp").is_file() or not (self.path / "text").is_file():
            raise LayoutError(
                f"{label}: {self.path} is not a Kaldi data dir (needs wav.scp and text; "
                "optional utt2spk, utt2lang, utt2dur, segments)."
            )
        return self.path

    def locate(self, root: Path, lang: str) -> Path:
        return root

    def has_split(self, lang_dir: Path, split: str) -> bool:
        return True

    def read_split(self, lang_dir: Path, lang: str, split: str) -> Iterator[CorpusUtterance | Excluded]:
        return read_data_dir(lang_dir, lang)

    def source_files(self, lang_dir: Path) -> str:
        """Size and modification time of the dir's files: editing one (fixing a transcript) and
        rerunning local/data.sh redoes the import instead of silently keeping the old one."""
        stats = []
        for name in KALDI_FILES:
            try:
                st = (lang_dir / name).stat()
            except FileNotFoundError:
                continue
            stats.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        return " [" + " ".join(stats) + "]"


def read_data_dir(path: Path, default_lang: str = "") -> Iterator[CorpusUtterance | Excluded]:
    """Read a Kaldi data dir (ours or anyone's): wav.scp + text [+ utt2spk, utt2lang, utt2dur, segments].

    Texts are normalised like every other corpus (idempotent on ours); a leading ``<xx>``
    language tag is taken as the utterance's language. The language comes from, in order:
    the tag, utt2lang, ``default_lang``; an utterance with none is excluded with the reason.
    With a ``segments`` file, wav.scp is keyed by recording: each utterance then carries its
    :class:`~espnet_warmup.recipe.data.base.Segment` and, as ``audio``, its recording's wav.scp
    entry, to be cut by :func:`espnet_warmup.recipe.data.segments.cut_segments` (its utt2dur, if
    any, is not used: the cut gives the duration). An archive entry (``x.ark:123``, audio
    written by Kaldi's wav-copy or ESPnet's ark formats) gets a segment spanning its whole
    recording, so it is extracted to a wav file the same way.
    """
    for name in ("wav.scp", "text"):
        if not (path / name).is_file():
            raise LayoutError(f"kaldi: {path}/{name} is missing; a Kaldi data dir needs wav.scp and text.")
    wav = datadir.read_kv(path / "wav.scp", strict=False)
    utt2spk = datadir.read_kv(path / "utt2spk", strict=False)
    utt2lang = datadir.read_kv(path / "utt2lang", strict=False)
    utt2dur = datadir.read_kv(path / "utt2dur", strict=False)
    segments = None
    reported: set[str] = set()  # ids whose every segments line was excluded already
    if (path / "segments").is_file():
        segments, bad = read_segments(path / "segments", wav)
        yield from bad
        reported = {e.utt_id for e in bad} - segments.keys()
    seen: set[str] = set()
    for lineno, line, error in read_text_lines(path / "text"):
        utt, _, text = line.strip().partition(" ")
        if not utt:
            continue
        source = f"{path / 'text'}:{lineno}"
        seen.add(utt)
        if utt in reported:
            continue
        if error:
            yield Excluded(utt, error, source)
            continue
        words = text.split()
        lang = utt2lang.get(utt, default_lang)
        if words and datadir.tag_lang(words[0]):
            lang, words = datadir.tag_lang(words[0]), words[1:]
        segment = segments.get(utt) if segments is not None else None
        audio = wav.get(segment.recording if segment else utt)
        if segments is None and audio is not None and is_archive_entry(audio):
            # audio inside a Kaldi/ESPnet archive: extracted like a segment spanning its recording
            segment = Segment(utt, 0.0, None, None, f"{path / 'wav.scp'}")
        norm = normalize_text(" ".join(words))
        if segments is not None and segment is None:
            yield Excluded(utt, "no segments entry", source)
        elif audio is None:
            yield Excluded(utt, "no wav.scp entry", source)
        elif not norm:
            yield Excluded(utt, "empty transcript", source)
        elif not lang:
            yield Excluded(utt, "no language (no <xx> tag, no utt2lang entry, no kaldi:<dir>:<lang>)", source)
        else:
            dur = None if segment else utt2dur.get(utt)
            yield CorpusUtterance(utt, utt2spk.get(utt, utt), audio, norm, lang, source,
                            float(dur) if dur else None, segment=segment)
    if segments is not None:
        for utt, segment in segments.items():
            if utt not in seen:
                yield Excluded(utt, "no transcript (missing from text)", segment.source)
    else:
        for utt in wav.keys() - seen:
            yield Excluded(utt, "no transcript (missing from text)", f"{path / 'wav.scp'}")
