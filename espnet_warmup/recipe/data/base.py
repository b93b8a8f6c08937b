"""Records, errors and small helpers shared by the corpus readers.

A reader yields :class:`CorpusUtterance` records (one per usable utterance) and :class:`Excluded`
records (one per utterance it had to drop, with the reason), so that one bad file never stops
the preparation of a corpus, and every dropped utterance is listed in ``excluded.txt``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

#: The split roles: training data, validation data (ESPnet's --valid_set) and test sets.
ROLES = ("train", "dev", "test")


@dataclass(frozen=True)
class Segment:
    """Where a segmented Kaldi dir's utterance lies in its recording (a ``segments`` line).

    recording: the recording id (a key of wav.scp).
    start, end: seconds; ``end`` None means to the end of the recording (Kaldi's ``-1``).
    channel: the 0-based channel to keep (the optional 5th field), None for all channels.
    source: the ``segments`` file and line, for reports.
    """

    recording: str
    start: float
    end: float | None
    channel: int | None
    source: str


@dataclass(frozen=True)
class CorpusUtterance:
    """One utterance of a Kaldi data dir.

    utt_id: ``<speaker>-<local id>`` (Kaldi wants the speaker as prefix, so that sorting
        utterances and speakers gives the same order); unique across all corpora because
        the speaker starts with ``<corpus>_<lang>``.
    speaker: ``<corpus>_<lang>-<speaker in the corpus>``.
    audio: absolute path of the audio file (wav, flac, ogg/opus or mp3: soundfile reads all).
    text: the normalised transcript, without the language tag.
    lang: ISO 639-1 code (``en``, ``it``).
    source: where the record came from, ``file:line``, for reports.
    duration: seconds, filled in by :func:`espnet_warmup.recipe.data.audio.probe_all` (or by
        :func:`espnet_warmup.recipe.data.segments.cut_segments`).
    segment: for an utterance of a segmented Kaldi dir not yet cut, its place in the
        recording (``audio`` is then the recording's wav.scp entry); None otherwise.
    """

    utt_id: str
    speaker: str
    audio: str
    text: str
    lang: str
    source: str
    duration: float | None = None
    sample_rate: int | None = None
    segment: Segment | None = None

    def with_audio_info(self, duration: float, sample_rate: int) -> "CorpusUtterance":
        return replace(self, duration=duration, sample_rate=sample_rate)


@dataclass(frozen=True)
class Excluded:
    """An utterance left out of a data dir: its id, why, and where it came from."""

    utt_id: str
    reason: str
    source: str

    def line(self) -> str:
        return f"{self.utt_id}\t{self.reason}\t{self.source}"

    @classmethod
    def read_all(cls, data_dir: Path) -> "list[Excluded]":
        """The records of ``<data_dir>/excluded.txt`` (none when it is absent)."""
        path = data_dir / "excluded.txt"
        if not path.is_file():
            return []
        rows = (line.split("\t") for _, line, _ in read_text_lines(path))
        return [cls(*parts) for parts in rows if len(parts) == 3]


class DataPrepError(Exception):
    """Input that data prep cannot use, or a state it must not overwrite; the message says what to do
    (local/data.sh prints it and exits 1)."""


class LayoutError(DataPrepError, RuntimeError):
    """A corpus root that is missing or does not have the published layout."""


class CorpusSpecError(DataPrepError, ValueError):
    """A --corpus value that names no known corpus or language."""


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.]")


def safe_id(value: str) -> str:
    """Map a corpus's speaker/utterance name to Kaldi-safe characters.

    Only ``[A-Za-z0-9_.]`` survive; anything else (``-``, ``:``, spaces) becomes ``_``,
    because ``-`` is reserved as the separator between speaker and utterance parts: it sorts
    before every kept character, which keeps utt2spk and spk2utt in the same order.
    """
    return _UNSAFE_ID.sub("_", value.strip()) or "unknown"


_UNSAFE_LOCAL = re.compile(r"[^A-Za-z0-9_.-]")


def make_ids(corpus: str, lang: str, speaker: str, local_id: str) -> tuple[str, str]:
    """(utt_id, speaker_id) for ``speaker``'s utterance ``local_id`` in ``corpus``/``lang``.

    The local part may keep ``-`` (it comes after the speaker, so it cannot break the
    utt2spk/spk2utt order). An empty ``local_id`` means one utterance per speaker (corpora
    without speaker labels): the utterance id then equals the speaker id, Kaldi's convention.
    """
    spk = f"{corpus}_{lang}-{safe_id(speaker)}"
    local = _UNSAFE_LOCAL.sub("_", local_id.strip())
    return (f"{spk}-{local}" if local else spk), spk


def read_text_lines(path: Path) -> Iterator[tuple[int, str, str]]:
    """Yield ``(line number, line, error)`` for each line of a metadata file.

    Lines are decoded one by one as UTF-8, so one badly encoded line is reported
    (``error`` = ``transcript is not valid UTF-8 ...``) instead of failing the whole file;
    the line is then decoded with replacement characters, enough to name its utterance.
    """
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            raw = raw.rstrip(b"\r\n")
            try:
                yield lineno, raw.decode("utf-8"), ""
            except UnicodeDecodeError as e:
                where = f"byte 0x{raw[e.start]:02x} at column {e.start + 1}"
                yield lineno, raw.decode("utf-8", "replace"), f"transcript is not valid UTF-8 ({where})"


def read_tsv_rows(tsv: Path, required: set[str], corpus: str, layout: str) -> Iterator[tuple[int, dict, str]]:
    """Yield ``(line number, row as {column: value}, error)`` for each data line of a headered TSV.

    The first line is the header; a header lacking a ``required`` column raises
    :class:`LayoutError` naming the columns and showing ``layout``. Blank lines are skipped;
    ``error`` is :func:`read_text_lines`' per-line decoding error.
    """
    columns: list[str] = []
    for lineno, line, error in read_text_lines(tsv):
        fields = line.split("\t")
        if not columns:
            columns = fields
            missing = required - set(columns)
            if missing:
                raise LayoutError(
                    f"{corpus}: {tsv} lacks the column(s) {', '.join(sorted(missing))} "
                    f"(header: {' '.join(columns)}).\nExpected layout:\n{layout}"
                )
            continue
        if line.strip():
            yield lineno, dict(zip(columns, fields)), error


def require_dir(path: Path, what: str, layout: str) -> Path:
    """Return ``path`` if it is a directory, else raise :class:`LayoutError` showing ``layout``."""
    if not path.is_dir():
        raise LayoutError(f"{what}: {path} does not exist or is not a directory.\nExpected layout:\n{layout}")
    return path


class CorpusReader:
    """What every corpus module provides (one subclass per corpus, a module-level instance).

    pipeline: which steps of the driver prepare it (:mod:`espnet_warmup.recipe.data.prepare`).
    name: the corpus part of ``--corpus <name>_<lang>`` and of utterance ids.
    db_var: the db.sh variable holding the corpus root.
    langs: our language code -> the corpus's own name for it (directory or code).
    splits: the standard splits, in order, each with its role (train, dev or test).
    layout: the expected on-disk layout, shown when a root is wrong.
    """

    pipeline = "corpora"
    name: str = ""
    db_var: str = ""
    langs: dict[str, str] = {}
    splits: dict[str, str] = {}
    layout: str = ""

    def label(self, lang: str) -> str:
        """How reports name this corpus in ``lang``: ``<name>_<lang>``."""
        return f"{self.name}_{lang}"

    def part_name(self, lang: str, split: str) -> str:
        """Name of one prepared part: ``<corpus>_<lang>_<split>`` (``-`` -> ``_``)."""
        return f"{self.name}_{lang}_{split.replace('-', '_')}"

    def root(self, overrides: dict[str, str], label: str) -> Path:
        """The corpus root: ``overrides[db_var]`` (``--db``), else the db.sh variable in the
        environment; LayoutError naming the variable if unset or not a directory."""
        value = overrides.get(self.db_var, os.environ.get(self.db_var, ""))
        if not value:
            raise LayoutError(f"{label}: {self.db_var} is not set (set it in db.sh).\nExpected layout:\n{self.layout}")
        root = Path(value)
        if not root.is_dir():
            raise LayoutError(
                f"{label}: corpus root {self.db_var}={value} does not exist (set {self.db_var} in db.sh).\n"
                f"Expected layout:\n{self.layout}"
            )
        return root

    def source_files(self, lang_dir: Path) -> str:
        """Extra words for a part's signature naming the state of the source files ("" for a
        published corpus, identified by its root; see the Kaldi-dir reader)."""
        return ""

    def check(self, lang_dir: Path) -> None:
        """Refuse input that must not be imported at all, before any part is written: raise
        :class:`DataPrepError` or :class:`~espnet_warmup.recipe.datadir.DataDirError` (the
        Kaldi-dir reader: a duplicate id, a line that is not UTF-8). Nothing to check by default:
        a published corpus's bad rows exclude single utterances."""

    def locate(self, root: Path, lang: str) -> Path:
        """The directory holding ``lang``'s splits under ``root``; LayoutError if absent."""
        raise NotImplementedError

    def has_split(self, lang_dir: Path, split: str) -> bool:
        raise NotImplementedError

    def read_split(self, lang_dir: Path, lang: str, split: str) -> Iterator[CorpusUtterance | Excluded]:
        """Yield one record per utterance listed in ``split``'s metadata (audio not yet checked)."""
        raise NotImplementedError

    def available_splits(self, root: Path, lang: str) -> tuple[Path, dict[str, str]]:
        """(language dir, {split: role}) of the standard splits present; LayoutError if none."""
        lang_dir = self.locate(root, lang)
        found = {s: r for s, r in self.splits.items() if self.has_split(lang_dir, s)}
        if not found:
            raise LayoutError(
                f"{self.name} ({lang}): none of the standard splits ({', '.join(self.splits)}) "
                f"found under {lang_dir}.\nExpected layout:\n{self.layout}"
            )
        return lang_dir, found

    def text_record(
        self, lang: str, speaker: str, local_id: str, audio: Path, text: str, source: str, error: str = ""
    ) -> CorpusUtterance | Excluded:
        """Build the record for one metadata row: a CorpusUtterance, or Excluded for a bad transcript."""
        from espnet_warmup.recipe.data.normalize import normalize_text

        utt_id, spk = make_ids(self.name, lang, speaker, local_id)
        if error:
            return Excluded(utt_id, error, source)
        norm = normalize_text(text)
        if not norm:
            why = "empty transcript" if not text.strip() else f"empty transcript after normalisation ({text!r})"
            return Excluded(utt_id, why, source)
        return CorpusUtterance(utt_id, spk, str(audio), norm, lang, source)
