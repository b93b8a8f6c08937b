"""Python side of the recipe engine's stages (``egs2/TEMPLATE/asr1/asr.sh``).

The shell engine stays thin glue; each stage's logic lives in a small module here with a
``python -m espnet_warmup.recipe.stages.<module>`` command line, so it can be unit-tested:

- :mod:`.scp`            split and filter scp/key files (``utils/split_scp.pl``, ``utils/filter_scp.pl``)
- :mod:`.speed_perturb`  stage 2: speed-perturbed copies of a data dir (sox pipes in wav.scp)
- :mod:`.format_audio`   stage 3: decode/resample audio to 16-bit wav/flac files + ``utt2num_samples``
- :mod:`.length_filter`  stage 4: drop too short/long utterances from train/valid
- :mod:`.token_list`     stage 5: BPE (sentencepiece), char and word token lists in ESPnet's format
- :mod:`.stats_key`      stage 10: the frontend key that decides whether collected stats can be reused
- :mod:`.job_outputs`    stages 3, 10, 12: merge the outputs of a split (JOB=1:N) stage into its output dir
- :mod:`.commands`       stages 10-13: ``<exp>/commands.sh``, the exact commands behind an experiment's RESULTS.md
"""
