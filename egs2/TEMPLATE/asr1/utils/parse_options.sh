# parse_options.sh: Kaldi-style command-line options for shell scripts.  Source it:
#
#     stage=1; use_gpu=false; help_message="usage: ..."
#     . utils/parse_options.sh      # after the defaults, before the positional arguments
#
# Semantics (the ones Kaldi and ESPnet recipes rely on):
#   --foo-bar VALUE and --foo_bar VALUE both set the shell variable foo_bar, which must
#       already exist (have a default); any other name is "invalid option", exit 1.
#   A variable whose default is true/false only accepts true or false.
#   --config FILE (anywhere on the line) sources FILE first (bash assignments), so values
#       given on the command line win over the config; an unreadable FILE is an error.
#   --help / -h prints $help_message to stderr and exits 0.
#   Parsing stops at the first argument that does not start with "--"; the rest stays in $@.
# Messages name the calling script ($0), because this file is sourced.

# Pre-pass: source every --config FILE, left to right.
for (( __po_i=1; __po_i<$#; __po_i++ )); do
  if [ "${!__po_i}" = "--config" ]; then
    __po_j=$((__po_i + 1))
    config="${!__po_j}"
    if [ ! -r "$config" ]; then
      echo "$0: missing config '$config'" >&2
      exit 1
    fi
    # shellcheck disable=SC1090
    . "$config"
  fi
done
unset __po_i __po_j

while true; do
  [ -z "${1:-}" ] && break  # an empty argument ends the options, as in Kaldi
  case "$1" in
    --help|-h)
      if [ -z "${help_message:-}" ]; then echo "No help found." >&2; else printf '%s\n' "$help_message" >&2; fi
      exit 0 ;;
    --*=*)
      echo "$0: options to scripts must be of the form --name value, got '$1'" >&2
      exit 1 ;;
    --*)
      __po_name=$(printf '%s' "${1#--}" | tr '-' '_')
      # The variable must have a default: ${name+x} is empty only for unset variables.
      if [ -z "$(eval "echo \${${__po_name}+x}" 2>/dev/null)" ] \
          || ! [[ "$__po_name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        echo "$0: invalid option $1" >&2
        exit 1
      fi
      if [ $# -lt 2 ]; then
        echo "$0: option $1 needs a value" >&2
        exit 1
      fi
      __po_old=$(eval "printf '%s' \"\$${__po_name}\"")
      if [ "$__po_old" = true ] || [ "$__po_old" = false ]; then
        if [ "$2" != true ] && [ "$2" != false ]; then
          echo "$0: expected \"true\" or \"false\": $1 $2" >&2
          exit 1
        fi
      fi
      # printf -v assigns the value verbatim (no re-expansion of $, ` or quotes).
      printf -v "$__po_name" '%s' "$2"
      shift 2 ;;
    *) break ;;
  esac
done
unset __po_name __po_old

# Kaldi's historic guard: an empty --cmd is always a mistake.
if [ -n "${cmd+x}" ] && [ -z "$cmd" ]; then
  echo "$0: empty argument to --cmd option" >&2
  exit 1
fi
true
