# _env.sh: sourced by every utils/ wrapper (run.pl, split_scp.pl, *_data_dir.sh ...): puts this
# checkout's package first on PYTHONPATH, so a wrapper finds espnet_warmup even where the venv is
# not active (a Slurm job, a bare shell; run.pl and slurm.pl need only the stdlib).
# The checkout is found from this file's real location: <root>/egs2/TEMPLATE/asr1/utils/_env.sh.
__env_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../.." && pwd)
export PYTHONPATH="${__env_root}${PYTHONPATH:+:${PYTHONPATH}}"
unset __env_root
