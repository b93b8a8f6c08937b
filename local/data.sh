#!/usr/bin/env bash
# Stage 1 data preparation of the root recipe: by default the embedded English/Italian corpus, made
# offline with espeak-ng (--corpus digits|sentences; real corpora work too, roots in db.sh).
#
# Writes Kaldi data dirs data/{train,dev,test} (wav.scp text utt2spk spk2utt utt2lang utt2dur), data/test_sets
# and the audio under downloads/synth/. Options follow Kaldi's parse_options.sh (--foo-bar == --foo_bar,
# unknown option = error); `local/data.sh --help` lists them. The logic is espnet_warmup/recipe/data/prepare.py
# (the same driver as egs2/warmup_dilemma/asr1/local/data.sh), tested with pytest; this file only sets up
# the environment.
set -eo pipefail

# The recipe environment (.venv python; path.sh also sources local/path.sh) when run from the recipe root.
if [ -f ./path.sh ]; then . ./path.sh; elif [ -f local/path.sh ]; then . local/path.sh; fi
set -u
if [ -f ./db.sh ]; then set -a; . ./db.sh; set +a; fi

exec python3 -m espnet_warmup.recipe.data.prepare --default_corpus digits "$@"
