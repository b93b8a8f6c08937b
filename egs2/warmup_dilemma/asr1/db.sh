# db.sh: corpus roots of the paper recipe (sourced by local/data.sh).
# Each defaults to downloads/<name> in this recipe dir; point them at your copies here or in
# the environment (export MLS=/corpora/mls). The layout expected under each root is in
# docs/corpora.md (and printed when a root is wrong). local/data.sh reads this file with
# `set -a` (every variable exported): a new corpus is one line here.
LIBRISPEECH=${LIBRISPEECH:-downloads/librispeech}   # holds LibriSpeech/<split>/ (OpenSLR 12)
MLS=${MLS:-downloads/mls}                           # holds mls_english/ mls_italian/ (OpenSLR 94)
COMMONVOICE=${COMMONVOICE:-downloads/commonvoice}   # holds cv-corpus-<version>/<lang>/
FLEURS=${FLEURS:-downloads/fleurs}                  # holds en_us/ it_it/ (HF google/fleurs data/)
VOXPOPULI=${VOXPOPULI:-downloads/voxpopuli}         # holds transcribed_data/<lang>/ (get_asr_data.py)
