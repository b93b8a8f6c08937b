# db.sh: where the corpora live (sourced by local/data.sh scripts that read external corpora).
# The embedded corpus is synthesized into downloads/ and needs none of these.
# Real-corpus recipes (egs2/warmup_dilemma/asr1) read their roots from here; override them
# in the environment, e.g. `export LIBRISPEECH=/data/LibriSpeech`. One line per corpus reader
# (its db_var; `egs2/warmup_dilemma/asr1/local/data.sh --help` lists them).
DOWNLOADS=${DOWNLOADS:-downloads}
LIBRISPEECH=${LIBRISPEECH:-}
MLS=${MLS:-}
COMMONVOICE=${COMMONVOICE:-}
FLEURS=${FLEURS:-}
VOXPOPULI=${VOXPOPULI:-}
