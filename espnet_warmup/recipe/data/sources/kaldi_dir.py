"""An existing Kaldi data dir as a source (``--corpus kaldi:<dir>[:<lang>]``), ours or anyone's.

:class:`KaldiDirReader` is the reader of one such dir: one part, named ``kaldi_<dir name>``, whose
role comes from the dir's name as Kaldi recipes name them (:func:`kaldi_role`). Its files are read
with the one Kaldi-table reader (:func:`espnet_warmup.recipe.datadir.read_table`): a duplicate id
in any of them, or a line that is not UTF-8, refuses the whole dir (:class:`DataDirError` naming
the file and both lines) before anything is written (:meth:`KaldiDirReader.check`), because
either choice of the two lines could pair one utterance's transcript with another's audio.
Problems of single utterances (no transcript, no language, bad audio...) exclude just those.
A segmented dir's segments are cut, and the command of each ``cmd |`` entry is run once, by the
driver (see :mod:`espnet_warmup.recipe.data.segments`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from espnet_warmup.recipe import datadir
from espnet_warmup.recipe.data.base import CorpusReader, CorpusUtterance, Excluded, LayoutError, Segment
from espnet_warmup.recipe.data.normalize import normalize_text
from espnet_warmup.recipe.data.segments import read_segments
from espnet_warmup.recipe.wavscp import is_archive_entry

#: the files of an imported Kaldi dir whose edits must redo its import (all read, all checked)
KALDI_FILES = ("wav.scp", "text", "segments", "utt2spk", "utt2lang", "utt2dur")
REQUIRED = ("wav.scp", "text")
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

    def check(self, lang_dir: Path) -> None:
        """Read every file of the dir (raises DataDirError for a duplicate id or a non-UTF-8 line)."""
        self._tables = (lang_dir, self.source_files(lang_dir), read_tables(lang_dir))

    def read_split(self, lang_dir: Path, lang: str, split: str) -> Iterator[CorpusUtterance | Excluded]:
        cached = getattr(self, "_tables", None)
        fresh = cached is not None and cached[:2] == (lang_dir, self.source_files(lang_dir))
        return read_data_dir(lang_dir, lang, tables=cached[2] if fresh else None)

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


def _duration(value: str | None) -> float | None:
    """An utt2dur value as seconds; None (measured from the audio instead) if absent or not a positive number."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds > 0 else None


def read_tables(path: Path) -> dict[str, datadir.KvFile]:
    """Every file of :data:`KALDI_FILES` in ``path`` (an absent optional one reads as empty), each
    by the one reader: :class:`~espnet_warmup.recipe.datadir.DataDirError` for a duplicate id
    (file:line of the first and of the repeat) or a line that is not UTF-8."""
    for name in REQUIRED:
        if not (path / name).is_file():
            raise LayoutError(f"kaldi: {path}/{name} is missing; a Kaldi data dir needs wav.scp and text.")
    tables, problems = {}, []
    for name in KALDI_FILES:  # every file read, so that one run names the problems of all of them
        try:
            tables[name] = datadir.read_table(path / name, missing_ok=name not in REQUIRED)
        except datadir.DataDirError as err:
            problems += err.problems
    if problems:
        raise datadir.DataDirError(problems)
    return tables


def read_data_dir(path: Path, default_lang: str = "",
                  tables: dict[str, datadir.KvFile] | None = None) -> Iterator[CorpusUtterance | Excluded]:
    """Read a Kaldi data dir (ours or anyone's): wav.scp + text [+ utt2spk, utt2lang, utt2dur, segments].

    Its files are read by :func:`read_tables` (or given as ``tables``, read so already): a
    duplicate id or undecodable line raises before the first record. Texts are normalised like
    every other corpus (idempotent on ours); a leading ``<xx>`` language tag is taken as the
    utterance's language. The language comes from, in order: the tag, utt2lang,
    ``default_lang``; an utterance with none is excluded with the reason.
    With a ``segments`` file, wav.scp is keyed by recording: each utterance then carries its
    :class:`~espnet_warmup.recipe.data.base.Segment` and, as ``audio``, its recording's wav.scp
    entry, to be cut by :func:`espnet_warmup.recipe.data.segments.cut_segments` (its utt2dur, if
    any, is not used: the cut gives the duration). An archive entry (``x.ark:123``, audio
    written by Kaldi's wav-copy or ESPnet's ark formats) gets a segment spanning its whole
    recording, so it is extracted to a wav file the same way. A ``cmd |`` entry of an
    unsegmented dir stays as it is; the driver runs it once to check it
    (:func:`espnet_warmup.recipe.data.segments.probe_pipes`).
    """
    tables = read_tables(path) if tables is None else tables
    wav, text = tables["wav.scp"].values, tables["text"]
    utt2spk, utt2lang, utt2dur = (tables[n].values for n in ("utt2spk", "utt2lang", "utt2dur"))
    has_utt2spk = (path / "utt2spk").is_file()
    segments = None
    reported: set[str] = set()  # ids whose segments line was excluded already
    if (path / "segments").is_file():
        segments, bad = read_segments(tables["segments"], wav)
        yield from bad
        reported = {e.utt_id for e in bad}
    for utt, value in text.values.items():
        source = f"{text.path}:{text.lines[utt]}"
        if utt in reported:
            continue
        words = value.split()
        lang = utt2lang.get(utt, default_lang)
        if words and datadir.tag_lang(words[0]):
            lang, words = datadir.tag_lang(words[0]), words[1:]
        segment = segments.get(utt) if segments is not None else None
        audio = wav.get(segment.recording if segment else utt)
        if segments is None and audio is not None and is_archive_entry(audio):
            # audio inside a Kaldi/ESPnet archive: extracted like a segment spanning its recording
            segment = Segment(utt, 0.0, None, None, f"{path / 'wav.scp'}:{tables['wav.scp'].lines[utt]}")
        norm = normalize_text(" ".join(words))
        if segments is not None and segment is None:
            yield Excluded(utt, "no segments entry", source)
        elif audio is None:
            yield Excluded(utt, "no wav.scp entry", source)
        elif not audio.strip():
            yield Excluded(utt, "wav.scp entry missing (the line has the id only)",
                           f"{path / 'wav.scp'}:{tables['wav.scp'].lines[utt]}")
        elif not norm:
            yield Excluded(utt, "empty transcript", source)
        elif has_utt2spk and utt not in utt2spk:
            yield Excluded(utt, "missing from utt2spk (it lists other utterances only)", source)
        elif not lang:
            yield Excluded(utt, "no language (no <xx> tag, no utt2lang entry, no kaldi:<dir>:<lang>)", source)
        else:
            dur = None if segment else _duration(utt2dur.get(utt))
            yield CorpusUtterance(utt, utt2spk.get(utt, utt), audio, norm, lang, source, dur, segment=segment)
    if segments is not None:
        for utt, segment in segments.items():
            if utt not in text.values:
                yield Excluded(utt, "no transcript (missing from text)", segment.source)
    else:
        lines = tables["wav.scp"].lines
        for utt in (u for u in wav if u not in text.values):
            yield Excluded(utt, "no transcript (missing from text)", f"{path / 'wav.scp'}:{lines[utt]}")
