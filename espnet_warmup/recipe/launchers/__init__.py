"""Kaldi-compatible job launchers: the Python core behind ``utils/run.pl`` and ``utils/slurm.pl``.

Kaldi and ESPnet recipes run every parallel step as
``${cmd} [options] [JOB=a:b] <log> <command...>``; ``cmd.sh`` picks the launcher by name.
This package keeps that interface (so users' ``cmd.sh`` and ``espnet2.bin.launch`` work
unchanged) and puts the logic in small, testable modules:

- :mod:`.common`      the shared interface: argument parsing, JOB substitution, quoting,
                      the log header/trailer and the failure report
- :mod:`.run_pl`      run jobs on this machine (``run.pl``)
- :mod:`.slurm_conf`  the ``conf/slurm.conf`` grammar
- :mod:`.slurm_pl`    submit a job array to Slurm and wait for it (``slurm.pl``)

Nothing here imports torch or espnet2: launcher start-up must stay fast.
"""
