"""FLEURS (google/fleurs on the Hugging Face hub), English (en_us) and Italian (it_it).

Layout as in the dataset repository's ``data/<lang_code>/`` with ``audio/<split>.tar.gz``
extracted in place. Text: the 4th TSV column (FLEURS's normalised transcription: lower-case,
punctuation removed), falling back to the raw transcription when it is empty, then the shared
normaliser. FLEURS has no speaker labels: each utterance is its own speaker (Kaldi convention).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from espnet_warmup.recipe.data.base import CorpusReader, Excluded, LayoutError, CorpusUtterance, read_text_lines

LAYOUT = """\
  $FLEURS/<lang_code>/train.tsv dev.tsv test.tsv
      tab-separated, no header: id, file name, raw transcription, transcription (normalised),
      characters, number of samples, gender
  $FLEURS/<lang_code>/audio/<split>/<file name>        (wav, 16 kHz; from audio/<split>.tar.gz)
  <lang_code>: en_us | it_it   ($FLEURS may also be the hub repository root holding data/<lang_code>/)"""


class Fleurs(CorpusReader):
    name = "fleurs"
    db_var = "FLEURS"
    langs = {"en": "en_us", "it": "it_it"}
    splits = {"train": "train", "dev": "dev", "test": "test"}
    layout = LAYOUT

    def locate(self, root: Path, lang: str) -> Path:
        code = self.langs[lang]
        for cand in (root / code, root / "data" / code):
            if cand.is_dir():
                return cand
        raise LayoutError(f"fleurs ({lang}): no {code}/ (or data/{code}/) under {root}.\nExpected layout:\n{LAYOUT}")

    def has_split(self, lang_dir: Path, split: str) -> bool:
        return (lang_dir / f"{split}.tsv").is_file()

    def read_split(self, lang_dir: Path, lang: str, split: str) -> Iterator[CorpusUtterance | Excluded]:
        tsv = lang_dir / f"{split}.tsv"
        for lineno, line, error in read_text_lines(tsv):
            if not line.strip():
                continue
            fields = line.split("\t") + [""] * 4
            file_name, raw, normalised = fields[1], fields[2], fields[3]
            text = normalised if normalised.strip() else raw
            yield self.text_record(lang, Path(file_name).stem, "", lang_dir / "audio" / split / file_name,
                                   text, f"{tsv}:{lineno}", error)


READER = Fleurs()
