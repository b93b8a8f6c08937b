#!/usr/bin/env bash
# split_scp.pl: split_scp.pl <in.scp> <out.1.scp> ... <out.N.scp>: N contiguous parts, sizes differ by at most 1.
# Kaldi's name and interface; the logic is Python (espnet_warmup/recipe/), tested with pytest.
# shellcheck disable=SC1091
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/_env.sh"
exec python3 -m espnet_warmup.recipe.stages.scp split "$@"
