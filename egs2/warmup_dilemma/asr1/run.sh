#!/usr/bin/env bash
# The paper recipe: four warmup policies (linear, OWSM piecewise-linear, polynomial,
# exponential) on the public English+Italian corpora, 878M Conformer (conf/), ESPnet stages.
# The command line is the root recipe's, e.g.
#
#   ./run.sh --stage 1 --stop_stage 5 --corpus "librispeech mls_it" --nj 32   # data + BPE
#   CMD_BACKEND=slurm ./run.sh --stage 10 --train_config conf/train_exp_warmup.yaml
#   ./run.sh --help                                    # every option (they are asr.sh's)
#
# Corpora: --corpus "<name> ..." (default below; roots in db.sh, layouts in docs/corpora.md).
# All training parts form data/train, development parts data/dev; every test split is its own
# set data/test_<corpus>_<lang>_<split>, scored separately. Options given here are defaults;
# the ones on the command line come later and win.
set -e
set -u
set -o pipefail

corpus="librispeech mls_en mls_it commonvoice_en commonvoice_it fleurs_en fleurs_it voxpopuli_en voxpopuli_it"
# The last --corpus on the command line wins (parse_options semantics); the test sets follow it.
_args=("$@")
for ((_i = 0; _i < ${#_args[@]} - 1; _i++)); do
    case "${_args[_i]}" in --corpus) corpus=${_args[_i + 1]} ;; esac
done
# The test splits present under the corpus roots (the standard ones if a root is not there yet).
# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./db.sh
export LIBRISPEECH MLS COMMONVOICE FLEURS VOXPOPULI
# shellcheck disable=SC2086
test_sets=$(python3 -m espnet_warmup.recipe.data.prepare --print_test_sets --corpus ${corpus})

train_set=train
valid_set=dev

# All four policies share every setting except the scheduler (tests/corpora/test_corpora_paper_configs.py).
train_config="conf/train_linear_warmup.yaml conf/train_owsm_warmup.yaml conf/train_poly_warmup.yaml conf/train_exp_warmup.yaml"
inference_config=conf/decode.yaml

# 16 GPUs as in the paper's batch (conf/*.yaml batch_bins is global): 4 nodes x 4 GPUs.
./asr.sh \
    --ngpu 4 \
    --num_nodes 4 \
    --nj 32 \
    --inference_nj 32 \
    --gpu_inference true \
    --lang noinfo \
    --token_type bpe \
    --nbpe 16000 \
    --audio_format flac \
    --min_wav_duration 0.1 \
    --max_wav_duration 30 \
    --corpus "${corpus}" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --train_config "${train_config}" \
    --inference_config "${inference_config}" \
    "$@"
