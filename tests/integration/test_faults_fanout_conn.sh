#!/usr/bin/env bash
# test_faults_fanout_conn.sh: issue 9's connection, TLS and HTTP faults for `podmux exec` over
# several pods, by name (each pod fails: summary + one line per pod naming the fault) and by
# selector (the list itself fails: one line). Exit 255, no output, no sanitizer report, no token
# printed. Stream faults in fan-out: test_faults_fanout.sh; single-pod forms: test_faults_cli.sh;
# library: itest_faults.c. Cluster: data/faults-fanout-cluster.yaml.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99" # a leak must not pass for exit 255
TOKEN=fanout-faults-token-91c0
start_sim --cluster "$PMX_SRC/tests/integration/data/faults-fanout-cluster.yaml" --token "$TOKEN"
CA="$T/state/ca.crt"
HOSTPORT=${SIM_URL#https://}
. "$PMX_SRC/tests/integration/faults_lib.sh"

# ---- faults of the connection, TLS and HTTP: every pod fails alike -------------------------------
# conn NAME MSG_REGEX LIST_MSG_REGEX podmux-args...: named pods ok-a ok-b, then -l case=ok.
conn() {
  local name=$1 re=$2 lre=$3; shift 3
  fo "$name-named" 255 "$@" exec -q ok-a ok-b -- echo ran
  summary "$T/$name-named.err" 0 0 2 2
  lines "$T/$name-named.err" "$name named" "podmux: 0 ok, 0 non-zero, 2 failed, 0 skipped \(2 pods\)" \
    "  ok-a: $re" "  ok-b: $re"
  [ ! -s "$T/$name-named.out" ] || fail "$name named: output: $(cat "$T/$name-named.out")"
  fo "$name-selector" 255 "$@" exec -q -l case=ok -- echo ran
  lines "$T/$name-selector.err" "$name selector" "podmux: $lre"
  [ ! -s "$T/$name-selector.out" ] || fail "$name selector: output"
}
PORT=$(closed_port)
conn refused "cannot connect to 127\.0\.0\.1:$PORT: connection refused" \
  "cannot connect to 127\.0\.0\.1:$PORT: connection refused" \
  --server "https://127.0.0.1:$PORT" --certificate-authority "$CA" --token x
conn dns "cannot resolve podmux-no-such-host\.invalid: .*" "cannot resolve podmux-no-such-host\.invalid: .*" \
  --server https://podmux-no-such-host.invalid:6443 --certificate-authority "$CA" --token x
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other-ca.key" \
  -out "$T/other-ca.crt" -subj /CN=other-ca -days 2 2>/dev/null
conn unknown-ca "certificate verify failed: not trusted by CA \(server $HOSTPORT\)" \
  "certificate verify failed: not trusted by CA \(server $HOSTPORT\)" \
  --server "$SIM_URL" --certificate-authority "$T/other-ca.crt" --token "$TOKEN"
# kcfg NAME CLUSTER_LINES USER_LINES: writes $T/NAME.kubeconfig for the sim.
kcfg() {
  printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority: %s\n%susers:\n- name: u\n  user:\n%scontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: default}\ncurrent-context: x\n' \
    "$SIM_URL" "$CA" "$2" "$3" >"$T/$1.kubeconfig"
}
kcfg badname "    tls-server-name: api.wrong.example
" "    token: $TOKEN
"
K=$T/badname.kubeconfig
conn hostname ".*hostname mismatch.*api\.wrong\.example.*" ".*hostname mismatch.*api\.wrong\.example.*" \
  --kubeconfig "$K"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue.key" \
  -out "$T/rogue.csr" -subj /CN=podmux-cert-user/O=system:masters 2>/dev/null
openssl x509 -req -in "$T/rogue.csr" -CA "$T/other-ca.crt" -CAkey "$T/other-ca.key" \
  -set_serial 7 -days 2 -out "$T/rogue.crt" 2>/dev/null
kcfg rogue "" "    client-certificate: $T/rogue.crt
    client-key: $T/rogue.key
"
K=$T/rogue.kubeconfig
# An expired server certificate (signed by the sim's CA, right names, 2020-2021), served by
# openssl s_server.
if start_expired_server; then
  conn expired "certificate verify failed: expired \(server 127\.0\.0\.1:$EPORT\)" \
    "certificate verify failed: expired \(server 127\.0\.0\.1:$EPORT\)" \
    --server "https://127.0.0.1:$EPORT" --certificate-authority "$CA" --token "$TOKEN"
  kill "$SPID" 2>/dev/null || true
else
  echo "skip expired: no python3 cryptography"
fi
UNAUTH="unauthorized: the server rejected the credentials \(Unauthorized\)"
conn client-cert "$UNAUTH" "$UNAUTH" --kubeconfig "$K"
conn 401 "$UNAUTH" "$UNAUTH" --token wrong-token-aa
# 403: the exec is forbidden per pod; the list over the namespace is forbidden as a whole.
fo 403-named 255 --token limited-token -n restricted exec -q secret-a ok-a -- echo ran
lines "$T/403-named.err" "403 named" "podmux: 0 ok, 0 non-zero, 2 failed, 0 skipped \(2 pods\)" \
  '  secret-a: pods "secret-a" is forbidden: User "limited" cannot get resource "pods/exec" in API group "" in the namespace "restricted"' \
  '  ok-a: pods "ok-a" is forbidden: User "limited" cannot get resource "pods/exec" in API group "" in the namespace "restricted"'
fo 403-selector 255 --token limited-token -n restricted exec -q -l case=ok -- echo ran
lines "$T/403-selector.err" "403 selector" \
  'podmux: pods is forbidden: User "limited" cannot list resource "pods" in API group "" in the namespace "restricted"'
# 404 in a fan-out: the missing pod fails alone.
fo 404 255 exec -q ok-a no-such-pod -- echo ran
lines "$T/404.err" "404" "podmux: 1 ok, 0 non-zero, 1 failed, 0 skipped \(2 pods\)" \
  '  no-such-pod: pods "no-such-pod" not found'
expect_eq "$(cat "$T/404.out")" "ok-a ran" "404: the other pod's output"
# 400: a container no pod has.
fo 400-named 255 exec -q -c nope ok-a ok-b -- echo ran
lines "$T/400-named.err" "400 named" "podmux: 0 ok, 0 non-zero, 2 failed, 0 skipped \(2 pods\)" \
  "  ok-a: container nope is not valid for pod ok-a" "  ok-b: container nope is not valid for pod ok-b"
fo 400-selector 255 exec -q -c nope -l case=ok -- echo ran
lines "$T/400-selector.err" "400 selector" "podmux: 0 ok, 0 non-zero, 2 failed, 0 skipped \(2 pods\)" \
  "  ok-a: container nope is not valid for pod ok-a" "  ok-b: container nope is not valid for pod ok-b"

echo "PASS ($SECONDS s)"
