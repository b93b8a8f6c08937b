"""Scoring without sclite: WER/CER, sclite-compatible result.txt, ESPnet-style RESULTS.md.

Modules (one concept each):
    align    Levenshtein alignment (minimum errors, then sclite's fewest substitutions)
    text     Kaldi file reading, language-token removal, cleaners, word/char tokens
    trn      sclite's trn format (``tokens<TAB>(spk-utt)``)
    stats    counts and sclite's percentages
    sclite   result.txt writer (SPKR table, ``Sum/Avg`` line, alignments) and reader
    scorer   the stage-13 pipeline: inputs -> score_{wer,cer}/ + scores.json
    results  RESULTS.md across experiment dirs (show_asr_result.sh equivalent)
    cli      ``espnet-warmup score`` / ``python -m espnet_warmup.recipe.scoring.cli``
    atomic   temp-then-rename writes
Nothing here imports torch or espnet2.
"""
