"""Data preparation: corpora -> Kaldi data dirs, for both recipes' ``local/data.sh``.

- :mod:`prepare`: the one driver (``python -m espnet_warmup.recipe.data.prepare``);
- :mod:`catalog`: the ``--corpus`` values and the source each names;
- :mod:`sources`: one module per source: :mod:`~sources.embedded` (the synthesized EN/IT corpora
  ``digits``/``sentences``, built from the helpers in :mod:`embedded`), :mod:`~sources.librispeech`,
  :mod:`~sources.mls`, :mod:`~sources.commonvoice`, :mod:`~sources.fleurs`, :mod:`~sources.voxpopuli`,
  and :mod:`~sources.kaldi_dir` (any existing Kaldi data dir; :mod:`segments` cuts the segments of a
  segmented one into per-utterance files);
- :mod:`base`: the records (:class:`~base.CorpusUtterance`, :class:`~base.Excluded`), the reader
  contract and the errors; :mod:`normalize` makes the texts comparable; :mod:`audio` checks and
  measures the audio in parallel; :mod:`combine` merges parts into sets; :mod:`sets` tells asr.sh
  which test sets were written.
Data dirs are written and checked by :mod:`espnet_warmup.recipe.datadir`.
See docs/corpora.md (real corpora) and docs/corpus.md (the embedded corpus).
"""
