#!/usr/bin/env bash
# Builds Whereabouts' CNI IPAM plugin (cmd/ of github.com/k8snetworkplumbingwg/whereabouts) from its
# Go module at the release pinned in deploy/whereabouts-bin/versions.env, into a cache folder keyed by
# version:
#   ${MULTINET_BIN_CACHE:-/var/cache/multinet}/whereabouts-<WHEREABOUTS_VERSION>/whereabouts
# The release's own go.mod and go.sum pin every dependency (a copy of the module is built with
# -mod=readonly: `go install pkg@v` refuses it, its go.mod has a replace line). Its CRDs (doc/crds)
# are committed in third_party/crds/.
#
# Usage: scripts/whereabouts-bin.sh [--low-priority] [--force]
#   --low-priority  nice -n 19 and go build -p 1 (when the machine is shared)
#   --force         rebuild even if the binary is there with the right version
# Without Go it says so and exits 0 (nothing needs the binary but its interop test and bench, which
# skip with that reason). Last line printed on success: the folder of the binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/whereabouts-bin/versions.env
source "$ROOT/deploy/whereabouts-bin/versions.env"
: "${WHEREABOUTS_VERSION:?versions.env must set WHEREABOUTS_VERSION}"
OUT="${MULTINET_BIN_CACHE:-/var/cache/multinet}/whereabouts-${WHEREABOUTS_VERSION}"
MOD="github.com/k8snetworkplumbingwg/whereabouts"

BIN_NAME=whereabouts-bin HELP_LINES=2,14
# shellcheck source=lib/go-bin.sh
source "$ROOT/scripts/lib/go-bin.sh"
parse_flags "$@"

# The plugin prints its "about" line when run without CNI_COMMAND: "whereabouts v0.9.2 linux/amd64".
# (Captured first: with pipefail, grep -q closing the pipe early would fail the check.)
version_ok() {
  [[ -x "$OUT/whereabouts" ]] || return 1
  local out
  out="$(env -i "$OUT/whereabouts" 2>&1 </dev/null || true)"
  [[ "$out" == "whereabouts v${WHEREABOUTS_VERSION} "* ]]
}

if [[ $force == 0 ]] && version_ok; then
  log "up to date: whereabouts v${WHEREABOUTS_VERSION} (checked in $(since "$T0"))"
  echo "$OUT"
  exit 0
fi

if ! find_go; then
  log "no go found (PATH or /usr/local/go/bin/go): not built; the Whereabouts interop test and bench will skip"
  exit 0
fi
export GOTOOLCHAIN=local CGO_ENABLED=0

log "downloading $MOD v${WHEREABOUTS_VERSION}"
src="$(GOFLAGS=-mod=mod "$GO" mod download -json "$MOD@v${WHEREABOUTS_VERSION}" \
       | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$src/go.mod" ]] || { log "could not download $MOD v${WHEREABOUTS_VERSION}"; exit 1; }

mkdir -p "$OUT"
work="$(mktemp -d)"
tmp="$(mktemp "$OUT/.whereabouts.XXXXXX")"
trap 'rm -rf "$work" "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The module cache is read-only; build a writable copy (go may touch go.sum's timestamp).
cp -r "$src/." "$work/"
chmod -R u+w "$work"

build_priority
# As the release's hack/build-go.sh, with the version of a released build.
pv="$MOD/pkg/version"
ldflags="-s -w -X $pv.Version=v${WHEREABOUTS_VERSION} -X $pv.ReleaseStatus=released -X $pv.GitTreeState=clean"
log "building whereabouts v${WHEREABOUTS_VERSION} ${prio[*]} ${jobs[*]}"
(cd "$work" && "${prio[@]}" "$GO" build -mod=readonly -trimpath "${jobs[@]}" -ldflags "$ldflags" -o "$tmp" ./cmd/)
chmod 0755 "$tmp"
mv -f "$tmp" "$OUT/whereabouts"
version_ok || { log "built, but the binary does not report v${WHEREABOUTS_VERSION}"; exit 1; }
log "done in $(since "$T0"): whereabouts v${WHEREABOUTS_VERSION}"
echo "$OUT"
