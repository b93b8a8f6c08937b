#!/usr/bin/env bash
# asr.sh: the corpus-agnostic ASR recipe engine, with ESPnet's stage numbers and option names.
# Run it from a recipe dir (which has path.sh, cmd.sh, conf/, local/data.sh and data/<set>);
# a recipe's run.sh calls it with its corpus' sets and configs. See docs/recipe.md.

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
monitor=true         # follow train.log with espnet_warmup.recipe.analysis.monitor beside training
stop_on_divergence=false  # with --monitor: SIGTERM the training on divergence, keeping the last epoch checkpoint

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
feats_normalize=global_mvn  # global_mvn (from the stage-10 statistics) or none
train_nthreads=0            # CPU threads of a training job (OMP_NUM_THREADS); 0: cores / train_jobs when --ngpu 0, else 1
train_jobs=1                # how many configs (policies) train at the same time in stage 11
speech_fold_length=800      # ESPnet's fold lengths (x100 samples for raw speech)
text_fold_length=150

# Decoding
inference_config=""                  # decoding config (espnet2.bin.asr_inference --config)
inference_args=""                    # extra options for espnet2.bin.asr_inference
inference_tag=""                     # decode dir name; default decode_<config basename>_asr_model_<model>
inference_asr_model=valid.acc.ave.pth
batch_size=1                         # decoding batch size

# Sets
train_set=""   # name of the training set (data/<train_set>)
valid_set=""   # name of the validation set
test_sets=""   # names of the evaluation sets (space-separated)

help_message=$(cat <<EOF
Usage: $0 --train_set <set> --valid_set <set> --test_sets "<set> ..." [options]

Stages (ESPnet numbering):
  1 data prep (local/data.sh)    2 speed perturbation     3 format audio (dump/raw)
  4 filter by length             5 token list (bpe|char|word)
  6-9 language model: not used by this recipe (skipped)
  10 collect stats               11 train                 12 decode
  13 score + <exp>/RESULTS.md    14 cross-experiment report (RESULTS.md)

Options (Kaldi style: --name value; --foo-bar == --foo_bar):
  --stage, --stop_stage    # stages to run (default: ${stage}, ${stop_stage})
  --skip_stages            # stage numbers not to run, e.g. "2 4" (default: "${skip_stages}")
  --skip_data_prep, --skip_train, --skip_eval, --skip_report  # true|false, as in ESPnet
  --ngpu                   # GPUs per node for training (default: ${ngpu})
  --num_nodes              # nodes for training (default: ${num_nodes})
  --nj                     # parallel jobs, data prep and stats (default: ${nj})
  --inference_nj           # parallel decoding jobs (default: ${inference_nj})
  --gpu_inference          # decode on GPU (default: ${gpu_inference})
  --dumpdir, --expdir      # output dirs (default: ${dumpdir}, ${expdir})
  --python                 # interpreter for espnet2.bin.* (default: ${python})
  --monitor                # run espnet_warmup.recipe.analysis.monitor beside training (default: ${monitor})
  --stop_on_divergence     # with --monitor: stop a diverging training, keep its last epoch checkpoint (default: ${stop_on_divergence})
  --local_data_opts        # options passed to local/data.sh (default: "${local_data_opts}")
  --corpus                 # passed to local/data.sh as --corpus (default: its own)
  --speed_perturb_factors  # e.g. "0.9 1.0 1.1" (default: "${speed_perturb_factors}")
  --fs                     # sample rate of the formatted audio (default: ${fs})
  --audio_format           # wav or flac, the formatted audio's container (default: ${audio_format})
  --min_wav_duration, --max_wav_duration  # seconds (default: ${min_wav_duration}, ${max_wav_duration})
  --token_type             # bpe, char or word (default: ${token_type})
  --nbpe, --bpemode        # sentencepiece settings (default: ${nbpe}, ${bpemode})
  --nlsyms_txt             # non-linguistic symbols (default: the <...> words of the train text)
  --lang                   # token list tag (default: ${lang})
  --train_config           # training config(s), space-separated; alias --asr_config
  --train_args             # extra espnet2.bin.asr_train options; alias --asr_args
  --asr_tag                # exp dir suffix: <expdir>/asr_<config basename>_<asr_tag>
  --feats_normalize        # global_mvn or none (default: ${feats_normalize})
  --train_nthreads         # CPU threads per training job; 0: cores / train_jobs on CPU (default: ${train_nthreads})
  --train_jobs             # configs trained at the same time (default: ${train_jobs})
  --inference_config       # decoding config
  --inference_args         # extra espnet2.bin.asr_inference options
  --inference_tag          # decode dir name
  --inference_asr_model    # model file in the exp dir (default: ${inference_asr_model})
  --batch_size             # decoding batch size (default: ${batch_size})
  --train_set, --valid_set, --test_sets  # data/<set> names (required)
  --config FILE            # a file of shell assignments read before the command-line options
EOF
)

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
[ -n "${train_set}" ] || { log "ERROR: --train_set is required"; exit 2; }
[ -n "${valid_set}" ] || { log "ERROR: --valid_set is required"; exit 2; }
[ -n "${test_sets}" ] || { log "ERROR: --test_sets is required"; exit 2; }
[ "${train_set}" != "${valid_set}" ] || die "--train_set and --valid_set must differ (both ${train_set})"
for _t in ${test_sets}; do
    [ "${_t}" != "${train_set}" ] || die "--train_set ${train_set} is also in --test_sets"
done
for _v in stage stop_stage ngpu num_nodes nj inference_nj nbpe batch_size train_nthreads train_jobs; do
    [[ "${!_v}" =~ ^[0-9]+$ ]] || die "--${_v} must be a non-negative integer, got '${!_v}'"
done
[ "${nj}" -ge 1 ] || die "--nj must be >= 1"
[ "${inference_nj}" -ge 1 ] || die "--inference_nj must be >= 1"
[ "${train_jobs}" -ge 1 ] || die "--train_jobs must be >= 1"
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
run_stage() {
    local n=$1
    [ "${stage}" -le "${n}" ] && [ "${stop_stage}" -ge "${n}" ] || return 1
    [[ " ${skip_stages} " != *" ${n} "* ]]
}
any_stage() { local n; for n in "$@"; do run_stage "$n" && return 0; done; return 1; }

# Configs: checked up front, so a typo fails before hours of earlier stages.
train_configs=()
read -r -a train_configs <<< "${train_config}"
if any_stage 10 11 12 13 14; then
    [ ${#train_configs[@]} -gt 0 ] || die "--train_config is required for stages 10-14"
    for _c in "${train_configs[@]}"; do
        [ -f "${_c}" ] || die "--train_config: file not found: ${_c}"
    done
fi
if [ -n "${inference_config}" ] && any_stage 12; then
    [ -f "${inference_config}" ] || die "--inference_config: file not found: ${inference_config}"
fi
if [ -n "${nlsyms_txt}" ]; then
    [ -f "${nlsyms_txt}" ] || die "--nlsyms_txt: file not found: ${nlsyms_txt}"
fi

# ---------------------------------------------------------------------------- names
# Speed perturbation renames the training set (as in ESPnet).
if [ -n "${speed_perturb_factors}" ]; then
    org_train_set=${train_set}
    train_set="${train_set}_sp"
else
    org_train_set=${train_set}
fi
data_feats=${dumpdir}/raw
if [ "${lang}" != noinfo ]; then
    token_listdir=data/${lang}_token_list
else
    token_listdir=data/token_list
fi
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

# One exp dir per config: <expdir>/asr_<config basename>[_<asr_tag>].
exp_of() {
    local name
    name=$(basename "$1"); name=${name%.yaml}; name=${name%.yml}
    echo "${expdir}/asr_${name}${asr_tag:+_${asr_tag}}"
}
if [ -z "${inference_tag}" ]; then
    if [ -n "${inference_config}" ]; then
        inference_tag=$(basename "${inference_config}"); inference_tag=${inference_tag%.yaml}
    else
        inference_tag=decode
    fi
    if [ -n "${inference_args}" ]; then
        inference_tag+="$(echo "${inference_args}" | sed -e 's/--/_/g' -e 's/[ |=/]//g')"
    fi
    inference_tag+="_asr_model_$(echo "${inference_asr_model}" | sed -e 's/\//_/g' -e 's/\.[^.]*$//')"
fi

# ---------------------------------------------------------------------------- bookkeeping
# A stage's output counts as finished when its marker holds the signature of its inputs and
# settings; markers are written last (after the outputs were renamed into place), so an
# interrupted stage is redone and a changed setting redoes the work it affects.
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
# The exact job commands, collected per exp dir for its RESULTS.md.
record_command() {  # record_command <dir> <stage name> <command string>
    mkdir -p "$1"
    # A rerun replaces the entry of the same name (header line + command line).
    if [ -f "$1/commands.sh" ]; then
        awk -v h="# $2" 'skip { skip = 0; next } $0 == h { skip = 1; next } { print }' "$1/commands.sh" > "$1/commands.sh.tmp"
    else
        : > "$1/commands.sh.tmp"
    fi
    printf '# %s\n%s\n' "$2" "$3" >> "$1/commands.sh.tmp"
    mv "$1/commands.sh.tmp" "$1/commands.sh"
}
# On a failed job: say which log to read, and show its error lines.
report_failure() {  # report_failure <what> <log or glob>
    local what=$1 logs=$2 f
    log "ERROR: ${what} failed; read the log: ${logs}"
    for f in ${logs}; do
        [ -f "$f" ] || continue
        if ! grep -q '# Ended (code 0)' "$f" 2>/dev/null; then
            grep -H -i -E 'error|exception|traceback' "$f" | grep -v '^[^:]*:# ' | tail -n 8 >&2 || true
        fi
    done
    exit 1
}
have_module() {  # have_module <python module>: importable by the recipe's python?
    python3 -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)" 2>/dev/null
}
need_binary() {  # need_binary <program> <why>
    command -v "$1" > /dev/null 2>&1 || die "'$1' not found on PATH; it is needed for $2 (install it, e.g. apt-get install $1)"
}
validate_data_dir() {  # validate_data_dir <dir>...
    python3 -m espnet_warmup.recipe.datadir validate "$@" || die "invalid data dir(s): $* (see the errors above)"
}

log "$(printf '%q ' "$0" ${orig_args[@]+"${orig_args[@]}"})"

# ---------------------------------------------------------------------------- stage 1
if run_stage 1; then
    [ -x local/data.sh ] || die "local/data.sh not found or not executable in ${PWD}"
    _opts=""
    if [ -n "${corpus}" ]; then _opts+="--corpus ${corpus} "; fi
    _opts+="${local_data_opts}"
    _sig="local/data.sh ${_opts} sets=${org_train_set},${valid_set},${test_sets}"
    _ok=true
    for _d in ${org_train_set} ${valid_set} ${test_sets}; do [ -f "data/${_d}/wav.scp" ] || _ok=false; done
    if [ "${_ok}" = true ] && is_done data/.done_stage1 "${_sig}"; then
        log "Stage 1: Data preparation: already done (data/.done_stage1), skipped"
    else
        log "Stage 1: Data preparation: local/data.sh ${_opts}"
        rm -f data/.done_stage1
        # shellcheck disable=SC2086
        local/data.sh ${_opts} || die "local/data.sh ${_opts} failed (exit $?); see the messages above"
        for _d in ${org_train_set} ${valid_set} ${test_sets}; do validate_data_dir "data/${_d}"; done
        mark_done data/.done_stage1 "${_sig}"
    fi
fi

# ---------------------------------------------------------------------------- stage 2
if run_stage 2; then
    if [ -n "${speed_perturb_factors}" ]; then
        need_binary sox "speed perturbation (--speed_perturb_factors)"
        validate_data_dir "data/${org_train_set}"
        _sig="factors=${speed_perturb_factors} src=$(checksum data/${org_train_set}/wav.scp data/${org_train_set}/text)"
        if is_done "data/${train_set}/.done_sp" "${_sig}"; then
            log "Stage 2: Speed perturbation: data/${train_set} already done, skipped"
        else
            log "Stage 2: Speed perturbation: data/${org_train_set} -> data/${train_set} (factors ${speed_perturb_factors})"
            python3 -m espnet_warmup.recipe.stages.speed_perturb --factors "${speed_perturb_factors}" \
                "data/${org_train_set}" "data/${train_set}" || die "speed perturbation failed"
            mark_done "data/${train_set}/.done_sp" "${_sig}"
        fi
    else
        log "Stage 2: Speed perturbation: no --speed_perturb_factors, skipped"
    fi
fi

# ---------------------------------------------------------------------------- stage 3
if run_stage 3; then
    log "Stage 3: Format audio: data/<set> -> ${data_feats}/{org/${train_set},org/${valid_set},$(echo ${test_sets} | tr ' ' ',')} at ${fs_hz} Hz as ${audio_format}"
    for dset in "${train_set}" "${valid_set}" ${test_sets}; do
        if [ "${dset}" = "${train_set}" ] || [ "${dset}" = "${valid_set}" ]; then
            _out=${data_feats}/org/${dset}
        else
            _out=${data_feats}/${dset}
        fi
        validate_data_dir "data/${dset}"
        _sig="fs=${fs_hz} format=${audio_format} src=$(checksum data/${dset}/wav.scp data/${dset}/text data/${dset}/utt2spk)"
        if is_done "${_out}/.done_format" "${_sig}"; then
            log "Stage 3: ${_out}: already done, skipped"
            continue
        fi
        if grep -q 'sox .*|$' "data/${dset}/wav.scp"; then
            need_binary sox "the sox pipes in data/${dset}/wav.scp"
        fi
        rm -rf "${_out}"
        python3 -m espnet_warmup.recipe.datadir copy "data/${dset}" "${_out}"
        _logdir=${_out}/logdir
        _n=$(min "${nj}" "$(wc -l < "data/${dset}/wav.scp")")
        _splits=()
        for n in $(seq "${_n}"); do _splits+=("${_logdir}/keys.${n}.scp"); done
        python3 -m espnet_warmup.recipe.stages.scp split "data/${dset}/wav.scp" "${_splits[@]}"
        _cmd="python3 -m espnet_warmup.recipe.stages.format_audio --fs ${fs_hz} --audio-format ${audio_format} --audio-dir ${_out}/data/format.JOB --out-wav-scp ${_logdir}/wav.JOB.scp --out-num-samples ${_logdir}/utt2num_samples.JOB ${_logdir}/keys.JOB.scp"
        write_resume_script "${_out}" 3
        # shellcheck disable=SC2086
        ${train_cmd} JOB=1:"${_n}" "${_logdir}/format_audio.JOB.log" ${_cmd} \
            || report_failure "Formatting the audio of data/${dset}" "${_logdir}/format_audio.*.log"
        for n in $(seq "${_n}"); do cat "${_logdir}/wav.${n}.scp"; done | sort > "${_out}/wav.scp.tmp"
        for n in $(seq "${_n}"); do cat "${_logdir}/utt2num_samples.${n}"; done | sort > "${_out}/utt2num_samples.tmp"
        mv "${_out}/wav.scp.tmp" "${_out}/wav.scp"
        mv "${_out}/utt2num_samples.tmp" "${_out}/utt2num_samples"
        echo raw > "${_out}/feats_type"
        echo "${audio_format}" > "${_out}/audio_format"
        validate_data_dir "${_out}"
        mark_done "${_out}/.done_format" "${_sig}"
    done
fi

# ---------------------------------------------------------------------------- stage 4
if run_stage 4; then
    for dset in "${train_set}" "${valid_set}"; do
        _src=${data_feats}/org/${dset}
        [ -f "${_src}/.done_format" ] || die "${_src} is not formatted yet: run stage 3 first"
        _sig="min=${min_wav_duration} max=${max_wav_duration} src=$(cat "${_src}/.done_format")"
        if is_done "${data_feats}/${dset}/.done_filter" "${_sig}"; then
            log "Stage 4: Filter by length: ${data_feats}/${dset} already done, skipped"
            continue
        fi
        log "Stage 4: Filter by length: ${_src} -> ${data_feats}/${dset} (${min_wav_duration} s < duration < ${max_wav_duration} s)"
        python3 -m espnet_warmup.recipe.stages.length_filter --fs "${fs_hz}" --min "${min_wav_duration}" \
            --max "${max_wav_duration}" "${_src}" "${data_feats}/${dset}" || die "length filtering of ${_src} failed"
        mark_done "${data_feats}/${dset}/.done_filter" "${_sig}"
    done
fi

# ---------------------------------------------------------------------------- stage 5
if run_stage 5; then
    _text=${data_feats}/${train_set}/text
    [ -f "${_text}" ] || die "${_text} not found: run stages 3-4 first"
    _nlsyms_opt=""
    if [ "${nlsyms_txt}" != "${token_listdir}/nlsyms.txt" ]; then _nlsyms_opt="--nlsyms ${nlsyms_txt}"; fi
    _sig="type=${token_type} nbpe=${nbpe} mode=${bpemode} nlsyms=${nlsyms_txt} text=$(checksum "${_text}" ${_nlsyms_opt:+"${nlsyms_txt}"})"
    if [ -f "${token_list}" ] && is_done "${token_dir}/.done" "${_sig}"; then
        log "Stage 5: Token list: ${token_list} already done, skipped"
    else
        log "Stage 5: Token list (${token_type}): ${_text} -> ${token_list}"
        # Without --nlsyms_txt, the <...> words of the train text become the symbols file.
        if [ -z "${_nlsyms_opt}" ]; then _nlsyms_opt="--nlsyms-out ${nlsyms_txt}"; fi
        # shellcheck disable=SC2086
        python3 -m espnet_warmup.recipe.stages.token_list --token-type "${token_type}" --nbpe "${nbpe}" \
            --bpemode "${bpemode}" --text "${_text}" ${_nlsyms_opt} \
            --outdir "${token_dir}" || die "making the token list failed"
        mark_done "${token_dir}/.done" "${_sig}"
    fi
fi

# ---------------------------------------------------------------------------- stages 6-9
if any_stage 6 7 8 9; then
    log "Stages 6-9: Language model: not used by this recipe (decoding without an LM), skipped"
fi

# Options shared by collect-stats and training.
common_train_opts() {
    local opts="--use_preprocessor true --token_type ${token_type} --token_list ${token_list}"
    opts+=" --non_linguistic_symbols ${nlsyms_txt} --cleaner none --g2p none"
    if [ "${token_type}" = bpe ]; then opts+=" --bpemodel ${bpemodel}"; fi
    opts+=" --frontend_conf fs=${fs_hz}"
    echo "${opts}"
}
# The speech/text inputs of the train and valid sets (collect stats and training read the same).
data_opts() {
    local opts="" part set
    for part in train valid; do
        if [ "${part}" = train ]; then set=${train_set}; else set=${valid_set}; fi
        opts+=" --${part}_data_path_and_name_and_type ${data_feats}/${set}/wav.scp,speech,sound"
        opts+=" --${part}_data_path_and_name_and_type ${data_feats}/${set}/text,text,text"
    done
    echo "${opts}"
}
# Training goes through our launcher, which registers the warmup schedulers in ESPnet.
asr_train="${python} -m espnet_warmup -m espnet2.bin.asr_train"

# ---------------------------------------------------------------------------- stage 10
if run_stage 10; then
    for _f in "${token_list}" "${data_feats}/${train_set}/wav.scp" "${data_feats}/${valid_set}/wav.scp"; do
        [ -f "${_f}" ] || die "${_f} not found: run stages 1-5 first"
    done
    # The stats depend on the configs' frontend only (and --train_args naming it): the policies
    # of a run share them, and --train_args "--max_epoch 1" does not invalidate them.
    _key=$(python3 -m espnet_warmup.recipe.stages.stats_key --train_args "${train_args}" "${train_configs[@]}") || die "--train_config: see the error above"
    _sig="frontend=${_key} tokens=$(checksum "${token_list}") data=$(checksum ${data_feats}/${train_set}/{wav.scp,text} ${data_feats}/${valid_set}/{wav.scp,text}) fs=${fs_hz}"
    if is_done "${asr_stats_dir}/.done" "${_sig}"; then
        log "Stage 10: Collect stats: ${asr_stats_dir} already done, skipped"
    else
        _config=${train_configs[0]}
        _logdir=${asr_stats_dir}/logdir
        _n=$(min "${nj}" "$(wc -l < "${data_feats}/${train_set}/wav.scp")")
        _n=$(min "${_n}" "$(wc -l < "${data_feats}/${valid_set}/wav.scp")")
        log "Stage 10: Collect stats: ${asr_stats_dir} (${_n} jobs, config ${_config})"
        rm -rf "${_logdir}"
        mkdir -p "${_logdir}"
        _tsplits=(); _vsplits=()
        for n in $(seq "${_n}"); do _tsplits+=("${_logdir}/train.${n}.scp"); _vsplits+=("${_logdir}/valid.${n}.scp"); done
        python3 -m espnet_warmup.recipe.stages.scp split "${data_feats}/${train_set}/wav.scp" "${_tsplits[@]}"
        python3 -m espnet_warmup.recipe.stages.scp split "${data_feats}/${valid_set}/wav.scp" "${_vsplits[@]}"
        _cmd="${asr_train} --collect_stats true $(common_train_opts)$(data_opts)"
        _cmd+=" --train_shape_file ${_logdir}/train.JOB.scp --valid_shape_file ${_logdir}/valid.JOB.scp"
        _cmd+=" --output_dir ${_logdir}/stats.JOB --config ${_config} ${train_args}"
        write_resume_script "${asr_stats_dir}" 10
        # shellcheck disable=SC2086
        ${train_cmd} JOB=1:"${_n}" "${_logdir}/stats.JOB.log" ${_cmd} \
            || report_failure "Collecting statistics (espnet2.bin.asr_train --collect_stats true)" "${_logdir}/stats.*.log"
        _inputs=""
        for n in $(seq "${_n}"); do _inputs+="--input_dir ${_logdir}/stats.${n} "; done
        _tmp=${asr_stats_dir}.tmp
        rm -rf "${_tmp}"
        # shellcheck disable=SC2086
        ${python} -m espnet2.bin.aggregate_stats_dirs ${_inputs} --output_dir "${_tmp}" \
            > "${_logdir}/aggregate.log" 2>&1 || report_failure "Aggregating statistics" "${_logdir}/aggregate.log"
        _vocab=$(wc -l < "${token_list}")
        for _s in train valid; do
            # text_shape.<token_type>: "<utt> <length>,<vocab size>", used for batch-bins counting.
            awk -v N="${_vocab}" '{ print $0 "," N }' "${_tmp}/${_s}/text_shape" > "${_tmp}/${_s}/text_shape.${token_type}"
            rm -rf "${asr_stats_dir:?}/${_s}"
            mv "${_tmp}/${_s}" "${asr_stats_dir}/${_s}"
        done
        rm -rf "${_tmp}"
        record_command "${asr_stats_dir}" "stage 10: collect stats (JOB=1:${_n})" "${_cmd}"
        mark_done "${asr_stats_dir}/.done" "${_sig}"
    fi
fi

# ---------------------------------------------------------------------------- stage 11
if run_stage 11; then
    [ -f "${asr_stats_dir}/.done" ] || die "${asr_stats_dir} is not finished: run stage 10 first"
    _key=$(python3 -m espnet_warmup.recipe.stages.stats_key --train_args "${train_args}" "${train_configs[@]}") || die "--train_config: see the error above"
    case "$(cat "${asr_stats_dir}/.done")" in
        "frontend=${_key} "*) ;;
        *) die "${asr_stats_dir} was collected for another frontend than ${train_configs[*]}: run stage 10 again" ;;
    esac
    # On a CPU, training may use every core (path.sh sets OMP_NUM_THREADS=1 for parallel jobs),
    # shared by the --train_jobs trainings that run at the same time.
    if [ "${ngpu}" -eq 0 ] && [ "${train_nthreads}" -eq 0 ]; then
        train_nthreads=$(( $(nproc) / train_jobs ))
        if [ "${train_nthreads}" -lt 1 ]; then train_nthreads=1; fi
    fi
    # train_one <config>: train one policy into its exp dir (skips it when already done).
    train_one() {
        local _config=$1 asr_exp _sig _opts _jobname _launch _pid
        asr_exp=$(exp_of "${_config}")
        _sig="config=$(checksum "${_config}") args=${train_args} stats=$(cat "${asr_stats_dir}/.done" | md5sum | cut -d' ' -f1) ngpu=${ngpu}"
        if [ -f "${asr_exp}/${inference_asr_model}" ] && is_done "${asr_exp}/.done_train" "${_sig}"; then
            log "Stage 11: Training: ${asr_exp} already done, skipped"
            return 0
        fi
        if [ -f "${asr_exp}/.done_train" ]; then
            log "WARNING: ${asr_exp} was trained with other settings; training again (resuming from its checkpoint.pth if any; remove ${asr_exp} to start from scratch)"
            rm -f "${asr_exp}/.done_train"
        fi
        log "Stage 11: Training: ${_config} -> ${asr_exp} (log: ${asr_exp}/train.log)"
        mkdir -p "${asr_exp}"
        _opts="$(common_train_opts)"
        if [ "${feats_normalize}" = global_mvn ]; then
            # Given here, not in the config: global_mvn in the config breaks --collect_stats.
            _opts+=" --normalize global_mvn --normalize_conf stats_file=${asr_stats_dir}/train/feats_stats.npz"
        fi
        _opts+="$(data_opts)"
        _opts+=" --train_shape_file ${asr_stats_dir}/train/speech_shape"
        _opts+=" --train_shape_file ${asr_stats_dir}/train/text_shape.${token_type}"
        _opts+=" --valid_shape_file ${asr_stats_dir}/valid/speech_shape"
        _opts+=" --valid_shape_file ${asr_stats_dir}/valid/text_shape.${token_type}"
        _opts+=" --resume true --fold_length $((speech_fold_length * 100)) --fold_length ${text_fold_length}"
        _opts+=" --output_dir ${asr_exp} --config ${_config} ${train_args}"
        _jobname=$(basename "${asr_exp}")
        _launch="${python} -m espnet2.bin.launch --cmd \"${cuda_cmd} --name ${_jobname}\" --log ${asr_exp}/train.log"
        _launch+=" --ngpu ${ngpu} --num_nodes ${num_nodes} --init_file_prefix ${asr_exp}/.dist_init_"
        _launch+=" --multiprocessing_distributed true -- ${asr_train} ${_opts}"
        write_resume_script "${asr_exp}" 11 --train_config "${_config}"
        rm -f "${asr_exp}/commands.sh"
        record_command "${asr_exp}" "stage 11: train" "OMP_NUM_THREADS=$(( train_nthreads > 0 ? train_nthreads : 1 )) ${_launch}"
        # shellcheck disable=SC2086
        OMP_NUM_THREADS=$(( train_nthreads > 0 ? train_nthreads : 1 )) \
        ${python} -m espnet2.bin.launch --cmd "${cuda_cmd} --name ${_jobname}" --log "${asr_exp}/train.log" \
            --ngpu "${ngpu}" --num_nodes "${num_nodes}" --init_file_prefix "${asr_exp}/.dist_init_" \
            --multiprocessing_distributed true -- ${asr_train} ${_opts} > "${asr_exp}/launch.log" 2>&1 &
        _pid=$!
        _mon_pid=""
        if [ "${monitor}" = true ] && have_module espnet_warmup.recipe.analysis.monitor; then
            # Warns on the console and in ${asr_exp}/monitor.log on the paper's failure signature:
            # sustained grad-norm spikes, non-finite (skipped) updates, a rising loss.
            python3 -m espnet_warmup.recipe.analysis.monitor --log "${asr_exp}/train.log" --follow-pid "${_pid}" \
                --out "${asr_exp}/monitor.log" --stop_on_divergence "${stop_on_divergence}" &
            _mon_pid=$!
        fi
        if ! wait "${_pid}"; then
            tail -n 3 "${asr_exp}/launch.log" >&2 || true
            if [ -n "${_mon_pid}" ]; then
                _mon_rc=0; wait "${_mon_pid}" || _mon_rc=$?
                if [ "${_mon_rc}" -eq 4 ]; then
                    die "Training ${asr_exp} was stopped by the divergence monitor (read ${asr_exp}/monitor.log); the last complete epoch checkpoint is ${asr_exp}/checkpoint.pth"
                fi
            fi
            report_failure "Training ${asr_exp}" "${asr_exp}/train.log"
        fi
        [ -z "${_mon_pid}" ] || wait "${_mon_pid}" || true
        [ -f "${asr_exp}/${inference_asr_model}" ] \
            || die "training finished but ${asr_exp}/${inference_asr_model} is missing; read ${asr_exp}/train.log (--inference_asr_model must name a model the trainer writes)"
        mark_done "${asr_exp}/.done_train" "${_sig}"
    }
    if [ "${train_jobs}" -le 1 ]; then
        for _config in "${train_configs[@]}"; do train_one "${_config}"; done
    else
        # Up to --train_jobs configs at a time; each failure is reported by its own train_one.
        _pids=(); _names=(); _failed=()
        for _config in "${train_configs[@]}"; do
            if [ ${#_pids[@]} -ge "${train_jobs}" ]; then
                wait "${_pids[0]}" || _failed+=("${_names[0]}")
                _pids=("${_pids[@]:1}"); _names=("${_names[@]:1}")
            fi
            train_one "${_config}" &
            _pids+=($!); _names+=("${_config}")
        done
        for _i in "${!_pids[@]}"; do
            wait "${_pids[${_i}]}" || _failed+=("${_names[${_i}]}")
        done
        if [ ${#_failed[@]} -gt 0 ]; then
            die "training failed for ${_failed[*]} (the errors and logs are named above)"
        fi
    fi
fi

# ---------------------------------------------------------------------------- stage 12
if run_stage 12; then
    if [ "${gpu_inference}" = true ]; then _cmd_inf=${cuda_cmd}; _ngpu=1; else _cmd_inf=${decode_cmd}; _ngpu=0; fi
    for _config in "${train_configs[@]}"; do
        asr_exp=$(exp_of "${_config}")
        _model=${asr_exp}/${inference_asr_model}
        [ -f "${_model}" ] || die "${_model} not found: run stage 11 for ${_config} first"
        for dset in ${test_sets}; do
            _data=${data_feats}/${dset}
            _dir=${asr_exp}/${inference_tag}/${dset}
            [ -f "${_data}/wav.scp" ] || die "${_data}/wav.scp not found: run stage 3 first"
            _sig="model=$(checksum "${_model}") data=$(checksum "${_data}/wav.scp") config=$(checksum ${inference_config:+"${inference_config}"}) args=${inference_args} bs=${batch_size}"
            if [ -f "${_dir}/text" ] && is_done "${_dir}/.done_decode" "${_sig}"; then
                log "Stage 12: Decoding: ${_dir} already done, skipped"
                continue
            fi
            _logdir=${_dir}/logdir
            _n=$(min "${inference_nj}" "$(wc -l < "${_data}/wav.scp")")
            log "Stage 12: Decoding: ${asr_exp} on ${dset} (${_n} jobs) -> ${_dir}"
            rm -rf "${_logdir}" "${_dir}/.done_decode"
            mkdir -p "${_logdir}"
            _splits=()
            for n in $(seq "${_n}"); do _splits+=("${_logdir}/keys.${n}.scp"); done
            python3 -m espnet_warmup.recipe.stages.scp split "${_data}/wav.scp" "${_splits[@]}"
            _cmd="${python} -m espnet2.bin.asr_inference --batch_size ${batch_size} --ngpu ${_ngpu}"
            _cmd+=" --data_path_and_name_and_type ${_data}/wav.scp,speech,sound --key_file ${_logdir}/keys.JOB.scp"
            _cmd+=" --asr_train_config ${asr_exp}/config.yaml --asr_model_file ${_model}"
            _cmd+=" --output_dir ${_logdir}/output.JOB"
            if [ -n "${inference_config}" ]; then _cmd+=" --config ${inference_config}"; fi
            _cmd+=" ${inference_args}"
            write_resume_script "${_dir}" 12 --train_config "${_config}"
            record_command "${asr_exp}" "stage 12: decode ${dset} (JOB=1:${_n})" "${_cmd}"
            # shellcheck disable=SC2086
            ${_cmd_inf} --gpu "${_ngpu}" JOB=1:"${_n}" "${_logdir}/asr_inference.JOB.log" ${_cmd} \
                || report_failure "Decoding ${dset} with ${asr_exp}" "${_logdir}/asr_inference.*.log"
            python3 -m espnet_warmup.recipe.stages.decode_merge --keys "${_data}/wav.scp" --nj "${_n}" "${_dir}" \
                || die "merging the decoding outputs of ${_dir} failed"
            mark_done "${_dir}/.done_decode" "${_sig}"
        done
    done
fi

# ---------------------------------------------------------------------------- stage 13
remove_tokens() {  # the non-linguistic symbols, removed from ref and hyp before scoring
    if [ -f "${nlsyms_txt}" ]; then tr '\n' ' ' < "${nlsyms_txt}" | sed 's/ *$//'; fi
}
if run_stage 13; then
    for _config in "${train_configs[@]}"; do
        asr_exp=$(exp_of "${_config}")
        for dset in ${test_sets}; do
            _dir=${asr_exp}/${inference_tag}/${dset}
            [ -f "${_dir}/.done_decode" ] || die "${_dir} is not decoded yet: run stage 12 first"
            _ref=${data_feats}/${dset}
            _sig="hyp=$(cat "${_dir}/.done_decode" | md5sum | cut -d' ' -f1) ref=$(checksum "${_ref}/text")"
            if [ -f "${_dir}/score_wer/result.txt" ] && is_done "${_dir}/.done_score" "${_sig}"; then
                log "Stage 13: Scoring: ${_dir} already done, skipped"
                continue
            fi
            log "Stage 13: Scoring: ${_dir}"
            _cmd=(python3 -m espnet_warmup.recipe.scoring.cli --ref "${_ref}/text" --hyp "${_dir}/text"
                  --utt2spk "${_ref}/utt2spk" --remove_tokens "$(remove_tokens)" --outdir "${_dir}")
            if [ -f "${_ref}/utt2lang" ]; then _cmd+=(--utt2lang "${_ref}/utt2lang"); fi
            record_command "${asr_exp}" "stage 13: score ${dset}" "$(printf '%q ' "${_cmd[@]}")"
            "${_cmd[@]}" > "${_dir}/score.log" 2>&1 || { cat "${_dir}/score.log" >&2; report_failure "Scoring ${_dir}" "${_dir}/score.log"; }
            log "$(tail -n 1 "${_dir}/score.log")"
            mark_done "${_dir}/.done_score" "${_sig}"
        done
        # <exp>/RESULTS.md: ESPnet-style tables, then the exact commands that made them.
        python3 -m espnet_warmup.recipe.scoring.results "${asr_exp}" > "${asr_exp}/RESULTS.md.tmp" \
            || die "writing ${asr_exp}/RESULTS.md failed"
        if [ -f "${asr_exp}/commands.sh" ]; then
            { echo; echo "### Exact commands"; echo; echo '```sh'; cat "${asr_exp}/commands.sh"; echo '```'; } >> "${asr_exp}/RESULTS.md.tmp"
        fi
        mv "${asr_exp}/RESULTS.md.tmp" "${asr_exp}/RESULTS.md"
        log "Stage 13: ${asr_exp}/RESULTS.md"
        grep -E '^\|(dataset|decode)' "${asr_exp}/RESULTS.md" | head -n 8 >&2 || true
    done
fi

# ---------------------------------------------------------------------------- stage 14
if run_stage 14; then
    # Every scored experiment of ${expdir} takes part, so policies trained in separate runs
    # (./run.sh --train_config X) are compared too.
    _exps=()
    for _d in "${expdir}"/asr_*; do
        [ -d "${_d}" ] || continue
        if compgen -G "${_d}/*/*/score_wer/result.txt" > /dev/null; then _exps+=("${_d}"); fi
    done
    if [ ${#_exps[@]} -eq 0 ]; then
        die "Stage 14: no scored experiments under ${expdir}: run stages 11-13 first"
    fi
    _sig="$(for _d in "${_exps[@]}"; do echo "${_d}"; cat "${_d}"/*/*/.done_score; done | md5sum | cut -d' ' -f1)"
    if [ -f RESULTS.md ] && is_done "${expdir}/.done_report" "${_sig}"; then
        log "Stage 14: Report: RESULTS.md is up to date, skipped"
    elif have_module espnet_warmup.recipe.report; then
        log "Stage 14: Report: ${#_exps[@]} experiment(s) -> RESULTS.md"
        python3 -m espnet_warmup.cli report --expdir "${expdir}" --out RESULTS.md \
            --decode_dir "${inference_tag}" "${_exps[@]}" \
            > "${expdir}/report.log" 2>&1 || report_failure "The report (espnet_warmup report)" "${expdir}/report.log"
    else
        log "Stage 14: Report: espnet_warmup.recipe.report not installed; RESULTS.md from espnet_warmup.recipe.scoring.results"
        python3 -m espnet_warmup.recipe.scoring.results "${_exps[@]}" -o RESULTS.md \
            > "${expdir}/report.log" 2>&1 || report_failure "The results summary" "${expdir}/report.log"
    fi
    if ! is_done "${expdir}/.done_report" "${_sig}"; then
        mark_done "${expdir}/.done_report" "${_sig}"
        log "Stage 14: RESULTS.md written (${#_exps[@]} experiment(s))"
    fi
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
