# Environment specific to local/ data preparation (sourced by local/data.sh after ./path.sh).
# Nothing is needed: espeak-ng and sox come from the system (install.sh), Python from .venv.
