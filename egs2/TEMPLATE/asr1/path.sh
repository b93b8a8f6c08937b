# path.sh: the environment every recipe stage and job runs in (sourced; also by slurm.pl jobs).
# Recipe dirs link here, so the repository root is found from this file's real location,
# not from $PWD: <root>/egs2/TEMPLATE/asr1/path.sh -> <root>.
__path_sh_dir=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
MAIN_ROOT=$(cd "${__path_sh_dir}/../../.." && pwd)
export MAIN_ROOT
unset __path_sh_dir

# The Python environment made by install.sh (espnet, torch, espnet_warmup editable).
# VIRTUAL_ENV_DISABLE_PROMPT keeps job logs free of prompt noise.
if [ -f "${MAIN_ROOT}/.venv/bin/activate" ]; then
  export VIRTUAL_ENV_DISABLE_PROMPT=1
  # shellcheck disable=SC1091
  . "${MAIN_ROOT}/.venv/bin/activate"
else
  echo "path.sh: WARNING: ${MAIN_ROOT}/.venv not found; run ${MAIN_ROOT}/install.sh (using $(command -v python3))" >&2
fi

# utils/ of the recipe dir (run.pl, parse_options.sh ...); launchers are found by name.
export PATH="${PWD}/utils:${MAIN_ROOT}/egs2/TEMPLATE/asr1/utils:${PATH}"
export LC_ALL=C
export OMP_NUM_THREADS=1
export PYTHONIOENCODING=UTF-8
# ESPnet's commands run through our launcher (python3 -m espnet_warmup -m espnet2.bin.*); with this set it
# keeps two import-time notices that are not about the run out of the logs: nltk's download attempts for
# g2p_en's data (prevented: no network access is tried) and "Failed to import Flash Attention" where the
# optional flash_attn package is not installed. Real warnings and errors are untouched
# (espnet_warmup/lazy_registration.py). Set it to 0 to see them.
export ESPNET_WARMUP_QUIET_IMPORTS=${ESPNET_WARMUP_QUIET_IMPORTS:-1}

# A recipe may add its own settings.
if [ -f local/path.sh ]; then
  # shellcheck disable=SC1091
  . local/path.sh
fi
