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

import os
import shutil
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from espnet_warmup.recipe.data.base import Excluded, LayoutError, Segment, Utterance, read_text_lines
from espnet_warmup.recipe.data.normalize import normalize_text
from espnet_warmup.recipe.data.segments import read_segments
from espnet_warmup.recipe.wavscp import is_archive_entry, is_file_entry

#: marker written last into a finished data dir (with what it was made from)
DONE = ".done"


def lang_tag(lang: str) -> str:
    """The language token that starts every transcript: ``<en>``, ``<it>``."""
    return f"<{lang}>"


def _c_order(key: str) -> bytes:
    # LC_ALL=C sort order (byte order of UTF-8), what Kaldi's tools check.
    return key.encode("utf-8")


def write_data_dir(
    path: Path, utts: Iterable[Utterance], excluded: Iterable[Excluded] = (), signature: str = "",
    keep: Sequence[str] = (),
) -> Path:
    """Write ``utts`` as a Kaldi data dir at ``path`` (replacing it), plus excluded.txt.

    ``keep``: entries of the existing ``path`` moved into the new dir (the cut segments,
    which wav.scp points at); everything else of the old dir goes.
    """
    utts = sorted(utts, key=lambda u: _c_order(u.utt_id))
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    def write(name: str, lines: Iterable[str]) -> None:
        with open(tmp / name, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")

    write("wav.scp", (f"{u.utt_id} {u.audio}" for u in utts))
    write("text", (f"{u.utt_id} {lang_tag(u.lang)} {u.text}" for u in utts))
    write("utt2spk", (f"{u.utt_id} {u.speaker}" for u in utts))
    write("utt2lang", (f"{u.utt_id} {u.lang}" for u in utts))
    if all(u.duration is not None for u in utts):
        write("utt2dur", (f"{u.utt_id} {u.duration:.3f}" for u in utts))
    spk2utt: dict[str, list[str]] = {}
    for u in utts:
        spk2utt.setdefault(u.speaker, []).append(u.utt_id)
    write("spk2utt", (f"{s} {' '.join(ids)}" for s, ids in sorted(spk2utt.items(), key=lambda kv: _c_order(kv[0]))))
    write("excluded.txt", (e.line() for e in excluded))
    for name in keep:
        if (path / name).exists():
            os.replace(path / name, tmp / name)
    write(DONE, [signature])
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def is_done(path: Path, signature: str) -> bool:
    """True if ``path`` is a finished data dir made from the same inputs (``signature``)."""
    marker = path / DONE
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == signature.strip()


def _read_map(path: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    if path.is_file():
        for _, line, _ in read_text_lines(path):
            key, _, value = line.strip().partition(" ")
            if key:
                table[key] = value.strip()
    return table


def read_excluded(path: Path) -> list[Excluded]:
    out = []
    if (path / "excluded.txt").is_file():
        for _, line, _ in read_text_lines(path / "excluded.txt"):
            parts = line.split("\t")
            if len(parts) == 3:
                out.append(Excluded(*parts))
    return out


def read_data_dir(path: Path, default_lang: str = "") -> Iterator[Utterance | Excluded]:
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
        if words and words[0].startswith("<") and words[0].endswith(">") and len(words[0]) > 2:
            lang, words = words[0][1:-1], words[1:]
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
            yield Utterance(utt, utt2spk.get(utt, utt), audio, norm, lang, source,
                            float(dur) if dur else None, segment=segment)
    if segments is not None:
        for utt, segment in segments.items():
            if utt not in seen:
                yield Excluded(utt, "no transcript (missing from text)", segment.source)
    else:
        for utt in wav.keys() - seen:
            yield Excluded(utt, "no transcript (missing from text)", f"{path / 'wav.scp'}")


def needs_probe(utt: Utterance) -> bool:
    """Whether the audio of ``utt`` is a plain file that soundfile can check."""
    return is_file_entry(utt.audio)
