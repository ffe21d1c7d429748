#!/usr/bin/env bash
# The main job: a 2-node lab running the seed's scenario, checked with real packets, left up.
set -euo pipefail
cd "$(dirname "$0")/.."
mn() { node bin/multinet.js "$@"; }
echo "== multinet lab: 2 nodes, the seed's manifests (examples/seed)"
mn lab up --nodes 2 -f examples/seed
echo
echo "== pods and their interfaces"
mn lab get pods
echo
echo "== networks"
mn lab get networks
echo
echo "== network-aware services (ClusterIP answered only inside its network)"
mn lab get services -o wide
echo
echo "== connectivity: every pair of pod interfaces, probed with ping"
mn lab check
cat <<'HINT'

The lab is left up. Try:
  node bin/multinet.js lab exec samplepod -- ip addr
  node bin/multinet.js lab exec samplepod -- ping -c1 -I eth1 <a blue address of samplepod2>
  node bin/multinet.js lab get pods -o wide
  node bin/multinet.js lab down          # removes everything the lab made
HINT
