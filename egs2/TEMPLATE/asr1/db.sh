# db.sh: where the corpora live (sourced by local/data.sh scripts that read external corpora).
# The embedded corpus is synthesized into downloads/ and needs none of these.
# Real-corpus recipes (egs2/warmup_dilemma/asr1) read their roots from here; override them
# in the environment, e.g. `export LIBRISPEECH=/data/LibriSpeech`.
DOWNLOADS=${DOWNLOADS:-downloads}
LIBRISPEECH=${LIBRISPEECH:-}
COMMONVOICE=${COMMONVOICE:-}
MLS=${MLS:-}
VOXPOPULI=${VOXPOPULI:-}
