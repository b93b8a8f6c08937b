"""LibriSpeech (OpenSLR 12), English read speech: the tarballs extracted as published.

Text: upper-case, no punctuation except apostrophes -> lower-cased by the shared normaliser.
Speaker: the LibriSpeech speaker id (first field of the utterance id).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from espnet_warmup.recipe.data.base import CorpusReader, Excluded, LayoutError, CorpusUtterance, read_text_lines

LAYOUT = """\
  $LIBRISPEECH/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
      lines: <speaker>-<chapter>-<utt> TRANSCRIPT IN UPPER CASE
  $LIBRISPEECH/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
  <split>: train-clean-100 train-clean-360 train-other-500 | dev-clean dev-other | test-clean test-other
  ($LIBRISPEECH may also be the LibriSpeech/ directory itself)"""


class LibriSpeech(CorpusReader):
    name = "librispeech"
    db_var = "LIBRISPEECH"
    langs = {"en": "en"}
    splits = {
        "train-clean-100": "train", "train-clean-360": "train", "train-other-500": "train",
        "dev-clean": "dev", "dev-other": "dev",
        "test-clean": "test", "test-other": "test",
    }
    layout = LAYOUT

    def locate(self, root: Path, lang: str) -> Path:
        for cand in (root / "LibriSpeech", root):
            if cand.is_dir() and any((cand / s).is_dir() for s in self.splits):
                return cand
        raise LayoutError(f"librispeech: no LibriSpeech splits under {root}.\nExpected layout:\n{LAYOUT}")

    def has_split(self, lang_dir: Path, split: str) -> bool:
        return (lang_dir / split).is_dir()

    def read_split(self, lang_dir: Path, lang: str, split: str) -> Iterator[CorpusUtterance | Excluded]:
        for trans in sorted((lang_dir / split).glob("*/*/*.trans.txt")):
            for lineno, line, error in read_text_lines(trans):
                if not line.strip():
                    continue
                native, _, text = line.partition(" ")
                speaker, _, local = native.partition("-")
                audio = trans.parent / f"{native}.flac"
                yield self.text_record(lang, speaker, local, audio, text, f"{trans}:{lineno}", error)


READER = LibriSpeech()
