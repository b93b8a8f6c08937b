#!/usr/bin/env bash
# The plugin-core tests against older ESPnet releases than the recipe environment's 202511.
#   .ci/plugin_compat.sh [release ...]        (default: 202402 202412; run after ./install.sh)
# For each release: an overlay venv under .cache/plugin_compat/espnet-<release>/ (kept between runs) whose
# own site-packages holds that ESPnet (--no-deps) and the few packages whose versions it pins differently
# (numpy < 1.24, a scipy built for it, typeguard 2 for 202402), in front of .venv's site-packages, which
# give torch 2.11, torchaudio and the rest. So this checks older ESPnet APIs with the recipe environment's
# torch (within their torch >= 1.11 range), not old torch releases.
# Tests: the plugin core's (schedules, schedulers, registry, lazy registration, check-config, the
# launcher, the startup hook, real ESPnet trainings). -k deselects the two tests that run the recipe
# toolkit's plot-lr and report (its matplotlib is built for .venv's numpy 2), and the resume test: these
# ESPnet releases resume with torch.load's default, which torch >= 2.6 made weights_only, and fail inside
# ESPnet on their reporter's numpy-1 scalars (measured: 202402 and 202412 with torch 2.11), whatever the scheduler.
# Cost measured on the 2-core dev machine under load: 202402 ~2.5 min (env made in ~20 s, tests 125 s).
set -euo pipefail
cd "$(dirname "$0")/.."
releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(202402 202412)
shared=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
tests=(tests/test_schedules.py tests/test_schedulers.py tests/test_registry.py tests/test_lazy_registration.py
       tests/test_check_config.py tests/test_family_declaration.py tests/test_guard.py tests/test_spikes.py tests/test_launcher.py tests/test_hook.py
       tests/test_espnet_training.py)
rc=0
for release in "${releases[@]}"; do
    env_dir=.cache/plugin_compat/espnet-${release}
    pins=("espnet==${release}" "numpy==1.23.5" "scipy==1.13.1")
    case ${release} in 2023*|202402) pins+=("typeguard==2.13.3") ;; esac
    if ! "${env_dir}/bin/python" -c "import espnet2, sys; sys.exit(espnet2.__version__ != '${release}')" 2>/dev/null; then
        echo ".ci/plugin_compat.sh: making ${env_dir} (${pins[*]})"
        rm -rf "${env_dir}"
        .venv/bin/python -m venv "${env_dir}"   # a venv of the base interpreter of .venv
        "${env_dir}/bin/python" -m pip install -q "pip>=23,<25"
        "${env_dir}/bin/pip" install -q --no-deps "${pins[@]}"
        site=$("${env_dir}/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        echo "import site; site.addsitedir('${shared}')" > "${site}/zz_recipe_env.pth"
    fi
    echo ".ci/plugin_compat.sh: espnet ${release}: ${tests[*]}"
    if ! PYTHONPATH="${PWD}" "${env_dir}/bin/python" -m pytest -q -p no:cacheprovider -k "not plot_lr and not report and not resume" "${tests[@]}"; then
        echo ".ci/plugin_compat.sh: espnet ${release}: FAILED" >&2
        rc=1
    fi
done
exit ${rc}
