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
# set data/test_<corpus>_<lang>_<split>, scored separately (--test_sets auto: stage 1 writes their
# names to data/test_sets). Options given here are defaults; the ones on the command line come
# later and win.
set -e
set -u
set -o pipefail

corpus="librispeech mls_en mls_it commonvoice_en commonvoice_it fleurs_en fleurs_it voxpopuli_en voxpopuli_it"
train_set=train
valid_set=dev
test_sets=auto

# Every conf/train_*_warmup.yaml is a policy; they share every setting except the scheduler
# (tests/data/test_paper_configs.py). The order does not matter (see ../../../run.sh).
# The Conformer-transducers (conf/train_transducer_*_warmup.yaml) train on request (--train_config).
train_configs=()
for _c in conf/train_*_warmup.yaml; do
    case ${_c} in conf/train_transducer_*) ;; *) train_configs+=("${_c}") ;; esac
done
train_config="${train_configs[*]}"
inference_config=conf/decode.yaml
# A config with decoder: transducer is decoded with this one (ESPnet's transducer beam search).
transducer_inference_config=conf/decode_transducer.yaml

# 16 GPUs as in the paper's batch (conf/*.yaml batch_bins is global): 4 nodes x 4 GPUs.
# exec: asr.sh takes this script's PID, so a signal to it (kill, a cluster's preemption, Ctrl-C)
# reaches asr.sh, which stops every job, marks nothing done and exits 128 + N. (Through bash, so
# that asr.sh's $0, which its messages and resume scripts show, stays ./asr.sh.)
exec bash ./asr.sh \
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
    --transducer_inference_config "${transducer_inference_config}" \
    "$@"
