"""Kaldi data dirs: write ours (atomically), read any existing one (``--corpus kaldi:<dir>``).

A data dir written here holds, sorted in C order: ``wav.scp`` (``<utt> <audio path>``),
``text`` (``<utt> <lang tag> <normalised words>``, the tag being ``<en>``/``<it>`` as in the
paper's bilingual setup), ``utt2spk``, ``spk2utt``, ``utt2lang``, ``utt2dur`` and
``excluded.txt`` (``<utt>\\t<reason>\\t<file:line>``, one line per dropped utterance, empty when
none was dropped). It is written to ``<dir>.tmp`` and renamed, so an interrupted run never
leaves a half-written dir that a later run would take as finished. A part imported from a
segmented dir also holds ``wav/``, the cut segments its wav.scp points at (see
:mod:`espnet_warmup.recipe.data.segments`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

from espnet_warmup.recipe import datadir
from espnet_warmup.recipe.data.base import CorpusUtterance, Excluded, LayoutError, Segment, read_text_lines
from espnet_warmup.recipe.data.normalize import normalize_text
from espnet_warmup.recipe.data.segments import read_segments
from espnet_warmup.recipe.wavscp import is_archive_entry, is_file_entry

def write_data_dir(
    path: Path, utts: Iterable[CorpusUtterance], excluded: Iterable[Excluded] = (), signature: str = "",
    keep: Sequence[str] = (),
) -> Path:
    """Write ``utts`` as a Kaldi data dir at ``path`` (replacing it as a whole), with excluded.txt
    (the one writer: :func:`espnet_warmup.recipe.datadir.write_data_dir`).

    ``keep``: entries of the existing ``path`` moved into the new dir (the cut segments,
    which wav.scp points at); everything else of the old dir goes.
    """
    return datadir.write_data_dir(path, utts, excluded=list(excluded), signature=signature, keep=keep)


def _read_map(path: Path) -> dict[str, str]:
    # A user's file: the lenient reader (missing -> empty, bad bytes replaced, last repeat wins).
    return datadir.read_kv(path, strict=False)


def read_excluded(path: Path) -> list[Excluded]:
    out = []
    if (path / "excluded.txt").is_file():
        for _, line, _ in read_text_lines(path / "excluded.txt"):
            parts = line.split("\t")
            if len(parts) == 3:
                out.append(Excluded(*parts))
    return out


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
    wav = _read_map(path / "wav.scp")
    utt2spk = _read_map(path / "utt2spk")
    utt2lang = _read_map(path / "utt2lang")
    utt2dur = _read_map(path / "utt2dur")
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


def needs_probe(utt: CorpusUtterance) -> bool:
    """Whether the audio of ``utt`` is a plain file that soundfile can check."""
    return is_file_entry(utt.audio)
