#!/usr/bin/env bash
# One-command set-up on a fresh Debian/Ubuntu machine (run as root, or with sudo available):
#   system packages (espeak-ng, sox, libsndfile, Slurm + munge for the cluster tests),
#   the Python environment at .venv/ (Python 3.11), and this project in editable mode with everything:
#   the plugin core, the recipe toolkit (extra "recipe") and the test tools (extra "test").
#   (The schedulers alone: pip install espnet-warmup, without extras.)
# Safe to rerun: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")"

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (install.sh) $*"; }

apt_packages=(espeak-ng sox libsndfile1 slurm-wlm munge)
python=${PYTHON:-python3.11}

# --- system packages -------------------------------------------------------------------------
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    log "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
else
    log "system packages present: ${apt_packages[*]}"
fi

# --- Python environment ------------------------------------------------------------------------
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "install.sh: need Python 3.11 (ESPnet 202511 is the newest ESPnet for 3.11); set PYTHON=..." >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $("$python" --version)"
    "$python" -m venv .venv
fi
# pip >= 25 refuses espnet's dependency ci_sdr (a direct-URL extra on PyPI); 24.x installs it.
.venv/bin/python -m pip install -q "pip>=23,<25"
# torch/torchaudio first and pinned: the CPU 2.13 wheel some machines carry conflicts with
# espnet's setuptools<74 pin, and torchaudio must match torch exactly (ESPnet's ASR task imports it).
if ! .venv/bin/python -c 'import torch, torchaudio, sys; sys.exit(torch.__version__.split("+")[0] != "2.11.0")' 2>/dev/null; then
    log "installing torch 2.11.0 + torchaudio 2.11.0 (a few GB)"
    .venv/bin/pip install -q torch==2.11.0 torchaudio==2.11.0
fi
# The recipe environment's exact versions (pyproject.toml has only the plugin's ranges: espnet>=202402,
# torch>=2.0); the results in README were made with these.
# inflect: espnet_tts_frontend/espnet-g2p-en (ESPnet's TTS text frontends, which every ESPnet job imports via
# espnet2.text.phoneme_tokenizer) accept inflect >= 1.0; inflect 7 builds its typeguard checks at import,
# ~2 s of every ESPnet job's start-up (measured: asr_train --help 18.5 s -> 12.9 s on a loaded 2-core
# machine, `python -X importtime -m espnet2.bin.asr_train --help`); 5.6.2 has the same API and no deps.
pins=(espnet==202511 torch==2.11.0 torchaudio==2.11.0 inflect==5.6.2)
log "installing espnet-warmup (editable) with ${pins[*]}, the recipe and test extras"
.venv/bin/pip install -q -e ".[recipe,test]" "${pins[@]}"

# Checked through the launcher (as the recipe runs ESPnet), with the recipe's quiet imports (path.sh).
ESPNET_WARMUP_QUIET_IMPORTS=1 .venv/bin/python -m espnet_warmup -c '
import espnet2.tasks.asr, sentencepiece, soundfile, tensorboard, matplotlib  # noqa: F401
import espnet_warmup
from espnet2.tasks import abs_task
assert "exponentialwarmuplr" in abs_task.scheduler_classes, "the launcher did not register the schedulers"
print(f"install.sh: OK (espnet-warmup {espnet_warmup.__version__}, espnet {espnet2.__version__})")
'
