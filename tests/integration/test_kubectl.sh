#!/usr/bin/env bash
# Conformance: kubectl 1.32 (a client we did not write) against podmux-sim over TLS.
. "$(dirname "$0")/lib.sh"
command -v kubectl >/dev/null || { echo "no kubectl"; exit 77; }
start_sim --cluster "$PMX_SRC/tests/integration/data/cluster.yaml"
POD=$(pod_names app=web | head -1)
[ -n "$POD" ] || fail "no pods listed"

echo "== exit code and streams"
set +e
kubectl exec "$POD" -- sh -c 'echo out; echo err >&2; exit 3' >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_eq "$rc" 3 "kubectl exit code"
expect_eq "$(cat "$T/out")" "out" "stdout"
grep -qx "err" "$T/err" || fail "stderr lacks the command's line: $(cat "$T/err")"
grep -q "command terminated with exit code 3" "$T/err" || fail "no exit message: $(cat "$T/err")"

echo "== stdin reaches EOF (v5 close)"
out=$(printf 'a\nb\n' | timeout 30 kubectl exec -i "$POD" -- cat)
expect_eq "$out" "$(printf 'a\nb')" "cat through stdin"
# kubectl floods stdin from the first moment, before the process may exist (the sim spawns on
# its thread pool): every byte must get through, no stall.
out=$(head -c 33554432 /dev/zero | timeout 60 kubectl exec -i "$POD" -- sh -c 'cat | wc -c')
expect_eq "$(echo $out)" 33554432 "32 MiB through kubectl's stdin"

echo "== environment of the simulated container"
out=$(kubectl exec "$POD" -- sh -c 'echo $HOSTNAME $POD_NAMESPACE $CONTAINER_NAME')
expect_eq "$out" "$POD default main" "env"

echo "== deploy/web picks one of its pods"
out=$(kubectl exec deploy/web -- hostname)
pod_names app=web | grep -qx "$out" || fail "deploy/web ran in [$out]"

echo "== kubectl get pods -l app=web"
kubectl get pods -l app=web >"$T/get"
head -1 "$T/get" | grep -Eq '^NAME +READY +STATUS +RESTARTS +AGE' || fail "header: $(head -1 "$T/get")"
expect_eq "$(tail -n +2 "$T/get" | grep -c ' Running ')" 3 "running rows"

echo "== kubectl get for workloads: the columns of the real 1.32 printers"
hdr() { head -1 "$T/get" | tr -s ' '; }
row() { sed -n "${1}p" "$T/get" | tr -s ' '; }
kubectl get deploy >"$T/get"
expect_eq "$(hdr)" "NAME READY UP-TO-DATE AVAILABLE AGE" "deploy header"
expect_eq "$(row 2 | cut -d' ' -f1-4)" "web 3/3 3 3" "deploy row"
kubectl get deploy web -o wide >"$T/get"
expect_eq "$(hdr)" "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR" "deploy wide header"
expect_eq "$(row 2 | cut -d' ' -f1-4,6-)" "web 3/3 3 3 main busybox:1.36 app=web" "deploy wide row"
kubectl get sts >"$T/get"
expect_eq "$(hdr)" "NAME READY AGE" "sts header"
expect_eq "$(row 2 | cut -d' ' -f1-2)" "ticker 1/1" "sts row"
kubectl get rs -o wide >"$T/get"
expect_eq "$(hdr)" "NAME DESIRED CURRENT READY AGE CONTAINERS IMAGES SELECTOR" "rs header"
row 2 | grep -Eq '^web-[a-z0-9]{10} 3 3 3 [0-9a-z]+ main busybox:1.36 app=web,pod-template-hash=[a-z0-9]{10}$' ||
  fail "rs row: $(row 2)"
expect_eq "$(kubectl get ds 2>&1)" "No resources found in default namespace." "no daemonsets"

echo "== errors read as on a real cluster"
set +e
kubectl exec nosuchpod -- true 2>"$T/err"; rc=$?
set -e
expect_eq "$rc" 1 "exit for a missing pod"
grep -q 'Error from server (NotFound): pods "nosuchpod" not found' "$T/err" || fail "$(cat "$T/err")"

set +e
kubectl exec "$POD" -c nosuch -- true 2>"$T/err"; rc=$?
set -e
expect_eq "$rc" 1 "exit for a bad container"
grep -q "Error from server (BadRequest): container nosuch is not valid for pod $POD" "$T/err" \
  || fail "$(cat "$T/err")"

set +e
kubectl --token wrong-token exec "$POD" -- true 2>"$T/err"; rc=$?
set -e
expect_eq "$rc" 1 "exit for a bad token"
grep -q "error: You must be logged in to the server" "$T/err" || fail "$(cat "$T/err")"

echo "== pods that cannot run commands"
kerr() { set +e; kubectl "$@" 2>"$T/err" >/dev/null; local rc=$?; set -e; expect_eq "$rc" 1 "kubectl $*"; }
kerr exec pending -- true
grep -q "Error from server (BadRequest): pod pending does not have a host assigned" "$T/err" || fail "$(cat "$T/err")"
kerr exec done -- true
grep -q "cannot exec into a container in a completed pod; current phase is Succeeded" "$T/err" || fail "$(cat "$T/err")"
kerr --token limited-token -n restricted exec secret -- true
grep -q 'Error from server (Forbidden): pods "secret" is forbidden: User "limited" cannot get resource "pods" in API group "" in the namespace "restricted"' "$T/err" || fail "$(cat "$T/err")"
out=$(kubectl exec two -- echo defaulted 2>"$T/err")
expect_eq "$out" defaulted "exec in a two-container pod"
grep -q 'Defaulted container "main" out of: main, sidecar, init-db (init)' "$T/err" || fail "$(cat "$T/err")"

echo "== the client-certificate user works too"
out=$(kubectl --context podmux-sim-cert exec "$POD" -- echo cert-ok)
expect_eq "$out" "cert-ok" "client certificate user"
echo "kubectl conformance: all checks passed"
