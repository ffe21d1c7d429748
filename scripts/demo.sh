#!/usr/bin/env bash
# The main job: a 2-node lab running the seed's scenario, checked with real packets, left up.
# With the control-plane binaries built (.ci/install does it), the lab gets its own etcd and
# kube-apiserver and the seed's files are applied with the real kubectl, as the seed's "Testing"
# section does; without them (or with --embedded) the lab's embedded store and `lab apply`.
set -euo pipefail
cd "$(dirname "$0")/.."
mn() { node bin/multinet.js "$@"; }
# shellcheck disable=SC1091
. deploy/k8s-bins/versions.env
BIN="${MULTINET_K8S_BINS:-${MULTINET_BIN_CACHE:-/var/cache/multinet}/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}}"
if [ "${1:-}" != "--embedded" ] && [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubectl" ] && [ -x "$BIN/etcd" ]; then
  echo "== multinet lab --kube: 2 nodes, etcd + kube-apiserver ${K8S_VERSION} on loopback, RBAC on"
  mn lab up --kube --nodes 2
  kc() { "$BIN/kubectl" --kubeconfig "$(mn lab kubeconfig)" "$@"; }
  echo
  echo "== kubectl apply -f examples/seed/ (the seed's files; its blue NAD made strict JSON for Multus)"
  kc apply -f examples/seed/
  kc wait --for=jsonpath='{.status.phase}'=Running pod/samplepod pod/samplepod2 pod/samplepod3 --timeout=120s
  echo
  echo "== kubectl get nodes,networks,pods -o wide"
  kc get nodes -o wide
  kc get networks
  kc get pods -o wide
  echo
  echo "== samplepod's network-status (written by the Multus that lab up named)"
  kc get pod samplepod -o jsonpath='{.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}'
  echo
  KUBE=1
else
  [ "${1:-}" = "--embedded" ] || echo "(no Kubernetes binaries in $BIN: the embedded lab; scripts/k8s-bins.sh builds them)"
  echo "== multinet lab: 2 nodes, the seed's manifests (examples/seed)"
  mn lab up --nodes 2 -f examples/seed
  KUBE=0
fi
echo
echo "== pods and their interfaces"
mn lab get pods
echo
echo "== network-aware services (ClusterIP answered only inside its network)"
mn lab get services -o wide
echo
echo "== connectivity: every pair of pod interfaces, probed with ping"
mn lab check
echo
echo "The lab is left up. Try:"
if [ "$KUBE" = 1 ]; then
  echo "  export KUBECONFIG=$(mn lab kubeconfig); $BIN/kubectl get pods -o wide"
  echo "  $BIN/kubectl delete pod samplepod3        # torn down by the lab node's kubelet role"
fi
cat <<'HINT'
  node bin/multinet.js lab exec samplepod -- ip addr
  node bin/multinet.js lab exec samplepod -- ping -c1 -I eth1 <a blue address of samplepod2>
  node bin/multinet.js lab get pods -o wide
  node bin/multinet.js lab down          # removes everything the lab made
HINT
