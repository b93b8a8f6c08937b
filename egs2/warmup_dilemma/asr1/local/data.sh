#!/usr/bin/env bash
# local/data.sh --corpus NAME [--corpus NAME ...] [--nj N] [--data_dir data] [--progress false]
# Real corpora in their published layouts -> Kaldi data dirs (data/train, data/dev,
# data/test_<corpus>_<lang>_<split>), with language tags, normalised texts and a list of the
# utterances left out (data/<set>/excluded.txt). NAME: librispeech, mls_en, mls_it,
# commonvoice_en, commonvoice_it, fleurs_en, fleurs_it, voxpopuli_en, voxpopuli_it,
# kaldi:<dir>[:<lang>]. Corpus roots: db.sh. The logic is espnet_warmup/recipe/data/prepare.py.
set -euo pipefail
# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./db.sh
export LIBRISPEECH MLS COMMONVOICE FLEURS VOXPOPULI
exec python3 -m espnet_warmup.recipe.data.prepare "$@"
