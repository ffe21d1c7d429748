# Shared by the scripts that build Go binaries into the cache (k8s-bins.sh, multus-bin.sh,
# whereabouts-bin.sh): logging under the script's name, timing, finding Go, build priority.
# Source it after setting BIN_NAME; it sets T0.
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
