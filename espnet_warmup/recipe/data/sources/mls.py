"""Multilingual LibriSpeech (OpenSLR 94), English and Italian, flac or opus release.

Text: already lower-case without punctuation; the shared normaliser leaves it as is.
Speaker: the MLS speaker id (first field of ``<speaker>_<book>_<segment>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from espnet_warmup.recipe.data.base import CorpusReader, Excluded, LayoutError, CorpusUtterance, read_text_lines

LAYOUT = """\
  $MLS/mls_<language>/<split>/transcripts.txt
      lines: <speaker>_<book>_<segment><TAB>transcript
  $MLS/mls_<language>/<split>/audio/<speaker>/<book>/<speaker>_<book>_<segment>.flac
  <language>: english | italian   (the opus release, mls_<language>_opus/ with *.opus, is also read)
  <split>: train | dev | test"""


class MLS(CorpusReader):
    name = "mls"
    db_var = "MLS"
    langs = {"en": "english", "it": "italian"}
    splits = {"train": "train", "dev": "dev", "test": "test"}
    layout = LAYOUT

    def locate(self, root: Path, lang: str) -> Path:
        # The flac release is preferred when both are present (no lossy re-decoding).
        for suffix in ("", "_opus"):
            cand = root / f"mls_{self.langs[lang]}{suffix}"
            if cand.is_dir():
                return cand
        raise LayoutError(
            f"mls ({lang}): neither {root}/mls_{self.langs[lang]} nor {root}/mls_{self.langs[lang]}_opus "
            f"exists.\nExpected layout:\n{LAYOUT}"
        )

    def has_split(self, lang_dir: Path, split: str) -> bool:
        return (lang_dir / split / "transcripts.txt").is_file()

    def read_split(self, lang_dir: Path, lang: str, split: str) -> Iterator[CorpusUtterance | Excluded]:
        ext = ".opus" if lang_dir.name.endswith("_opus") else ".flac"
        transcripts = lang_dir / split / "transcripts.txt"
        for lineno, line, error in read_text_lines(transcripts):
            if not line.strip():
                continue
            native, _, text = line.partition("\t")
            speaker, book = (native.split("_") + ["", ""])[:2]
            audio = lang_dir / split / "audio" / speaker / book / f"{native}{ext}"
            local = native[len(speaker) + 1:]
            yield self.text_record(lang, speaker, local, audio, text, f"{transcripts}:{lineno}", error)


READER = MLS()
