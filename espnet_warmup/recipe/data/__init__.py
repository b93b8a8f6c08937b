"""Real-corpus data preparation: published on-disk layouts -> Kaldi data dirs.

One module per corpus (:mod:`librispeech`, :mod:`mls`, :mod:`commonvoice`, :mod:`fleurs`,
:mod:`voxpopuli`) plus :mod:`kaldi_dir` (import any existing Kaldi data dir; :mod:`segments`
cuts the segments of a segmented one into per-utterance files). Each reader
turns its corpus's metadata into :class:`~espnet_warmup.recipe.data.base.CorpusUtterance` records,
:mod:`normalize` makes the texts comparable, :mod:`audio` checks and measures the audio in
parallel, :mod:`kaldi_dir` writes the data dirs and :mod:`combine` merges the training parts.
:mod:`prepare` is the command behind ``egs2/warmup_dilemma/asr1/local/data.sh``.
See docs/corpora.md for the layouts, the split roles and the normalisation.
"""
