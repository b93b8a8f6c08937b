"""The embedded EN/IT corpus: seeded text generators, espeak-ng synthesis, Kaldi data dirs (local/data.sh)."""
