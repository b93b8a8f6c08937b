"""Kaldi data directories: the one home of reading, writing and checking them.

A data dir holds ``wav.scp`` (utt -> path, archive entry or ``command |``), ``text`` (utt ->
transcript, starting with its language tag ``<en>``/``<it>``), ``utt2spk``, ``spk2utt`` and optional
per-utterance files (``utt2lang``, ``utt2dur``, ``utt2num_samples``). All files are sorted by key
(``LC_ALL=C`` byte order) and share the same utterance set. Files and whole dirs are written to a
temporary name and renamed, so a reader never sees half of one.

- :mod:`.kv`: the one ``key value`` reader (refusing duplicate keys and non-UTF-8 lines), writer,
  C-order sort key, spk2utt,
  language tags, :class:`DataDirError`;
- :mod:`.dirs`: write a whole dir from utterance records (with its ``.done`` signature), copy,
  combine, subset, fix;
- :mod:`.checks`: :func:`validate` (options: text required, audio checks, sample rate);
- ``python -m espnet_warmup.recipe.datadir validate|copy|combine|fix|subset`` (see ``--help``),
  which asr.sh and utils/*_data_dir.sh call.
"""

from espnet_warmup.recipe.datadir.checks import MAX_PROBLEMS_PER_FILE, validate
from espnet_warmup.recipe.datadir.dirs import (
    DONE, UTT_FILES, combine_dirs, copy_dir, data_dir_files, fix_dir, is_done, read_signature, subset_dir,
    write_data_dir,
)
from espnet_warmup.recipe.datadir.kv import (
    NLSYM_RE, DataDirError, KvFile, convert_hint, format_kv, is_empty_transcript, lang_tag, read_kv, read_table,
    read_utf8_lines, scan_kv, sort_key, spk2utt_from_utt2spk, tag_lang, write_kv,
)

__all__ = [
    "DONE", "MAX_PROBLEMS_PER_FILE", "NLSYM_RE", "UTT_FILES", "DataDirError", "KvFile", "combine_dirs", "convert_hint",
    "copy_dir", "data_dir_files", "fix_dir", "format_kv", "is_done", "is_empty_transcript", "lang_tag", "read_kv",
    "read_table", "read_utf8_lines", "read_signature", "scan_kv", "sort_key", "spk2utt_from_utt2spk", "subset_dir", "tag_lang", "validate",
    "write_data_dir", "write_kv",
]
