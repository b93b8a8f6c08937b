#!/usr/bin/env bash
# asr.sh: the corpus-agnostic ASR recipe engine, with ESPnet's stage numbers and option names.
# Run it from a recipe dir (which has path.sh, cmd.sh, conf/, local/data.sh and data/<set>);
# a recipe's run.sh calls it with its corpus' sets and configs. See docs/recipe.md.
# Layout: options, checks, names, the bookkeeping helper `stage`, one function per stage,
# and at the bottom the stage table.

# Fail fast: an error in any pipeline part stops the run.
set -e
set -u
set -o pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}
die() {
    log "ERROR: $*"
    exit 1
}
min() {
    local a=$1 b=$2
    if [ "$a" -lt "$b" ]; then echo "$a"; else echo "$b"; fi
}
cpu_cores() {  # the cores this process may use; GNU nproc would answer OMP_NUM_THREADS (path.sh sets 1)
    env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc
}
# Signals: TERM (kill, a cluster's preemption), INT (Ctrl-C), HUP (a closed terminal) stop every
# job of the run: the trap passes the signal on to every descendant (stage subshells, the monitor,
# run.pl's tasks; slurm.pl scancels its Slurm jobs), waits for them to end (bounded, then SIGKILL),
# marks nothing done, logs one line and exits 128 + N. bash runs a trap only once the foreground
# command has returned, so `stage` runs each unit of work in the background and waits for it.
# (A signal ignored when the script started, such as HUP under nohup, stays ignored.)
_signal=""       # the signal being handled: set, no stage writes its marker
_stage_now=""    # the unit of work that runs now, for the trap's line
on_signal() {  # on_signal <NAME> <number>
    local stopped
    trap '' TERM INT HUP  # a second Ctrl-C must not cut the clean-up short
    _signal=$1
    stopped=$(python3 -m espnet_warmup.recipe.launchers.stop --pid $$ --signal "$1" 2>&1) || true
    wait 2> /dev/null || true
    log "Got SIG$1${_stage_now:+ during ${_stage_now}}: ${stopped:-no job was running}; nothing was marked done; exit $((128 + $2))"
    exit $((128 + $2))
}
trap 'on_signal TERM 15' TERM
trap 'on_signal INT 2' INT
trap 'on_signal HUP 1' HUP
SECONDS=0

# ---------------------------------------------------------------------------- options
# General
stage=1              # first stage to run
stop_stage=10000     # last stage to run
skip_stages=""       # space-separated stage numbers not to run
skip_data_prep=false # skip stages 1-5
skip_train=false     # skip stages 2, 4-11
skip_eval=false      # skip stages 12-13
skip_report=false    # skip stage 14
ngpu=1               # GPUs per node for training (0: CPU)
num_nodes=1          # nodes for training
nj=32                # parallel jobs for data prep and statistics
inference_nj=32      # parallel jobs for decoding
gpu_inference=false  # decode on GPU (uses ${cuda_cmd})
dumpdir=dump         # formatted data
expdir=exp           # experiments
python=python3       # the interpreter for espnet2.bin.* (e.g. "coverage run --append")
monitor=true         # run training under espnet_warmup.recipe.analysis.monitor, which follows its train.log
stop_on_divergence=false  # with --monitor: stop a diverging training, keeping the last epoch checkpoint

# Data preparation
local_data_opts=""      # options for local/data.sh
corpus=""               # passed to local/data.sh as --corpus (empty: its default)
speed_perturb_factors="" # e.g. "0.9 1.0 1.1"; the train set becomes <train_set>_sp
fs=16k                  # sample rate of the formatted audio
audio_format=wav        # formatted audio: wav or flac (16-bit PCM either way; flac is smaller)
min_wav_duration=0.1    # seconds; shorter train/valid utterances are dropped (stage 4)
max_wav_duration=20     # seconds; longer train/valid utterances are dropped (stage 4)

# Tokens
token_type=bpe     # bpe, char or word
nbpe=30            # BPE vocabulary size (sentencepiece)
bpemode=unigram    # unigram or bpe
nlsyms_txt=""      # non-linguistic symbols file; empty: every <...> word of the train text
lang=noinfo        # language tag of the token list dir (data/<lang>_token_list)

# Training
train_config=""    # one or more (space-separated) training configs; alias --asr_config
train_args=""      # extra options for espnet2.bin.asr_train; alias --asr_args
asr_tag=""         # suffix for the exp dir name: <expdir>/asr_<config basename>[_<asr_tag>]
probe=""           # stability probe: training configs whose schedulers it compares (stage 11 then probes the first --train_config instead of training; stages 12-14 skipped); see docs/probe.md
probe_args=""      # options of espnet-warmup probe, e.g. "--peak_lrs 1e-3:1e-1 --grid 4 --refine 2 --seeds '1 2 3' --updates 200"
seeds=""           # training seeds (space-separated, e.g. "1 2 3"): each config trains once per seed, into <exp dir>_seed<N> with --seed N; empty: one run, the config's own seed
pretrained_model=""   # fine-tuning: the model(s) to start from, ESPnet's --init_param "<file>[:<src_key>[:<dst_key>[:<exclude_keys>]]]" (space-separated; checked before training: docs/finetune.md)
ignore_init_mismatch=false  # with --pretrained_model: skip checkpoint tensors the model lacks or has in another shape (ESPnet's --ignore_init_mismatch)
feats_normalize=global_mvn  # global_mvn (from the stage-10 statistics) or none
train_nthreads=0            # CPU threads of a training job (OMP_NUM_THREADS); 0: cores / train_jobs when --ngpu 0, else 1
train_jobs=1                # how many trainings (configs x seeds; probe runs with run.pl) run at the same time in stage 11
speech_fold_length=800      # ESPnet's fold lengths (x100 samples for raw speech)
text_fold_length=150        # ESPnet's fold length for text (tokens)

# Decoding
inference_config=""                  # decoding config (espnet2.bin.asr_inference --config)
inference_args=""                    # extra options for espnet2.bin.asr_inference
inference_tag=""                     # decode dir name; default decode_<config basename>_asr_model_<model>
inference_asr_model=valid.acc.ave.pth # the model file of the exp dir to decode with
transducer_inference_config=""       # decoding config for the training configs with decoder: transducer (ESPnet's transducer beam search: beam_size, transducer_conf); empty: --inference_config
transducer_inference_asr_model=valid.loss.ave.pth # the model file of a transducer exp dir to decode with (a transducer reports no accuracy: its configs average by valid loss)
select_by_wer=false                  # stage 12: decode the valid set with every kept <N>epoch.pth, link the lowest dev WER as valid.wer.best.pth and decode the test sets with it (default model then)
select_keep_only_best=false          # with --select_by_wer: delete the other <N>epoch.pth files (checkpoint.pth stays)
batch_size=1                         # decoding batch size

# Sets
train_set=""   # name of the training set (data/<train_set>)
valid_set=""   # name of the validation set
test_sets=""   # names of the evaluation sets (space-separated); auto: data/test_sets, written by stage 1
# ---------------------------------------------------------------------------- end of options

# --help: the stages, then every option line above as "--name  comment (default: value)".
help_message="Usage: $0 --train_set <set> --valid_set <set> --test_sets \"<set> ...\" [options]

Stages (ESPnet numbering):
  1 data prep (local/data.sh)    2 speed perturbation     3 format audio (dump/raw)
  4 filter by length             5 token list (bpe|char|word)
  6-9 language model: not used by this recipe (skipped)
  10 collect stats               11 train                 12 decode
  13 score + <exp>/RESULTS.md
  14 cross-policy report (RESULTS.md); replaces ESPnet's stage 14, which packs the model

Options (Kaldi style: --name value; --foo-bar == --foo_bar; --config FILE reads shell assignments first):
$(sed -n '/^# -* options$/,/^# -* end of options$/s/^\([a-z_]*\)=\("[^"]*"\|[^ ]*\) *# \(.*\)/  --\1  \3 (default: \2)/p' \
    "${BASH_SOURCE[0]}")"

# ESPnet spells some options --asr_*; both spellings set the same variable, the last one wins.
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --asr_config|--asr-config) args+=(--train_config) ;;
        --asr_args|--asr-args) args+=(--train_args) ;;
        *) args+=("$1") ;;
    esac
    if [ $# -ge 2 ] && [[ "$1" == --* ]]; then args+=("$2"); shift; fi
    shift
done
set -- ${args[@]+"${args[@]}"}
orig_args=("$@")  # for the resume scripts (<dir>/run.sh)

# shellcheck disable=SC1091
. utils/parse_options.sh

if [ $# -gt 0 ]; then
    log "ERROR: unexpected positional argument(s): $*"
    log "Run '$0 --help' for the options."
    exit 2
fi

[ -f path.sh ] || die "path.sh not found: run $0 from a recipe dir"
[ -f cmd.sh ] || die "cmd.sh not found: run $0 from a recipe dir"
# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./cmd.sh

# ---------------------------------------------------------------------------- checks
for _v in train_set valid_set test_sets; do [ -n "${!_v}" ] || { log "ERROR: --${_v} is required"; exit 2; }; done
[ "${train_set}" != "${valid_set}" ] || die "--train_set and --valid_set must differ (both ${train_set})"
check_test_sets() {
    local t
    for t in ${test_sets}; do
        [ "${t}" != "${train_set}" ] || die "--train_set ${train_set} is also in --test_sets"
    done
}
test_sets_opt=${test_sets}  # "auto" is resolved after stage 1 (resolve_test_sets)
if [ "${test_sets}" != auto ]; then check_test_sets; fi
# Stage ranges: --stage/--stop_stage/--skip_stages name stages of this recipe, and the range runs at
# least one of them (ESPnet's asr.sh would silently do nothing for --stage 5 --stop_stage 3 or --stage 99).
first_stage=1 last_stage=14
for _v in stage stop_stage; do
    [[ "${!_v}" =~ ^[0-9]{1,9}$ ]] \
        || die "--${_v} must be a stage number (an integer; this recipe's stages are ${first_stage}-${last_stage}), got '${!_v}'"
    _n=$((10#${!_v})); printf -v "${_v}" '%s' "${_n}"  # 011 -> 11, not octal
done
[ "${stage}" -le "${stop_stage}" ] \
    || die "--stage ${stage} is after --stop_stage ${stop_stage}: no stage would run (stages run from --stage to --stop_stage; allowed: ${first_stage} <= --stage <= --stop_stage)"
[ "${stage}" -le "${last_stage}" ] \
    || die "--stage ${stage}: this recipe has stages ${first_stage}-${last_stage} (see --help); no stage would run"
[ "${stop_stage}" -ge "${first_stage}" ] \
    || die "--stop_stage ${stop_stage}: this recipe has stages ${first_stage}-${last_stage} (see --help); no stage would run"
_skips=""
for _v in ${skip_stages}; do
    [[ "${_v}" =~ ^[0-9]{1,9}$ ]] && [ "$((10#${_v}))" -ge "${first_stage}" ] && [ "$((10#${_v}))" -le "${last_stage}" ] \
        || die "--skip_stages: '${_v}' is not a stage of this recipe; allowed: stage numbers ${first_stage}-${last_stage}, space-separated (got '${skip_stages}')"
    _skips+=" $((10#${_v}))"
done
skip_stages=${_skips# }
for _v in ngpu num_nodes nj inference_nj nbpe batch_size train_nthreads train_jobs; do
    [[ "${!_v}" =~ ^[0-9]+$ ]] || die "--${_v} must be a non-negative integer, got '${!_v}'"
done
for _v in nj inference_nj train_jobs; do [ "${!_v}" -ge 1 ] || die "--${_v} must be >= 1"; done
case "${token_type}" in bpe|char|word) ;; *) die "--token_type must be bpe, char or word, got '${token_type}'" ;; esac
case "${feats_normalize}" in global_mvn|none) ;; *) die "--feats_normalize must be global_mvn or none, got '${feats_normalize}'" ;; esac
# Sample rate "16k" or "16000" -> integer Hz.
case "${fs}" in
    *k) fs_hz=$(awk -v x="${fs%k}" 'BEGIN { printf "%d", x * 1000 }') ;;
    *) fs_hz=${fs} ;;
esac
[[ "${fs_hz}" =~ ^[0-9]+$ ]] && [ "${fs_hz}" -gt 0 ] || die "--fs must be like 16k or 16000, got '${fs}'"
case "${audio_format}" in wav|flac) ;; *) die "--audio_format must be wav or flac, got '${audio_format}'" ;; esac

# Which stages run: stage <= N <= stop_stage and N not skipped (ESPnet's rules).
if [ "${skip_data_prep}" = true ]; then skip_stages+=" 1 2 3 4 5"; fi
if [ "${skip_train}" = true ]; then skip_stages+=" 2 4 5 6 7 8 9 10 11"; fi
if [ "${skip_eval}" = true ]; then skip_stages+=" 12 13"; fi
if [ "${skip_report}" = true ]; then skip_stages+=" 14"; fi
if [ -n "${probe}" ]; then skip_stages+=" 12 13 14"; fi  # the probe replaces the trainings of stage 11
run_stage() {
    local n=$1
    [ "${stage}" -le "${n}" ] && [ "${stop_stage}" -ge "${n}" ] || return 1
    [[ " ${skip_stages} " != *" ${n} "* ]]
}
any_stage() { local n; for n in "$@"; do run_stage "$n" && return 0; done; return 1; }
# shellcheck disable=SC2046
any_stage $(seq "${first_stage}" "${last_stage}") \
    || die "--stage ${stage} --stop_stage ${stop_stage} with the skipped stages '${skip_stages# }' (--skip_stages and --skip_*): no stage would run"

# Configs: checked up front, so a typo fails before hours of earlier stages.
train_configs=()
read -r -a train_configs <<< "${train_config}"
if any_stage 10 11 12 13 14; then
    [ ${#train_configs[@]} -gt 0 ] || die "--train_config is required for stages 10-14"
    for _c in "${train_configs[@]}"; do
        [ -f "${_c}" ] || die "--train_config: file not found: ${_c}"
    done
fi
# A config listed twice (the same file, however spelled) is trained and evaluated once.
declare -A _seen=()
_unique=()
for _c in ${train_configs[@]+"${train_configs[@]}"}; do
    _r=$(realpath -m -- "${_c}")
    if [ -n "${_seen[${_r}]+x}" ]; then
        log "NOTE: --train_config lists ${_seen[${_r}]} more than once (also as ${_c}); it is trained and evaluated once"
        continue
    fi
    _seen[${_r}]=${_c}
    _unique+=("${_c}")
done
train_configs=(${_unique[@]+"${_unique[@]}"})
train_config="${train_configs[*]}"
unset _seen _unique _r _c
# Seeds: each config trains once per seed (--seed N, exp dir <exp>_seed<N>); stages 11-13 run per
# (config, seed) and the report aggregates the seeds of a policy (mean, sd, range).
_unique=""
for _s in ${seeds}; do
    [[ "${_s}" =~ ^[0-9]{1,9}$ ]] || die "--seeds: '${_s}' is not a seed; allowed: non-negative integers, space-separated (got '${seeds}')"
    _s=$((10#${_s}))
    if [[ " ${_unique} " == *" ${_s} "* ]]; then
        log "NOTE: --seeds lists ${_s} more than once; it is trained once"
        continue
    fi
    _unique+=" ${_s}"
done
seeds=${_unique# }
unset _unique _s
if [ -n "${seeds}" ] && [[ " ${train_args} " =~ [[:space:]]--seed([[:space:]]|=) ]]; then
    die "--seeds '${seeds}' and --train_args '${train_args}' both set the seed; give it in one place"
fi
for _b in ignore_init_mismatch select_by_wer select_keep_only_best; do
    case ${!_b} in true|false) ;; *) die "--${_b}: '${!_b}' is not a boolean; allowed: true, false" ;; esac
done
unset _b
if [ -n "${pretrained_model}" ] && any_stage 11; then
    for _m in ${pretrained_model}; do
        [ -f "${_m%%:*}" ] || die "--pretrained_model: file not found: ${_m%%:*} (from '${_m}'; the form is <file>[:<src_key>[:<dst_key>[:<exclude_keys>]]])"
    done
    unset _m
fi
if [ "${select_keep_only_best}" = true ] && [ "${select_by_wer}" != true ]; then
    die "--select_keep_only_best true needs --select_by_wer true (it deletes the checkpoints the dev WER did not choose)"
fi
# With --select_by_wer the test sets are decoded with the checkpoint the dev WER chose.
if [ "${select_by_wer}" = true ] && [ "${inference_asr_model}" = valid.acc.ave.pth ]; then
    inference_asr_model=valid.wer.best.pth
fi
if [ "${select_by_wer}" = true ] && [ "${transducer_inference_asr_model}" = valid.loss.ave.pth ]; then
    transducer_inference_asr_model=valid.wer.best.pth
fi
# The trainings: one (config, seed) pair per run; seed "" = the config's own seed.
run_configs=() run_seeds=()
for _c in ${train_configs[@]+"${train_configs[@]}"}; do
    if [ -z "${seeds}" ]; then
        run_configs+=("${_c}"); run_seeds+=("")
    else
        for _s in ${seeds}; do run_configs+=("${_c}"); run_seeds+=("${_s}"); done
    fi
done
unset _c _s
if [ -n "${inference_config}" ] && any_stage 12 && [ ! -f "${inference_config}" ]; then
    die "--inference_config: file not found: ${inference_config}"
fi
# The kind of model each config trains (espnet_warmup.recipe.stages.model_kind): "transducer" (decoder:
# transducer) or "attention". A transducer is decoded by ESPnet's transducer beam search with its own
# decoding config and model file (--transducer_inference_config, --transducer_inference_asr_model); a
# config that cannot train a transducer (our model without decoder: transducer ...) is refused here.
declare -A kind_of=()
if any_stage 10 11 12 13 14 && [ ${#train_configs[@]} -gt 0 ]; then
    _kinds=$(python3 -m espnet_warmup.recipe.stages.model_kind --train_args="${train_args}" "${train_configs[@]}") \
        || die "--train_config: see the error above; nothing was run"
    mapfile -t _kind_list <<< "${_kinds}"
    for _i in "${!train_configs[@]}"; do kind_of[${train_configs[${_i}]}]=${_kind_list[${_i}]}; done
    unset _kinds _kind_list _i
fi
is_transducer() { [ "${kind_of[$1]:-}" = transducer ]; }  # is_transducer <config>
if [ -n "${transducer_inference_config}" ] && any_stage 12 && [ ! -f "${transducer_inference_config}" ]; then
    for _c in ${train_configs[@]+"${train_configs[@]}"}; do
        if is_transducer "${_c}"; then die "--transducer_inference_config: file not found: ${transducer_inference_config} (needed to decode ${_c}, a transducer)"; fi
    done
    unset _c
fi
[ -z "${nlsyms_txt}" ] || [ -f "${nlsyms_txt}" ] || die "--nlsyms_txt: file not found: ${nlsyms_txt}"

# ---------------------------------------------------------------------------- names
# Speed perturbation renames the training set (as in ESPnet).
org_train_set=${train_set}
if [ -n "${speed_perturb_factors}" ]; then train_set="${train_set}_sp"; fi
data_feats=${dumpdir}/raw
if [ "${lang}" != noinfo ]; then token_listdir=data/${lang}_token_list; else token_listdir=data/token_list; fi
if [ "${token_type}" = bpe ]; then
    token_dir=${token_listdir}/bpe_${bpemode}${nbpe}
    bpemodel=${token_dir}/bpe.model
    tok_tag=bpe${nbpe}
else
    token_dir=${token_listdir}/${token_type}
    bpemodel=none
    tok_tag=${token_type}
fi
token_list=${token_dir}/tokens.txt
[ -n "${nlsyms_txt}" ] || nlsyms_txt=${token_listdir}/nlsyms.txt
asr_stats_dir=${expdir}/asr_stats_raw
if [ "${lang}" != noinfo ]; then asr_stats_dir+="_${lang}"; fi
asr_stats_dir+="_${tok_tag}"
if [ -n "${speed_perturb_factors}" ]; then asr_stats_dir+="_sp"; fi

# One exp dir per config and seed: <expdir>/asr_<config basename>[_<asr_tag>][_seed<N>].
exp_of() {  # exp_of <config> [seed]
    local name seed=${2:-}
    name=$(basename "$1"); name=${name%.yaml}; name=${name%.yml}
    echo "${expdir}/asr_${name}${asr_tag:+_${asr_tag}}${seed:+_seed${seed}}"
}
run_args() {  # run_args [seed]: --train_args of one training (with --init_param for --pretrained_model, --seed N for a seed run)
    local a=${train_args} m
    for m in ${pretrained_model}; do a+="${a:+ }--init_param ${m}"; done
    if [ -n "${pretrained_model}" ]; then a+=" --ignore_init_mismatch ${ignore_init_mismatch}"; fi
    echo "${a}${1:+${a:+ }--seed $1}"
}
run_label() {  # run_label <config> [seed]: the config, and its seed for a seed run
    echo "$1${2:+ (seed $2)}"
}
# Exp dirs are unique per config path: configs of the same file name from different folders
# (which exp_of maps to one dir), or a config whose exp dir another config trained, are refused
# before any stage runs (train_guard names; each exp dir records its config in train_record.yaml).
if any_stage 10 11 12 13 14; then
    _pairs=()
    for _i in "${!run_configs[@]}"; do _pairs+=("${run_configs[${_i}]}" "$(exp_of "${run_configs[${_i}]}" "${run_seeds[${_i}]}")"); done
    python3 -m espnet_warmup.recipe.stages.train_guard names "${_pairs[@]}" >&2 \
        || die "--train_config: configs and exp dirs do not match one to one (see above); nothing was run"
    unset _pairs _i
fi
# Decoding per experiment: the config and model file of its kind, and the decode dir named after them
# (<exp>/<tag>/<test set>; --inference_tag names it for every experiment).
inference_config_of() {  # inference_config_of <training config>
    if is_transducer "$1"; then echo "${transducer_inference_config:-${inference_config}}"; else echo "${inference_config}"; fi
}
inference_model_of() {  # inference_model_of <training config>: the model file of its exp dir to decode with
    if is_transducer "$1"; then echo "${transducer_inference_asr_model}"; else echo "${inference_asr_model}"; fi
}
decode_tag() {  # decode_tag <decoding config or ""> <model file>
    local tag
    if [ -n "${inference_tag}" ]; then echo "${inference_tag}"; return 0; fi
    if [ -n "$1" ]; then tag=$(basename "$1"); tag=${tag%.yaml}; else tag=decode; fi
    if [ -n "${inference_args}" ]; then
        tag+="$(echo "${inference_args}" | sed -e 's/--/_/g' -e 's/[ |=/]//g')"
    fi
    echo "${tag}_asr_model_$(echo "$2" | sed -e 's/\//_/g' -e 's/\.[^.]*$//')"
}
decode_tag_of() {  # decode_tag_of <training config>: its decode dir name
    decode_tag "$(inference_config_of "$1")" "$(inference_model_of "$1")"
}
# The formatted copy of a set: train/valid are formatted into org/ and filtered by length into raw/.
formatted_dir() {
    if [ "$1" = "${train_set}" ] || [ "$1" = "${valid_set}" ]; then echo "${data_feats}/org/$1"; else echo "${data_feats}/$1"; fi
}

# ---------------------------------------------------------------------------- bookkeeping
# stage <n> <out dir> <signature> <what> <fn> [args...]: one unit of work of stage n.
# Its output counts as finished when <out dir>/.done holds the signature of its inputs and
# settings: then it logs "already done, skipped". Otherwise it logs one line, removes the
# marker, runs <fn args> and writes the marker last (after the outputs were renamed into
# place), so an interrupted stage is redone and a changed setting redoes the work it affects.
declare -A stage_names=([1]="Data preparation" [2]="Speed perturbation" [3]="Format audio" [4]="Filter by length"
    [5]="Token list" [10]="Collect stats" [11]="Training" [12]="Decoding" [13]="Scoring" [14]="Report")
# The unit runs in a background subshell that the shell waits for, so a signal's trap acts at once
# (see on_signal); a failed unit still stops the run (set -e). A training (stage 11) holds its exp
# dir's lock (lock_exp) for its whole life: one trainer per exp dir.
stage() {
    local n=$1 out=$2 sig=$3 what=$4
    shift 4
    if is_done "${out}/.done" "${sig}"; then
        log "Stage ${n}: ${stage_names[${n}]}: ${out} already done, skipped"
        return 0
    fi
    log "Stage ${n}: ${stage_names[${n}]}: ${what}"
    _stage_now="Stage ${n} (${what})"
    (
        if [ "${n}" = 11 ]; then lock_exp "${out}"; fi
        rm -f "${out}/.done"
        "$@"
    ) &
    wait $!
    [ -z "${_signal}" ] || exit $((128 + $(kill -l "${_signal}")))  # never a marker after a signal
    mark_done "${out}/.done" "${sig}"
    _stage_now=""
}
lock_exp() {  # lock_exp <exp dir>: hold <exp>/.lock (fd 9, kept by this subshell and its children)
    local msg holder=${BASHPID}  # this subshell (inside $(...) BASHPID would be that of the substitution)
    mkdir -p "$1"
    exec 9>> "$1/.lock"
    msg=$(python3 -m espnet_warmup.recipe.launchers.exp_lock --fd 9 --holder "${holder}" "$1" 2>&1) || die "${msg}"
}
checksum() {  # checksum of files (missing ones count as "missing")
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then md5sum < "$f" | cut -d' ' -f1; else echo "missing:$f"; fi
    done | md5sum | cut -d' ' -f1
}
is_done() {  # is_done <marker> <signature>
    [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}
mark_done() {  # mark_done <marker> <signature>
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" > "$1.tmp"
    mv "$1.tmp" "$1"
}
# Each stage that launches jobs leaves <dir>/run.sh: the command that resumes from that stage.
write_resume_script() {  # write_resume_script <dir> <stage> [extra options...]
    local dir=$1 st=$2
    shift 2
    mkdir -p "${dir}"
    {
        echo "#!/usr/bin/env bash"
        echo "# Generated by ${0##*/} on $(date '+%Y-%m-%dT%H:%M:%S'): resumes the recipe at stage ${st}."
        printf 'cd %q || exit 1\n' "${PWD}"
        printf '%q ' "$0" ${orig_args[@]+"${orig_args[@]}"} "$@" --stage "${st}"
        echo '"$@"'
    } > "${dir}/run.sh.tmp"
    chmod +x "${dir}/run.sh.tmp"
    mv "${dir}/run.sh.tmp" "${dir}/run.sh"
}
record_command() {  # record_command <dir> <name> <command...>: <dir>/commands.sh, for its RESULTS.md
    python3 -m espnet_warmup.recipe.stages.commands "$1/commands.sh" "$2" -- "${@:3}"
}
# On a failed job: say which log to read, then the cause in words (no space left on <mount>, killed
# by signal N, corrupt file X, the exception), the log's last error lines and what to do.
report_failure() {  # report_failure <what> <log or glob>
    local what=$1 logs=$2
    log "ERROR: ${what} failed; read the log: ${logs}"
    # shellcheck disable=SC2086
    python3 -m espnet_warmup.recipe.stages.failure ${logs} >&2 \
        || log "(the failure summary itself failed; read ${logs})"
    exit 1
}
need_binary() {  # need_binary <program> <why>
    command -v "$1" > /dev/null 2>&1 || die "'$1' not found on PATH; it is needed for $2 (install it, e.g. apt-get install $1)"
}
validate_data_dir() {  # validate_data_dir <dir>...
    python3 -m espnet_warmup.recipe.datadir validate "$@" || die "invalid data dir(s): $* (see the errors above)"
}
njobs() {  # njobs <max> <scp>...: the number of jobs, at most one per line of each scp
    local n=$1 f
    shift
    for f in "$@"; do n=$(min "${n}" "$(wc -l < "${f}")"); done
    echo "${n}"
}
split_scp() {  # split_scp <n> <scp> <prefix>: <prefix>.1.scp ... <prefix>.<n>.scp
    local -a outs=()
    local i
    for i in $(seq "$1"); do outs+=("$3.${i}.scp"); done
    python3 -m espnet_warmup.recipe.stages.scp split "$2" "${outs[@]}"
}
run_or_die() {  # run_or_die <message> <command...>: run the command; if it fails, die with the message
    local msg=$1
    shift
    "$@" || die "${msg}"
}
resolve_test_sets() {  # --test_sets auto: the sets named in data/test_sets (local/data.sh writes it in stage 1)
    [ "${test_sets_opt}" = auto ] || return 0
    [ -s data/test_sets ] || die "--test_sets auto: data/test_sets not found or empty (local/data.sh writes it in stage 1; run stage 1 first)"
    test_sets=$(cat data/test_sets)
    check_test_sets
}

# ---------------------------------------------------------------------------- stages 1-5: data
data_prep() {  # data_prep <local/data.sh options...>
    local d
    local/data.sh "$@" || die "local/data.sh $* failed (exit $?); see the messages above"
    resolve_test_sets
    for d in ${org_train_set} ${valid_set} ${test_sets}; do validate_data_dir "data/${d}"; done
}
kaldi_sources_stamp() {  # size and mtime of every kaldi:<dir> source's files: an edited dir redoes stage 1
    local w d f
    for w in ${corpus} ${local_data_opts}; do
        [[ "${w}" == kaldi:* ]] || continue
        d=${w#kaldi:}; d=${d%%:*}
        for f in wav.scp text segments utt2spk utt2lang utt2dur; do
            [ -f "${d}/${f}" ] && printf ' %s' "${d}/${f}:$(stat -c '%s:%Y' "${d}/${f}")"
        done
    done
    return 0
}
stage_1_data_prep() {
    [ -x local/data.sh ] || die "local/data.sh not found or not executable in ${PWD}"
    local opts="${corpus:+--corpus ${corpus} }${local_data_opts}" d
    if [ "${test_sets_opt}" != auto ] || [ -s data/test_sets ]; then resolve_test_sets; fi
    for d in ${org_train_set} ${valid_set} ${test_sets}; do [ -f "data/${d}/wav.scp" ] || rm -f data/.done; done
    # shellcheck disable=SC2086
    stage 1 data "local/data.sh ${opts} sets=${org_train_set},${valid_set},${test_sets_opt}$(kaldi_sources_stamp)" \
        "local/data.sh ${opts}" data_prep ${opts}
}
stage_2_speed_perturb() {
    if [ -z "${speed_perturb_factors}" ]; then
        log "Stage 2: Speed perturbation: no --speed_perturb_factors, skipped"
        return 0
    fi
    need_binary sox "speed perturbation (--speed_perturb_factors)"
    validate_data_dir "data/${org_train_set}"
    stage 2 "data/${train_set}" "factors=${speed_perturb_factors} src=$(checksum data/${org_train_set}/{wav.scp,text})" \
        "data/${org_train_set} -> data/${train_set} (factors ${speed_perturb_factors})" \
        run_or_die "speed perturbation failed" python3 -m espnet_warmup.recipe.stages.speed_perturb \
        --factors "${speed_perturb_factors}" "data/${org_train_set}" "data/${train_set}"
}
format_audio_set() {  # format_audio_set <set> <out dir>: one set's audio through a JOB=1:N array
    local src=data/$1 out=$2 logdir=$2/logdir n
    rm -rf "${out}"
    python3 -m espnet_warmup.recipe.datadir copy "${src}" "${out}"
    n=$(njobs "${nj}" "${src}/wav.scp")
    split_scp "${n}" "${src}/wav.scp" "${logdir}/keys"
    local -a cmd=(python3 -m espnet_warmup.recipe.stages.format_audio --fs "${fs_hz}" --audio-format "${audio_format}"
        --audio-dir "${out}/data/format.JOB" --out-wav-scp "${logdir}/wav.JOB.scp"
        --out-num-samples "${logdir}/utt2num_samples.JOB" "${logdir}/keys.JOB.scp")
    write_resume_script "${out}" 3
    ${train_cmd} JOB=1:"${n}" "${logdir}/format_audio.JOB.log" "${cmd[@]}" \
        || report_failure "Formatting the audio of ${src}" "${logdir}/format_audio.*.log"
    run_or_die "merging the formatted parts of ${out} failed" python3 -m espnet_warmup.recipe.stages.job_outputs \
        format --nj "${n}" --audio_format "${audio_format}" "${out}"
    validate_data_dir "${out}"
}
stage_3_format_audio() {
    local dset out
    for dset in "${train_set}" "${valid_set}" ${test_sets}; do
        out=$(formatted_dir "${dset}")
        validate_data_dir "data/${dset}"
        stage 3 "${out}" "fs=${fs_hz} format=${audio_format} src=$(checksum data/${dset}/{wav.scp,text,utt2spk})" \
            "data/${dset} -> ${out} at ${fs_hz} Hz as ${audio_format}" format_audio_set "${dset}" "${out}"
    done
}
stage_4_filter_by_length() {
    local dset src
    for dset in "${train_set}" "${valid_set}"; do
        src=${data_feats}/org/${dset}
        [ -f "${src}/.done" ] || die "${src} is not formatted yet: run stage 3 first"
        stage 4 "${data_feats}/${dset}" "min=${min_wav_duration} max=${max_wav_duration} src=$(cat "${src}/.done")" \
            "${src} -> ${data_feats}/${dset} (${min_wav_duration} s < duration < ${max_wav_duration} s)" \
            run_or_die "length filtering of ${src} failed" python3 -m espnet_warmup.recipe.stages.length_filter \
            --fs "${fs_hz}" --min "${min_wav_duration}" --max "${max_wav_duration}" "${src}" "${data_feats}/${dset}"
    done
}
stage_5_token_list() {
    local text=${data_feats}/${train_set}/text given=""
    [ -f "${text}" ] || die "${text} not found: run stages 3-4 first"
    # Without --nlsyms_txt, the <...> words of the train text become the symbols file.
    local -a nlsyms=(--nlsyms-out "${nlsyms_txt}")
    if [ "${nlsyms_txt}" != "${token_listdir}/nlsyms.txt" ]; then given=${nlsyms_txt}; nlsyms=(--nlsyms "${given}"); fi
    [ -f "${token_list}" ] || rm -f "${token_dir}/.done"
    stage 5 "${token_dir}" \
        "type=${token_type} nbpe=${nbpe} mode=${bpemode} nlsyms=${nlsyms_txt} text=$(checksum "${text}" ${given:+"${given}"})" \
        "${text} -> ${token_list} (${token_type})" \
        run_or_die "making the token list failed" python3 -m espnet_warmup.recipe.stages.token_list \
        --token-type "${token_type}" --nbpe "${nbpe}" --bpemode "${bpemode}" --text "${text}" "${nlsyms[@]}" --outdir "${token_dir}"
}

# ---------------------------------------------------------------------------- stages 10-11: training
# Options shared by collect-stats and training.
common_train_opts() {
    local opts="--use_preprocessor true --token_type ${token_type} --token_list ${token_list}"
    opts+=" --non_linguistic_symbols ${nlsyms_txt} --cleaner none --g2p none"
    if [ "${token_type}" = bpe ]; then opts+=" --bpemodel ${bpemodel}"; fi
    echo "${opts} --frontend_conf fs=${fs_hz}"
}
# The speech/text inputs of the train and valid sets (collect stats and training read the same).
data_opts() {
    local part set
    for part in train valid; do
        if [ "${part}" = train ]; then set=${train_set}; else set=${valid_set}; fi
        echo " --${part}_data_path_and_name_and_type ${data_feats}/${set}/wav.scp,speech,sound"
        echo " --${part}_data_path_and_name_and_type ${data_feats}/${set}/text,text,text"
    done
}
# Training goes through our launcher, which registers the warmup schedulers in ESPnet.
asr_train="${python} -m espnet_warmup -m espnet2.bin.asr_train"
# The fingerprint of the configs' frontend: the stats depend on it only (and on --train_args naming
# it), so the policies of a run share them and --train_args "--max_epoch 1" keeps them.
stats_key() {
    python3 -m espnet_warmup.recipe.stages.stats_key --train_args="${train_args}" "${train_configs[@]}"
}
collect_stats() {  # collect_stats <n jobs>
    local n=$1 logdir=${asr_stats_dir}/logdir
    rm -rf "${logdir}"
    split_scp "${n}" "${data_feats}/${train_set}/wav.scp" "${logdir}/train"
    split_scp "${n}" "${data_feats}/${valid_set}/wav.scp" "${logdir}/valid"
    # shellcheck disable=SC2046,SC2086
    local -a cmd=(${asr_train} --collect_stats true $(common_train_opts) $(data_opts)
        --train_shape_file "${logdir}/train.JOB.scp" --valid_shape_file "${logdir}/valid.JOB.scp"
        --output_dir "${logdir}/stats.JOB" --config "${train_configs[0]}" ${train_args})
    write_resume_script "${asr_stats_dir}" 10
    ${train_cmd} JOB=1:"${n}" "${logdir}/stats.JOB.log" "${cmd[@]}" \
        || report_failure "Collecting statistics (espnet2.bin.asr_train --collect_stats true)" "${logdir}/stats.*.log"
    ${python} -m espnet_warmup.recipe.stages.job_outputs stats --nj "${n}" --token_list "${token_list}" \
        --token_type "${token_type}" "${asr_stats_dir}" > "${logdir}/aggregate.log" 2>&1 \
        || report_failure "Aggregating statistics" "${logdir}/aggregate.log"
    record_command "${asr_stats_dir}" "stage 10: collect stats (JOB=1:${n})" "${cmd[@]}"
}
stage_10_collect_stats() {
    local f key n
    for f in "${token_list}" "${data_feats}/${train_set}/wav.scp" "${data_feats}/${valid_set}/wav.scp"; do
        [ -f "${f}" ] || die "${f} not found: run stages 1-5 first"
    done
    key=$(stats_key) || die "--train_config: see the error above"
    n=$(njobs "${nj}" "${data_feats}/${train_set}/wav.scp" "${data_feats}/${valid_set}/wav.scp")
    stage 10 "${asr_stats_dir}" "frontend=${key} tokens=$(checksum "${token_list}") data=$(checksum \
        ${data_feats}/${train_set}/{wav.scp,text} ${data_feats}/${valid_set}/{wav.scp,text}) fs=${fs_hz}" \
        "${asr_stats_dir} (${n} jobs, config ${train_configs[0]})" collect_stats "${n}"
}
# The options of a training on this recipe's data and stats (stage 11 and the probe): tokens,
# normalization (given here, not in the config: global_mvn in the config breaks --collect_stats),
# data, shape files, fold lengths.
training_data_opts() {
    local opts
    opts="$(common_train_opts)"
    if [ "${feats_normalize}" = global_mvn ]; then
        opts+=" --normalize global_mvn --normalize_conf stats_file=${asr_stats_dir}/train/feats_stats.npz"
    fi
    opts+="$(data_opts | tr '\n' ' ')"
    opts+=" --train_shape_file ${asr_stats_dir}/train/speech_shape --train_shape_file ${asr_stats_dir}/train/text_shape.${token_type}"
    opts+=" --valid_shape_file ${asr_stats_dir}/valid/speech_shape --valid_shape_file ${asr_stats_dir}/valid/text_shape.${token_type}"
    echo "${opts} --fold_length $((speech_fold_length * 100)) --fold_length ${text_fold_length}"
}
train_policy() {  # train_policy <config> <exp dir> <seed>: one training, through espnet2.bin.launch
    local config=$1 exp=$2 seed=$3 targs
    targs=$(run_args "${seed}")
    python3 -m espnet_warmup.recipe.stages.checkpoints check "${exp}" || die "${exp} was not trained: its checkpoint files need you first (see the checkpoints ERROR above)"
    # Fine-tuning: --init_param and freeze_param checked against the model this training builds
    # (a no-op without them); every problem is listed, no training starts.
    # shellcheck disable=SC2046,SC2086
    python3 -m espnet_warmup.recipe.stages.init_check -- $(training_data_opts) --output_dir "${exp}" --config "${config}" ${targs} \
        || die "${exp}: --pretrained_model/freeze_param refused (see the ERROR lines above); no training was started"
    # shellcheck disable=SC2046,SC2086
    local -a cmd=(env "OMP_NUM_THREADS=$(( train_nthreads > 0 ? train_nthreads : 1 ))" ${python} -m espnet2.bin.launch
        --cmd "${cuda_cmd} --name $(basename "${exp}")" --log "${exp}/train.log" --ngpu "${ngpu}" --num_nodes "${num_nodes}"
        --init_file_prefix "${exp}/.dist_init_" --multiprocessing_distributed true
        -- ${asr_train} $(training_data_opts) --resume true --output_dir "${exp}" --config "${config}" ${targs})
    write_resume_script "${exp}" 11 --train_config "${config}" ${seed:+--seeds "${seed}"}
    rm -f "${exp}/commands.sh"  # a new training starts the experiment's record afresh
    record_command "${exp}" "stage 11: train" "${cmd[@]}"
    run_training "${exp}" "${cmd[@]}"
    if [ "${select_by_wer}" = true ]; then
        compgen -G "${exp}/[0-9]*epoch.pth" > /dev/null \
            || die "training finished but ${exp} keeps no <N>epoch.pth for --select_by_wer (keep_nbest_models?); read ${exp}/train.log"
    else
        local model opt=--inference_asr_model
        model=$(inference_model_of "${config}")
        if is_transducer "${config}"; then opt=--transducer_inference_asr_model; fi
        [ -f "${exp}/${model}" ] \
            || die "training finished but ${exp}/${model} is missing; read ${exp}/train.log (${opt} must name a model the trainer writes: valid.<criterion>.ave.pth for the config's best_model_criterion)"
    fi
}
run_training() {  # run_training <exp dir> <command...>: run it (under the monitor); a failure names its log
    local exp=$1 rc=0
    shift
    if [ "${monitor}" = true ]; then
        # The monitor runs the training, warns (console, monitor.log) on the paper's failure signature:
        # sustained grad-norm spikes, non-finite (skipped) updates, a rising loss; exit 4: it stopped it.
        python3 -m espnet_warmup.recipe.analysis.monitor --log "${exp}/train.log" --out "${exp}/monitor.log" \
            --stop_on_divergence "${stop_on_divergence}" --child_log "${exp}/launch.log" -- "$@" || rc=$?
    else
        "$@" > "${exp}/launch.log" 2>&1 || rc=$?
    fi
    [ "${rc}" -ne 0 ] || return 0
    if [ "${monitor}" = true ] && [ "${rc}" -eq 4 ]; then
        die "Training ${exp} was stopped by the divergence monitor (read ${exp}/monitor.log); the last complete epoch checkpoint is ${exp}/checkpoint.pth"
    fi
    # The cause first (report_failure); the launcher's own log only when the training never wrote one.
    if [ -s "${exp}/train.log" ]; then report_failure "Training ${exp}" "${exp}/train.log"; fi
    report_failure "Training ${exp}" "${exp}/launch.log"
}
stats_sig() { md5sum < "${asr_stats_dir}/.done" | cut -d' ' -f1; }
train_one() {  # train_one <config> <seed>: stage 11 for one run (stage_11_train's train_guard check passed)
    local config=$1 seed=$2 exp sig targs
    exp=$(exp_of "${config}" "${seed}")
    targs=$(run_args "${seed}")
    sig="config=$(checksum "${config}") args=${targs} stats=$(stats_sig) ngpu=${ngpu}"
    local model
    model=${exp}/$(inference_model_of "${config}")
    if [ "${select_by_wer}" = true ]; then model=${exp}/checkpoint.pth; fi  # valid.wer.best.pth is made by stage 12
    if [ -f "${exp}/.done" ] && [ -f "${model}" ] && ! is_done "${exp}/.done" "${sig}"; then
        # train_guard found no difference ESPnet sees (comments, defaults, --ngpu): the model stands.
        log "Stage 11: Training: ${exp}: ${config} differs from what trained it only where ESPnet sees no difference (comments, defaults, --ngpu); kept, not retrained"
        mark_done "${exp}/.done" "${sig}"
    fi
    if [ -f "${exp}/.done" ] && [ ! -f "${model}" ]; then
        log "WARNING: ${exp} is marked done but ${model} is missing; running its training again with the same config to make it"
        rm -f "${exp}/.done"
    fi
    if ! is_done "${exp}/.done" "${sig}"; then
        python3 -m espnet_warmup.recipe.stages.train_guard record --train_args="${targs}" --stats "$(stats_sig)" \
            "${config}" "${exp}" || die "could not write ${exp}/train_record.yaml"
    fi
    stage 11 "${exp}" "${sig}" "$(run_label "${config}" "${seed}") -> ${exp} (log: ${exp}/train.log)" \
        train_policy "${config}" "${exp}" "${seed}"
}
stage_11_train() {
    local key config i seed
    # Every config passes check-config before any training starts (all configs checked, all errors
    # listed; its problem lines "<config>: <key>: ..." are relayed as ERROR lines).
    local cc_out line c
    if ! cc_out=$(python3 -m espnet_warmup.cli check-config --no_registration_note "${train_configs[@]}" 2>&1); then
        while IFS= read -r line; do
            for c in "${train_configs[@]}"; do
                if [[ "${line}" == "${c}: "* && "${line}" != "${c}: OK" ]]; then line="ERROR: ${line}"; break; fi
            done
            printf '%s
' "${line}" >&2
        done <<< "${cc_out}"
        die "check-config found errors in --train_config (listed above); fix them and rerun (no training was started)"
    fi
    log "check-config: ${#train_configs[@]} training config(s) OK"
    [ -f "${asr_stats_dir}/.done" ] || die "${asr_stats_dir} is not finished: run stage 10 first"
    key=$(stats_key) || die "--train_config: see the error above"
    [[ "$(cat "${asr_stats_dir}/.done")" == "frontend=${key} "* ]] \
        || die "${asr_stats_dir} was collected for another frontend than ${train_configs[*]}: run stage 10 again"
    # Before any training starts, no training would resume or relabel an exp dir trained with
    # another config (train_guard check: every refusal listed).
    # (Once per seed: the seed is part of each run's --train_args.)
    local -a pairs=()
    local refused=false
    for seed in ${seeds:-""}; do
        pairs=()
        for config in "${train_configs[@]}"; do pairs+=("${config}" "$(exp_of "${config}" "${seed}")"); done
        python3 -m espnet_warmup.recipe.stages.train_guard check --train_args="$(run_args "${seed}")" \
            --stats "$(stats_sig)" "${pairs[@]}" >&2 || refused=true
    done
    [ "${refused}" = false ] || die "stage 11 refused (see above); no training was started"
    # On a CPU, training may use every core (path.sh sets OMP_NUM_THREADS=1 for parallel jobs),
    # shared by the --train_jobs trainings that run at the same time.
    if [ "${ngpu}" -eq 0 ] && [ "${train_nthreads}" -eq 0 ]; then
        local cores; cores=$(cpu_cores)
        train_nthreads=$(( cores / train_jobs > 0 ? cores / train_jobs : 1 ))
    fi
    if [ "${train_jobs}" -le 1 ]; then
        for i in "${!run_configs[@]}"; do train_one "${run_configs[${i}]}" "${run_seeds[${i}]}"; done
        return 0
    fi
    # Up to --train_jobs runs (configs x seeds) at a time; each failure is reported by its own
    # train_one. A signal stops them all (on_signal: the trap acts while the shell waits here).
    local -a pids=() names=() failed=()
    _stage_now="Stage 11 (${#run_configs[@]} training(s), ${train_jobs} at a time)"
    for i in "${!run_configs[@]}"; do
        if [ ${#pids[@]} -ge "${train_jobs}" ]; then
            wait "${pids[0]}" || failed+=("${names[0]}")
            pids=("${pids[@]:1}"); names=("${names[@]:1}")
        fi
        train_one "${run_configs[${i}]}" "${run_seeds[${i}]}" &
        pids+=($!); names+=("$(run_label "${run_configs[${i}]}" "${run_seeds[${i}]}")")
    done
    for i in "${!pids[@]}"; do wait "${pids[${i}]}" || failed+=("${names[${i}]}"); done
    _stage_now=""
    if [ ${#failed[@]} -gt 0 ]; then
        local joined
        joined=$(printf '%s, ' "${failed[@]}")
        die "training failed for ${joined%, } (the errors and logs are named above)"
    fi
}

# The stability probe (--probe "<configs>"): short seeded trainings of the first --train_config with
# each probed config's scheduler over a range of peak LRs, on this recipe's data and stats, through
# ${cuda_cmd} (--train_jobs at a time with run.pl); results in <expdir>/probe_<config>/.
stage_11_probe() {
    local base=${train_configs[0]} c out
    local -a policies=()
    for c in ${probe}; do
        [ -f "${c}" ] || die "--probe: file not found: ${c}"
        policies+=(--policy "${c}")
    done
    [ -f "${asr_stats_dir}/.done" ] || die "${asr_stats_dir} is not finished: run stage 10 first"
    out=$(exp_of "${base}"); out=${expdir}/probe_${out#"${expdir}/asr_"}
    log "Stage 11: Stability probe: ${base} x {${probe}} -> ${out}/probe.md"
    _stage_now="Stage 11 (stability probe)"
    local -a extra=()
    mapfile -t extra < <(python3 -c 'import shlex, sys; print("\n".join(shlex.split(sys.argv[1])))' "${probe_args}") \
        || die "--probe_args: cannot split '${probe_args}' into options (unbalanced quotes?)"
    [ -n "${probe_args}" ] || extra=()
    python3 -m espnet_warmup.cli probe --base "${base}" "${policies[@]}" --workdir "${out}" \
        --cmd "${cuda_cmd}" --nj "${train_jobs}" --ngpu "${ngpu}" \
        --train_args "$(training_data_opts) ${train_args}" ${extra[@]+"${extra[@]}"} &
    wait $! || die "the stability probe failed (see above; finished runs are kept, rerun to continue)"
    _stage_now=""
    log "Stability probe: ${out}/probe.md"
    grep -E '^\|' "${out}/probe.md" | head -n 12 >&2 || true
}

# ---------------------------------------------------------------------------- stages 12-14: evaluation
decode_set() {  # decode_set <config> <seed> <set> <decode dir> <n jobs> [model file of the exp dir]
    local config=$1 seed=$2 dset=$3 dir=$4 n=$5 model=${6:-} exp data=${data_feats}/$3 logdir=$4/logdir ngpu_inf=0 cmd_inf=${decode_cmd} inf_config
    exp=$(exp_of "${config}" "${seed}")
    inf_config=$(inference_config_of "${config}")
    [ -n "${model}" ] || model=$(inference_model_of "${config}")
    if [ "${gpu_inference}" = true ]; then cmd_inf=${cuda_cmd}; ngpu_inf=1; fi
    rm -rf "${logdir}"
    split_scp "${n}" "${data}/wav.scp" "${logdir}/keys"
    # shellcheck disable=SC2086
    # Through the launcher too: with path.sh's ESPNET_WARMUP_QUIET_IMPORTS=1 it keeps ESPnet's import-time
    # notices (nltk download attempts, flash-attention) out of the decoding logs.
    local -a cmd=(${python} -m espnet_warmup -m espnet2.bin.asr_inference --batch_size "${batch_size}" --ngpu "${ngpu_inf}"
        --data_path_and_name_and_type "${data}/wav.scp,speech,sound" --key_file "${logdir}/keys.JOB.scp"
        --asr_train_config "${exp}/config.yaml" --asr_model_file "${exp}/${model}"
        --output_dir "${logdir}/output.JOB" ${inf_config:+--config "${inf_config}"} ${inference_args})
    write_resume_script "${dir}" 12 --train_config "${config}" ${seed:+--seeds "${seed}"}
    record_command "${exp}" "stage 12: decode ${dset} (JOB=1:${n})" "${cmd[@]}"
    ${cmd_inf} --gpu "${ngpu_inf}" JOB=1:"${n}" "${logdir}/asr_inference.JOB.log" "${cmd[@]}" \
        || report_failure "Decoding ${dset} with ${exp}" "${logdir}/asr_inference.*.log"
    run_or_die "merging the decoding outputs of ${dir} failed" python3 -m espnet_warmup.recipe.stages.job_outputs \
        decode --nj "${n}" --keys "${data}/wav.scp" "${dir}"
}
# --select_by_wer: the valid set decoded and scored with every kept <N>epoch.pth (each a unit of
# stages 12/13 with its own marker), then select_checkpoint links the lowest dev WER as valid.wer.best.pth.
select_checkpoint() {  # select_checkpoint <config> <seed> <config checksum>
    local config=$1 seed=$2 config_sum=$3 exp ckpt name dir n
    local -a keep=()
    exp=$(exp_of "${config}" "${seed}")
    [ -f "${data_feats}/${valid_set}/wav.scp" ] || die "${data_feats}/${valid_set}/wav.scp not found: run stages 3-4 first"
    n=$(njobs "${inference_nj}" "${data_feats}/${valid_set}/wav.scp")
    for ckpt in "${exp}"/[0-9]*epoch.pth; do
        [ -f "${ckpt}" ] || continue
        name=$(basename "${ckpt}" .pth)
        dir=${exp}/select_wer/${name}/${valid_set}
        [ -f "${dir}/text" ] || rm -f "${dir}/.done"
        stage 12 "${dir}" \
            "model=$(checksum "${ckpt}") data=$(checksum "${data_feats}/${valid_set}/wav.scp") config=${config_sum} args=${inference_args} bs=${batch_size}" \
            "checkpoint selection: ${exp}/${name}.pth on ${valid_set} (${n} jobs) -> ${dir}" \
            decode_set "${config}" "${seed}" "${valid_set}" "${dir}" "${n}" "${name}.pth"
        [ -f "${dir}/scores.json" ] || rm -f "${dir}/score_wer/.done"
        stage 13 "${dir}/score_wer" "hyp=$(md5sum < "${dir}/.done" | cut -d' ' -f1) ref=$(checksum "${data_feats}/${valid_set}/text")" \
            "${dir}" score_set "${exp}" "${valid_set}" "${dir}"
    done
    [ "${select_keep_only_best}" = true ] && keep=(--keep_only_best)
    run_or_die "checkpoint selection for ${exp} failed" python3 -m espnet_warmup.recipe.stages.select_checkpoint \
        "${exp}" --set "${valid_set}" ${keep[@]+"${keep[@]}"}
    log "Checkpoint selection: ${exp}/checkpoint_selection.md"
}
stage_12_decode() {
    local config seed i exp model model_sum config_sum inf_config how dset dir n
    for i in "${!run_configs[@]}"; do
        config=${run_configs[${i}]} seed=${run_seeds[${i}]}
        exp=$(exp_of "${config}" "${seed}")
        inf_config=$(inference_config_of "${config}")
        config_sum=$(checksum ${inf_config:+"${inf_config}"})
        how="decoding config ${inf_config:-none, ESPnet defaults}"
        if is_transducer "${config}"; then how="transducer beam search, ${how}"; fi
        if [ "${select_by_wer}" = true ]; then select_checkpoint "${config}" "${seed}" "${config_sum}"; fi
        model=${exp}/$(inference_model_of "${config}")
        [ -f "${model}" ] || die "${model} not found: run stage 11 for $(run_label "${config}" "${seed}") first"
        model_sum=$(checksum "${model}")  # once per model, not once per test set
        for dset in ${test_sets}; do
            dir=${exp}/$(decode_tag_of "${config}")/${dset}
            [ -f "${data_feats}/${dset}/wav.scp" ] || die "${data_feats}/${dset}/wav.scp not found: run stage 3 first"
            [ -f "${dir}/text" ] || rm -f "${dir}/.done"
            n=$(njobs "${inference_nj}" "${data_feats}/${dset}/wav.scp")
            stage 12 "${dir}" \
                "model=${model_sum} data=$(checksum "${data_feats}/${dset}/wav.scp") config=${config_sum} args=${inference_args} bs=${batch_size}" \
                "${exp} on ${dset} (${n} jobs; ${how}) -> ${dir}" decode_set "${config}" "${seed}" "${dset}" "${dir}" "${n}"
        done
    done
}
remove_tokens() {  # the non-linguistic symbols, removed from ref and hyp before scoring
    if [ -f "${nlsyms_txt}" ]; then tr '\n' ' ' < "${nlsyms_txt}" | sed 's/ *$//'; fi
}
score_set() {  # score_set <exp dir> <set> <decode dir>
    local exp=$1 dset=$2 dir=$3 ref=${data_feats}/$2
    local -a cmd=(python3 -m espnet_warmup.recipe.scoring.cli --ref "${ref}/text" --hyp "${dir}/text"
        --utt2spk "${ref}/utt2spk" --remove_tokens "$(remove_tokens)" --outdir "${dir}")
    if [ -f "${ref}/utt2lang" ]; then cmd+=(--utt2lang "${ref}/utt2lang"); fi
    record_command "${exp}" "stage 13: score ${dset}" "${cmd[@]}"
    "${cmd[@]}" > "${dir}/score.log" 2>&1 || { cat "${dir}/score.log" >&2; report_failure "Scoring ${dir}" "${dir}/score.log"; }
    log "$(tail -n 1 "${dir}/score.log")"
}
stage_13_score() {
    local i exp dset dir
    for i in "${!run_configs[@]}"; do
        exp=$(exp_of "${run_configs[${i}]}" "${run_seeds[${i}]}")
        for dset in ${test_sets}; do
            dir=${exp}/$(decode_tag_of "${run_configs[${i}]}")/${dset}
            [ -f "${dir}/.done" ] || die "${dir} is not decoded yet: run stage 12 first"
            [ -f "${dir}/score_wer/result.txt" ] || rm -f "${dir}/score_wer/.done"
            stage 13 "${dir}/score_wer" "hyp=$(md5sum < "${dir}/.done" | cut -d' ' -f1) ref=$(checksum "${data_feats}/${dset}/text")" \
                "${dir}" score_set "${exp}" "${dset}" "${dir}"
        done
        # <exp>/RESULTS.md: ESPnet-style tables, then the exact commands that made them.
        run_or_die "writing ${exp}/RESULTS.md failed" python3 -m espnet_warmup.recipe.scoring.results "${exp}" \
            --commands "${exp}/commands.sh" -o "${exp}/RESULTS.md"
        log "Results: ${exp}/RESULTS.md"
        grep -E '^\|(dataset|decode)' "${exp}/RESULTS.md" | head -n 8 >&2 || true
    done
}
write_report() {  # write_report <exp dir>...: the cross-policy RESULTS.md
    # Each experiment's decode dir: the attention/CTC one, else the transducer one (the report takes the
    # first of these an experiment has scores in).
    local -a dirs=(--decode_dir "$(decode_tag "${inference_config}" "${inference_asr_model}")")
    local tdir
    tdir=$(decode_tag "${transducer_inference_config:-${inference_config}}" "${transducer_inference_asr_model}")
    [ "${tdir}" = "${dirs[1]}" ] || dirs+=(--decode_dir "${tdir}")
    python3 -m espnet_warmup.cli report --expdir "${expdir}" --out RESULTS.md "${dirs[@]}" "$@" \
        > "${expdir}/report.log" 2>&1 || report_failure "The report (espnet_warmup report)" "${expdir}/report.log"
}
stage_14_report() {
    # Every scored experiment of ${expdir} takes part, so policies trained in separate runs
    # (./run.sh --train_config X) are compared too.
    local -a exps=()
    local d
    for d in "${expdir}"/asr_*; do
        if compgen -G "${d}/*/*/score_wer/result.txt" > /dev/null; then exps+=("${d}"); fi
    done
    [ ${#exps[@]} -gt 0 ] || die "Stage 14: no scored experiments under ${expdir}: run stages 11-13 first"
    [ -f RESULTS.md ] || rm -f "${expdir}/.done"
    stage 14 "${expdir}" "$(for d in "${exps[@]}"; do echo "${d}"; cat "${d}"/*/*/score_wer/.done 2>/dev/null; done | md5sum)" \
        "${#exps[@]} experiment(s) -> RESULTS.md" write_report "${exps[@]}"
}

# ---------------------------------------------------------------------------- the stage table
log "$(printf '%q ' "$0" ${orig_args[@]+"${orig_args[@]}"})"
if run_stage 1; then stage_1_data_prep; fi
if any_stage 3 12 13; then resolve_test_sets; fi
if run_stage 2; then stage_2_speed_perturb; fi
if run_stage 3; then stage_3_format_audio; fi
if run_stage 4; then stage_4_filter_by_length; fi
if run_stage 5; then stage_5_token_list; fi
if any_stage 6 7 8 9; then log "Stages 6-9: Language model: not used by this recipe (decoding without an LM), skipped"; fi
if run_stage 10; then stage_10_collect_stats; fi
if run_stage 11; then
    if [ -n "${probe}" ]; then stage_11_probe; else stage_11_train; fi
fi
if run_stage 12; then stage_12_decode; fi
if run_stage 13; then stage_13_score; fi
if run_stage 14; then stage_14_report; fi
log "Successfully finished. [elapsed=${SECONDS}s]"
