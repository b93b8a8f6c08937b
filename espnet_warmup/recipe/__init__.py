"""Python side of the recipe engine (``egs2/TEMPLATE/asr1/asr.sh``).

The shell engine stays thin glue; each stage's logic lives in a small module here with a
``python -m espnet_warmup.recipe.<module>`` command line, so it can be unit-tested:

- :mod:`.datadir`        Kaldi data dirs: read/write ``key value`` files, validate, copy, combine, fix
- :mod:`.scp`            split and filter scp/key files (``utils/split_scp.pl``, ``utils/filter_scp.pl``)
- :mod:`.speed_perturb`  stage 2: speed-perturbed copies of a data dir (sox pipes in wav.scp)
- :mod:`.format_audio`   stage 3: decode/resample audio to 16-bit wav files + ``utt2num_samples``
- :mod:`.length_filter`  stage 4: drop too short/long utterances from train/valid
- :mod:`.token_list`     stage 5: BPE (sentencepiece), char and word token lists in ESPnet's format
- :mod:`.decode_merge`   stage 12: merge the per-job ``1best_recog`` outputs of a decode
"""
