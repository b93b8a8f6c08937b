"""Synthesis helpers of the embedded EN/IT corpus: seeded text generators, voices, the plan, espeak-ng + sox.
The source that runs them for the data-prep driver is :mod:`espnet_warmup.recipe.data.sources.embedded`."""
