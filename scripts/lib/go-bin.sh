# Shared by the scripts that build Go binaries into the cache (k8s-bins.sh, multus-bin.sh,
# whereabouts-bin.sh): logging under the script's name, timing, finding Go, build priority.
# Source it after setting BIN_NAME (and HELP_LINES, the range of the script's usage comment); it
# sets T0.
log() { echo "${BIN_NAME}: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
T0="$(now)"

# Sets GO to the machine's go (PATH, else /usr/local/go); false when there is none.
find_go() {
  GO="$(command -v go || true)"
  [[ -n "$GO" ]] || GO=/usr/local/go/bin/go
  [[ -x "$GO" ]]
}

# Sets the arrays prio and jobs for `"${prio[@]}" "$GO" build "${jobs[@]}"`: all cores (or $1), or
# with --low-priority (low=1) nice -n 19 and one job, for a shared machine.
build_priority() {
  prio=()
  jobs=(-p "${1:-$(nproc)}")
  if [[ ${low:-0} == 1 ]]; then
    prio=(nice -n 19)
    jobs=(-p 1)
  fi
}

# The scripts' options: --low-priority, --force, and --regenerate where the script has a go.mod of
# its own to regenerate (REGENERATE=1 before the call). Sets low, force, regenerate.
parse_flags() {
  low=0 force=0 regenerate=0
  for arg in "$@"; do
    case "$arg" in
      --regenerate) [[ ${REGENERATE:-0} == 1 ]] || { log "unknown option $arg"; exit 2; }; regenerate=1 ;;
      --low-priority) low=1 ;;
      --force) force=1 ;;
      -h|--help) sed -n "${HELP_LINES}p" "$0"; exit 0 ;;
      *) log "unknown option $arg"; exit 2 ;;
    esac
  done
}
