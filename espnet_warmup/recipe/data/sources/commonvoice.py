"""Mozilla Common Voice, English and Italian: a ``cv-corpus-*`` release as extracted.

Text: the ``sentence`` column (mixed case, punctuation) -> shared normaliser.
Speaker: the ``client_id`` column, shortened to its first 16 characters (a hash; kept unique
in practice, and utterance ids stay readable). Audio: ``clips/<path>`` (mp3, 48 kHz mono).
The standard splits are the release's train/dev/test TSVs (not validated.tsv).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from espnet_warmup.recipe.data.base import CorpusReader, Excluded, LayoutError, CorpusUtterance, read_tsv_rows

LAYOUT = """\
  $COMMONVOICE/cv-corpus-<version>/<lang>/train.tsv dev.tsv test.tsv
      tab-separated, header row with at least: client_id path sentence
  $COMMONVOICE/cv-corpus-<version>/<lang>/clips/<path>          (common_voice_<lang>_<n>.mp3)
  <lang>: en | it   ($COMMONVOICE may also be one cv-corpus-<version>/ directory; with several
  versions present the last in sort order, i.e. the newest, is used)"""


class CommonVoice(CorpusReader):
    name = "commonvoice"
    db_var = "COMMONVOICE"
    langs = {"en": "en", "it": "it"}
    splits = {"train": "train", "dev": "dev", "test": "test"}
    layout = LAYOUT

    def locate(self, root: Path, lang: str) -> Path:
        code = self.langs[lang]
        candidates = [*sorted(root.glob("cv-corpus-*"), reverse=True), root]
        for release in candidates:
            if (release / code).is_dir():
                return release / code
        raise LayoutError(f"commonvoice ({lang}): no cv-corpus-*/{code}/ under {root}.\nExpected layout:\n{LAYOUT}")

    def has_split(self, lang_dir: Path, split: str) -> bool:
        return (lang_dir / f"{split}.tsv").is_file()

    def read_split(self, lang_dir: Path, lang: str, split: str) -> Iterator[CorpusUtterance | Excluded]:
        tsv = lang_dir / f"{split}.tsv"
        for lineno, row, error in read_tsv_rows(tsv, {"client_id", "path", "sentence"}, "commonvoice", LAYOUT):
            clip = row.get("path", "")
            local = Path(clip).stem
            yield self.text_record(lang, row.get("client_id", "")[:16], local, lang_dir / "clips" / clip,
                                   row.get("sentence", ""), f"{tsv}:{lineno}", error)


READER = CommonVoice()
