#!/usr/bin/env bash
# Smoke test of the control-plane binaries built by scripts/k8s-bins.sh: starts etcd and kube-apiserver
# on loopback (self-signed certs in a temp dir), waits for /readyz, then with the built kubectl:
# version, apply + get a CRD and an object of it, create a ServiceAccount token and authenticate with it.
# Everything it starts (processes, temp dir) is removed on exit, also on failure.
#
# Usage: scripts/k8s-smoke.sh [BIN_DIR]   (default: the folder printed by scripts/k8s-bins.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -ge 1 ]]; then
  BIN="$(cd "$1" && pwd)"
else
  # shellcheck source=../deploy/k8s-bins/versions.env
  source "$ROOT/deploy/k8s-bins/versions.env"
  BIN="${MULTINET_BIN_CACHE:-/var/cache/multinet}/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"
fi
for b in etcd kube-apiserver kubectl; do
  [[ -x "$BIN/$b" ]] || { echo "k8s-smoke: no $BIN/$b (run scripts/k8s-bins.sh)" >&2; exit 1; }
done

T0=$(date +%s.%N)
TMP="$(mktemp -d /tmp/k8s-smoke.XXXXXX)"
ETCD_PID="" API_PID="" checks=0 failed=1

stop() { # pid name
  local pid="$1" i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "k8s-smoke: $2 did not stop on TERM, killing" >&2; kill -KILL "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  if [[ $failed == 1 ]]; then
    for f in etcd.log apiserver.log; do
      [[ -f "$TMP/$f" ]] && { echo "--- last lines of $f" >&2; tail -n 20 "$TMP/$f" >&2; }
    done
  fi
  stop "$API_PID" kube-apiserver
  stop "$ETCD_PID" etcd
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "k8s-smoke: $*" >&2; }
ok() { checks=$((checks + 1)); log "ok $checks - $*"; }
fail() { log "FAILED: $*"; exit 1; }

# A free TCP port on 127.0.0.1 (nothing listening there now, and not handed out before in this run).
USED=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    [[ "$USED" == *" $p "* ]] && continue
    ss -Htln "sport = :$p" | grep -q . && continue
    USED+="$p "; echo "$p"; return
  done
}

# --- certificates ---------------------------------------------------------------------------------
cd "$TMP"
mkdir -p pki apiserver && mkdir -m 700 etcd-data
ossl() { openssl "$@" 2>>"$TMP/openssl.log" >/dev/null || fail "openssl $1 (see above)"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=multinet-smoke-ca" -keyout pki/ca.key -out pki/ca.crt
# serving cert: CN localhost, SANs localhost, 127.0.0.1, ::1
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout pki/apiserver.key -out pki/apiserver.csr
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > pki/serving.ext
ossl x509 -req -in pki/apiserver.csr -CA pki/ca.crt -CAkey pki/ca.key -CAcreateserial -days 1 \
  -extfile pki/serving.ext -out pki/apiserver.crt
# admin client cert: CN = user, O = group system:masters
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:masters/CN=smoke-admin" \
  -keyout pki/admin.key -out pki/admin.csr
printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > pki/client.ext
ossl x509 -req -in pki/admin.csr -CA pki/ca.crt -CAkey pki/ca.key -CAcreateserial -days 1 \
  -extfile pki/client.ext -out pki/admin.crt
# service-account signing key
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pki/sa.key
ossl pkey -in pki/sa.key -pubout -out pki/sa.pub
ok "certificates made with openssl"

# --- etcd -----------------------------------------------------------------------------------------
EC=$(free_port) EP=$(free_port) AP=$(free_port)
"$BIN/etcd" --name smoke --data-dir "$TMP/etcd-data" --unsafe-no-fsync \
  --listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
  --listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
  --initial-cluster "smoke=http://127.0.0.1:$EP" --log-level warn >"$TMP/etcd.log" 2>&1 &
ETCD_PID=$!
for i in $(seq 1 100); do
  kill -0 "$ETCD_PID" 2>/dev/null || fail "etcd exited"
  curl -fsS "http://127.0.0.1:$EC/health" 2>/dev/null | grep -q '"health":"true"' && break
  [[ $i == 100 ]] && fail "etcd not healthy after 10s"
  sleep 0.1
done
ok "etcd $("$BIN/etcd" --version | sed -n 's/^etcd Version: //p') healthy on 127.0.0.1:$EC (peer $EP)"

# --- kube-apiserver -------------------------------------------------------------------------------
"$BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$EC" \
  --cert-dir "$TMP/apiserver" --tls-cert-file "$TMP/pki/apiserver.crt" --tls-private-key-file "$TMP/pki/apiserver.key" \
  --secure-port "$AP" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --service-cluster-ip-range 10.96.0.0/12 --allow-privileged=true \
  --authorization-mode RBAC --client-ca-file "$TMP/pki/ca.crt" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$TMP/pki/sa.pub" --service-account-signing-key-file "$TMP/pki/sa.key" \
  --disable-admission-plugins ServiceAccount >"$TMP/apiserver.log" 2>&1 &
API_PID=$!
t=$(date +%s.%N)
for i in $(seq 1 600); do
  kill -0 "$API_PID" 2>/dev/null || fail "kube-apiserver exited"
  [[ "$(curl -sS --cacert pki/ca.crt --cert pki/admin.crt --key pki/admin.key \
        "https://127.0.0.1:$AP/readyz" 2>/dev/null)" == ok ]] && break
  [[ $i == 600 ]] && fail "kube-apiserver not ready after 60s"
  sleep 0.1
done
ok "kube-apiserver ready on https://127.0.0.1:$AP ($(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s to /readyz)"

# --- kubectl --------------------------------------------------------------------------------------
cat > kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
- name: smoke
  cluster: {server: "https://127.0.0.1:$AP", certificate-authority: "$TMP/pki/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$TMP/pki/admin.crt", client-key: "$TMP/pki/admin.key"}
contexts:
- name: smoke
  context: {cluster: smoke, user: admin}
current-context: smoke
EOF
export KUBECONFIG="$TMP/kubeconfig"
k() { "$BIN/kubectl" --request-timeout=20s "$@"; }

ver="$(k version -o json)" || fail "kubectl version"
cv="$(grep -A12 '"clientVersion"' <<<"$ver" | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | head -1)"
sv="$(grep -A12 '"serverVersion"' <<<"$ver" | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | head -1)"
[[ -n "$cv" && "$cv" == "$sv" && "$cv" != v0.0.0* ]] || fail "kubectl version: client '$cv', server '$sv'"
ok "kubectl version: client $cv, server $sv"

cat > crd.yaml <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.smoke.multinet.io}
spec:
  group: smoke.multinet.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
---
EOF
k apply -f crd.yaml >/dev/null || fail "kubectl apply CRD"
k wait --for condition=Established --timeout=30s crd/widgets.smoke.multinet.io >/dev/null || fail "CRD not established"
ok "kubectl apply -f CRD: established"
printf 'apiVersion: smoke.multinet.io/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3}\n' > w1.yaml
# the new resource may take a moment to appear in discovery
for i in $(seq 1 50); do k apply -f w1.yaml >/dev/null 2>&1 && break; [[ $i == 50 ]] && fail "kubectl apply Widget"; sleep 0.2; done
[[ "$(k get crd widgets.smoke.multinet.io -o jsonpath='{.spec.group}')" == smoke.multinet.io ]] || fail "kubectl get crd"
[[ "$(k get widgets -n default w1 -o jsonpath='{.spec.size}')" == 3 ]] || fail "kubectl get widget"
ok "kubectl get crd and widget w1 (spec.size=3)"

k create serviceaccount smoke -n default >/dev/null || fail "kubectl create serviceaccount"
token="$(k create token smoke -n default --duration=10m)" || fail "kubectl create token"
[[ "$(tr -cd . <<<"$token" | wc -c)" == 2 ]] || fail "token is not a JWT"
who="$("$BIN/kubectl" --kubeconfig /dev/null --server "https://127.0.0.1:$AP" \
       --certificate-authority "$TMP/pki/ca.crt" --token "$token" auth whoami -o jsonpath='{.status.userInfo.username}')" \
  || fail "kubectl auth whoami with the token"
[[ "$who" == system:serviceaccount:default:smoke ]] || fail "token authenticates as '$who'"
ok "kubectl create token: authenticates as $who"

failed=0
log "all $checks checks passed in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
echo "$checks passed, 0 failed"
