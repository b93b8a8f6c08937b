#!/usr/bin/env bash
# local/data.sh --corpus NAME [--corpus NAME ...] [--nj N] [--data_dir data] [--progress false]
# Real corpora in their published layouts -> Kaldi data dirs (data/train, data/dev,
# data/test_<corpus>_<lang>_<split>), with language tags, normalised texts, a list of the
# utterances left out (data/<set>/excluded.txt) and data/test_sets. `local/data.sh --help` lists
# the corpora and their db.sh variables. The logic is espnet_warmup/recipe/data/prepare.py.
set -euo pipefail
# shellcheck disable=SC1091
. ./path.sh
# Every db.sh variable reaches the Python side (set -a exports them), so a new corpus needs only
# its line in db.sh.
set -a
# shellcheck disable=SC1091
. ./db.sh
set +a
exec python3 -m espnet_warmup.recipe.data.prepare "$@"
