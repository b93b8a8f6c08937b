#!/usr/bin/env bash
# combine_data.sh: combine_data.sh <dst> <src1> <src2> ...: union of data dirs.
# Kaldi's name and interface; the logic is Python (espnet_warmup/recipe/), tested with pytest.
# shellcheck disable=SC1091
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/_env.sh"
[ $# -ge 2 ] || { echo "usage: $0 <dst-data-dir> <src-data-dir1> <src-data-dir2> ..." >&2; exit 1; }
exec python3 -m espnet_warmup.recipe.datadir combine "$@"
