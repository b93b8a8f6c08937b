#!/usr/bin/env bash
# run.pl [options] [JOB=a:b] <log> <command...>: run a Kaldi-style job array on this machine.
# Thin wrapper (the name is Kaldi's, as cmd.sh and espnet2.bin.launch call it by name); the logic
# is espnet_warmup/recipe/launchers/run_pl.py. Run it with no arguments for the usage.
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
root=$(cd "${here}/../../../.." && pwd)
# Find the package in this checkout even when the venv is not active (it needs only the stdlib).
if [ -f "${root}/espnet_warmup/recipe/launchers/run_pl.py" ]; then
    export PYTHONPATH="${root}${PYTHONPATH:+:${PYTHONPATH}}"
fi
exec python3 -m espnet_warmup.recipe.launchers.run_pl "$@"
