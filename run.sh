#!/usr/bin/env bash
# The default recipe: four warmup policies (linear, OWSM piecewise-linear, polynomial,
# exponential) on the embedded English/Italian corpus, on a CPU, with ESPnet's stage numbers.
#
#   ./run.sh                                           # stages 1-14, all four policies (two at a time)
#   ./run.sh --stage 10 --train_config conf/train_exp_warmup.yaml   # one policy, from collect stats
#   ./run.sh --help                                    # every option (they are asr.sh's)
#
# Options given here are defaults; the ones on the command line come later and win.
set -e
set -u
set -o pipefail

train_set=train
valid_set=dev
test_sets=test

# Every conf/train_*_warmup.yaml is a policy (a new family joins by its config file); they share
# every setting except the scheduler (docs/recipe.md). The order does not matter: the policies
# share one collect-stats run, and stages 12-14 handle each exp dir on its own.
# The Conformer-transducers (conf/train_transducer_*_warmup.yaml: the same four policies, another
# model) train on request: ./run.sh --train_config conf/train_transducer_exp_warmup.yaml
train_configs=()
for _c in conf/train_*_warmup.yaml; do
    case ${_c} in conf/train_transducer_*) ;; *) train_configs+=("${_c}") ;; esac
done
train_config="${train_configs[*]}"
inference_config=conf/decode.yaml
# A config with decoder: transducer is decoded with this one (ESPnet's transducer beam search).
transducer_inference_config=conf/decode_transducer.yaml

# On a CPU, two policies train at a time with one thread each (--train_jobs 2): on 2 cores that
# beats one 2-thread training after another for this small model. With GPUs use --train_jobs 1.
# exec: asr.sh takes this script's PID, so a signal to it (kill, a cluster's preemption, Ctrl-C)
# reaches asr.sh, which stops every job, marks nothing done and exits 128 + N. (Through bash, so
# that asr.sh's $0, which its messages and resume scripts show, stays ./asr.sh.)
exec bash ./asr.sh \
    --ngpu 0 \
    --train_jobs 2 \
    --nj 2 \
    --inference_nj 2 \
    --lang noinfo \
    --token_type word \
    --min_wav_duration 0.3 \
    --max_wav_duration 10 \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --train_config "${train_config}" \
    --inference_config "${inference_config}" \
    --transducer_inference_config "${transducer_inference_config}" \
    "$@"
