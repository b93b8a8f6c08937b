#!/usr/bin/env bash
# Stage 1 data preparation of the embedded English/Italian corpus, made offline with espeak-ng.
#
# Writes Kaldi data dirs data/{train,dev,test} (wav.scp text utt2spk spk2utt utt2lang utt2dur) and the
# audio under downloads/synth/. Options follow Kaldi's parse_options.sh (--foo-bar == --foo_bar, each takes
# a value, unknown option = error); `local/data.sh --help` lists them. The logic (planning, parallel
# synthesis, markers, validation) lives in espnet_warmup/recipe/data/embedded/ so it is tested with pytest; this file
# only sets up the environment and passes the options on.
set -eo pipefail

# The recipe environment (.venv python; path.sh also sources local/path.sh) when run from the recipe root.
if [ -f ./path.sh ]; then . ./path.sh; elif [ -f local/path.sh ]; then . local/path.sh; fi
set -u

exec python3 -m espnet_warmup.recipe.data.embedded.prepare "$@"
