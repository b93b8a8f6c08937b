"""The sources of data prep: one reader per corpus layout, each a
:class:`~espnet_warmup.recipe.data.base.CorpusReader` (listed in
:data:`espnet_warmup.recipe.data.catalog.READERS`): :mod:`librispeech`, :mod:`mls`,
:mod:`commonvoice`, :mod:`fleurs`, :mod:`voxpopuli`, and :mod:`kaldi_dir` (any existing Kaldi
data dir, ``--corpus kaldi:<dir>``)."""
