#!/usr/bin/env bash
# copy_data_dir.sh: copy_data_dir.sh [--utt-prefix P] [--spk-prefix P] <src> <dst>: copy a Kaldi data dir.
# Kaldi's name and interface; the logic is Python (espnet_warmup/recipe/), tested with pytest.
# shellcheck disable=SC1091
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/_env.sh"
utt_prefix=""; spk_prefix=""
while [ $# -gt 0 ]; do
    case "$1" in
        --utt-prefix|--utt_prefix) utt_prefix=$2; shift 2 ;;
        --spk-prefix|--spk_prefix) spk_prefix=$2; shift 2 ;;
        --*) echo "$0: invalid option $1" >&2; exit 1 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: $0 [--utt-prefix P] [--spk-prefix P] <src-data-dir> <dst-data-dir>" >&2; exit 1; }
exec python3 -m espnet_warmup.recipe.datadir copy --utt-prefix "$utt_prefix" --spk-prefix "$spk_prefix" "$1" "$2"
