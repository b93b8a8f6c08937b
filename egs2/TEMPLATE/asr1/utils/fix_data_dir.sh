#!/usr/bin/env bash
# fix_data_dir.sh: fix_data_dir.sh <dir>: keep utterances present in every file (non-empty text), re-sort, rebuild spk2utt.
# Kaldi's name and interface; the logic is Python (espnet_warmup/recipe/), tested with pytest.
# shellcheck disable=SC1091
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/_env.sh"
[ $# -eq 1 ] || { echo "usage: $0 <data-dir>" >&2; exit 1; }
exec python3 -m espnet_warmup.recipe.datadir fix "$1"
