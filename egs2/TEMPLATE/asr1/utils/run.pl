#!/usr/bin/env bash
# run.pl [options] [JOB=a:b] <log> <command...>: run a Kaldi-style job array on this machine.
# Thin wrapper (the name is Kaldi's, as cmd.sh and espnet2.bin.launch call it by name); the logic
# is espnet_warmup/recipe/launchers/run_pl.py. Run it with no arguments for the usage.
# shellcheck disable=SC1091
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/_env.sh"
exec python3 -m espnet_warmup.recipe.launchers.run_pl "$@"
