"""VoxPopuli transcribed ASR data, English and Italian, as written by the corpus's own
``voxpopuli/get_asr_data.py --root $VOXPOPULI --lang <lang>`` (facebookresearch/voxpopuli).

Text: the ``normalized_text`` column (lower-case, no punctuation), then the shared
normaliser. Speaker: ``speaker_id``. Audio: ``<year>/<id>.ogg`` with year = first 4
characters of the id (the session date), 16 kHz.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from espnet_warmup.recipe.data.base import CorpusReader, Excluded, LayoutError, CorpusUtterance, read_tsv_rows

LAYOUT = """\
  $VOXPOPULI/transcribed_data/<lang>/asr_train.tsv asr_dev.tsv asr_test.tsv
      tab-separated, header: id raw_text normalized_text speaker_id split gender [...]
  $VOXPOPULI/transcribed_data/<lang>/<year>/<id>.ogg      (<year> = first 4 characters of <id>)
  <lang>: en | it   (the layout produced by voxpopuli/get_asr_data.py)"""


class VoxPopuli(CorpusReader):
    name = "voxpopuli"
    db_var = "VOXPOPULI"
    langs = {"en": "en", "it": "it"}
    splits = {"train": "train", "dev": "dev", "test": "test"}
    layout = LAYOUT

    def locate(self, root: Path, lang: str) -> Path:
        code = self.langs[lang]
        for cand in (root / "transcribed_data" / code, root / code):
            if cand.is_dir():
                return cand
        raise LayoutError(f"voxpopuli ({lang}): no transcribed_data/{code}/ under {root}.\nExpected layout:\n{LAYOUT}")

    def has_split(self, lang_dir: Path, split: str) -> bool:
        return (lang_dir / f"asr_{split}.tsv").is_file()

    def read_split(self, lang_dir: Path, lang: str, split: str) -> Iterator[CorpusUtterance | Excluded]:
        tsv = lang_dir / f"asr_{split}.tsv"
        for lineno, row, error in read_tsv_rows(tsv, {"id", "normalized_text", "speaker_id"}, "voxpopuli", LAYOUT):
            seg = row.get("id", "")
            text = row.get("normalized_text", "") or row.get("raw_text", "")
            yield self.text_record(lang, row.get("speaker_id", ""), seg, lang_dir / seg[:4] / f"{seg}.ogg",
                                   text, f"{tsv}:{lineno}", error)


READER = VoxPopuli()
