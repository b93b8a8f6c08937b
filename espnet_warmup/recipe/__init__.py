"""The recipe toolkit: everything behind ``run.sh`` / ``asr.sh`` that is not the plugin.

Installed with the ``recipe`` extra (``pip install "espnet-warmup[recipe]"``; ``install.sh`` installs
everything). The plugin core one level up (schedules, schedulers, registry, launcher, check-config)
never imports from here.

Subpackages and modules (one concept each):
    data/        stage 1: one data-prep pipeline; the embedded corpus, real corpora and Kaldi dirs are sources
    datadir      Kaldi data dirs: read/write ``key value`` files, validate, copy, combine, fix
    stages/      the Python side of asr.sh stages 2-12
    scoring/     stage 13: WER/CER without sclite, result.txt, RESULTS.md
    analysis/    LR curves of configs, training curves, spikes, the divergence monitor
    report       stage 14: RESULTS.md and plots across experiments
    owsm         published OWSM results to compare with
    launchers/   the Python core of utils/run.pl and utils/slurm.pl
    atomic       temp-then-rename writes
    wavscp       reading wav.scp entries (files, pipes, archives)
"""
