#!/usr/bin/env bash
# filter_scp.pl: filter_scp.pl [--exclude] <id_list> [<in.scp>] > out.scp: keep (drop) lines whose first field is listed.
# Kaldi's name and interface; the logic is Python (espnet_warmup/recipe/), tested with pytest.
# shellcheck disable=SC1091
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/_env.sh"
if [ "${1:-}" = "--exclude" ]; then shift; exec python3 -m espnet_warmup.recipe.stages.scp filter --exclude "$@"; fi
exec python3 -m espnet_warmup.recipe.stages.scp filter "$@"
