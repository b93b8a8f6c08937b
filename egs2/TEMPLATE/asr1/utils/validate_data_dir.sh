#!/usr/bin/env bash
# validate_data_dir.sh: validate_data_dir.sh [--no-text] <dir>: check a data dir; errors name the file and utterances.
# Kaldi's name and interface; the logic is Python (espnet_warmup/recipe/), tested with pytest.
# shellcheck disable=SC1091
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/_env.sh"
opts=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-text) opts+=(--no-text); shift ;;
        --no-feats|--no-wav|--non-print|--no-spk-sort) shift ;;  # Kaldi flags with nothing to check here
        --*) echo "$0: invalid option $1" >&2; exit 1 ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--no-text] <data-dir>" >&2; exit 1; }
python3 -m espnet_warmup.recipe.datadir validate "${opts[@]}" "$1" && echo "$0: Successfully validated data-directory $1"
