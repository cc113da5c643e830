#!/usr/bin/env bash
# podmux against podmux-sim's faults: a lost connection and a missing status give 255 and one
# clear line; fan-out skips pods that are not Running, retries only before the command started
# (honouring Retry-After), reports missing pods, stops with --fail-fast, prefixes containers
# with --all-containers; -v logs without ever printing the token.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
cat >"$T/cluster.yaml" <<'EOF'
namespaces: [default, other]
objects:
  - kind: Deployment
    metadata: {name: web, labels: {app: web}}
    spec:
      replicas: 3
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web, tier: x}}
        spec:
          containers: [{name: main, command: [sleep, infinity]}]
  - kind: Deployment
    metadata: {name: empty}
    spec:
      replicas: 0
      selector: {matchLabels: {app: empty}}
      template:
        metadata: {labels: {app: empty}}
        spec:
          containers: [{name: main, command: [sleep, infinity]}]
  - kind: Pod
    metadata: {name: pending, labels: {tier: x}}
    spec:
      containers: [{name: main, command: [sleep, infinity]}]
    status: {phase: Pending}
  - kind: Pod
    metadata: {name: elsewhere, namespace: other, labels: {tier: x}}
    spec:
      containers: [{name: main, command: [sleep, infinity]}]
  - kind: Pod
    metadata: {name: two, labels: {app: two}}
    spec:
      containers:
        - {name: main, command: [sleep, infinity]}
        - {name: sidecar, command: [sleep, infinity]}
  - kind: Pod
    metadata:
      name: refused
      annotations: {sim.podmux.io/fault-upgrade-status: "503", sim.podmux.io/fault-retry-after: "1"}
    spec:
      containers: [{name: main, command: [sleep, infinity]}]
  - kind: Pod
    metadata:
      name: drop
      annotations: {sim.podmux.io/fault-drop-after-bytes: "100000"}
    spec:
      containers: [{name: main, command: [sleep, infinity]}]
  - kind: Pod
    metadata:
      name: nostatus
      annotations: {sim.podmux.io/fault-close-without-status: "true"}
    spec:
      containers: [{name: main, command: [sleep, infinity]}]
EOF
start_sim --cluster "$T/cluster.yaml"
POD=$(pod_names app=web | sed -n 1p)

# A connection lost mid-output: 255 and exactly one line saying so.
set +e
timeout 20 "$PODMUX" exec drop -- head -c 1000000 /dev/zero >"$T/o" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "dropped connection"
expect_eq "$(wc -l <"$T/e")" 1 "one line"
grep -Eq "^podmux: connection to 127\.0\.0\.1:[0-9]+ lost after [0-9.]+ (kB|MB|bytes); the command's exit status is unknown$" "$T/e" ||
  fail "lost: $(cat "$T/e")"
set +e
timeout 20 "$PODMUX" exec nostatus -- true 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "close without status"
expect_eq "$(wc -l <"$T/e")" 1 "one line"
grep -Eq "^podmux: .*without (sending )?an exit status.*; the command's exit status is unknown$" "$T/e" ||
  fail "no status: $(cat "$T/e")"

# A workload without pods: kubectl waits --pod-running-timeout, then gives up.
start=$(date +%s%N)
set +e
timeout 20 "$PODMUX" exec --pod-running-timeout 1500ms deploy/empty -- true 2>"$T/e"; rc=$?
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "$rc" 255 "empty workload"
expect_eq "$(cat "$T/e")" "podmux: timed out waiting for a pod of deploy/empty" "empty workload"
[ "$ms" -ge 1400 ] && [ "$ms" -lt 10000 ] || fail "--pod-running-timeout 1500ms took $ms ms"

# Selector over two namespaces with a Pending pod: skipped, listed, exit 0; ns/pod prefixes.
timeout 20 "$PODMUX" exec -A -l tier=x -- sh -c 'echo hi' >"$T/o" 2>"$T/e"
expect_eq "$(wc -l <"$T/o")" 4 "4 running pods"
grep -qx 'other/elsewhere hi' "$T/o" || fail "ns prefix: $(cat "$T/o")"
grep -qx 'podmux: 4 ok, 0 non-zero, 0 failed, 1 skipped (5 pods)' "$T/e" || fail "$(cat "$T/e")"
grep -qx '  default/pending: skipped: phase Pending' "$T/e" || fail "skip line: $(cat "$T/e")"

# Retries only before the command started, waiting for Retry-After: 3 attempts, >= 2 s.
start=$(date +%s%N)
set +e
timeout 30 "$PODMUX" exec --retries 2 -o json refused "$POD" -- true >"$T/o" 2>"$T/e"; rc=$?
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "$rc" 255 "refused"
[ "$ms" -ge 1900 ] || fail "retries did not wait for Retry-After ($ms ms)"
/usr/bin/python3 - "$T/o" <<'PY'
import json, sys
res = {o["pod"]: o for o in map(json.loads, open(sys.argv[1])) if o["type"] == "result"}
assert res["refused"]["attempts"] == 3 and res["refused"]["error_code"] == "PMX_ESERVER", res["refused"]
assert res["refused"]["http_status"] == 503, res["refused"]
ok = [o for p, o in res.items() if p != "refused"][0]
assert ok["attempts"] == 1 and ok["exit_code"] == 0, ok
PY
# One pod (issue 14.7: --retries was ignored): the same 3 attempts, a note for each retry.
start=$(date +%s%N)
set +e
timeout 30 "$PODMUX" exec --retries 2 refused -- true >"$T/o" 2>"$T/e"; rc=$?
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "$rc" 255 "refused, one pod"
[ "$ms" -ge 1900 ] || fail "one pod: retries did not wait for Retry-After ($ms ms)"
expect_eq "$(grep -c '^podmux: attempt [12] failed (.*), retrying in ' "$T/e")" 2 "one pod: retry notes: $(cat "$T/e")"
expect_eq "$(grep -vc '^podmux: attempt' "$T/e")" 1 "one pod: one final error line"
set +e
timeout 30 "$PODMUX" exec --retries 2 -q refused -- true 2>"$T/e"
set -e
expect_eq "$(grep -c 'attempt' "$T/e")" 0 "one pod: -q keeps the notes back"
out=$(timeout 30 "$PODMUX" exec --retries 2 "$POD" -- echo once)
expect_eq "$out" once "one pod: a command that runs is run once"

# A command that started is never retried, even when it failed.
set +e
timeout 30 "$PODMUX" exec --retries 3 -o json drop nostatus -- head -c 1000000 /dev/zero >"$T/o" 2>"$T/e"
set -e
/usr/bin/python3 - "$T/o" <<'PY'
import json, sys
res = [o for o in map(json.loads, open(sys.argv[1])) if o["type"] == "result"]
assert len(res) == 2 and all(o["attempts"] == 1 and o["exit_code"] is None for o in res), res
PY

# A named pod that does not exist fails alone; the others run.
set +e
timeout 20 "$PODMUX" exec "$POD" nosuch -- true >"$T/o" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "missing pod in a fan-out"
grep -q '^podmux: 1 ok, 0 non-zero, 1 failed' "$T/e" || fail "$(cat "$T/e")"
grep -q '  nosuch: pods "nosuch" not found' "$T/e" || fail "$(cat "$T/e")"

# --fail-fast with -P 1: the first non-zero exit cancels the rest.
set +e
timeout 20 "$PODMUX" exec --fail-fast -P 1 -l app=web -- false >"$T/o" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 1 "fail-fast: the non-zero exit is the status"
grep -q '^podmux: 0 ok, 1 non-zero, 0 failed, 0 skipped, 2 canceled (3 pods)$' "$T/e" ||
  fail "fail-fast: $(cat "$T/e")"
# The canceled pods: counted apart, named in one line.
grep -Eq '^  canceled: web-[a-z0-9-]+, web-[a-z0-9-]+$' "$T/e" || fail "canceled line: $(cat "$T/e")"
expect_eq "$(grep -c 'canceled' "$T/e")" 2 "canceled said once besides the count"

# stdout closed (issue 14.6): the summary still reaches stderr, and podmux does not abort.
set +e
timeout 20 "$PODMUX" exec -l app=web -- sh -c 'echo out; exit 3' >&- 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 1 "stdout closed: exit status"
grep -q '^podmux: 0 ok, 3 non-zero, 0 failed, 0 skipped (3 pods)$' "$T/e" ||
  fail "stdout closed: no summary: $(cat "$T/e")"

# --all-containers: POD/CONTAINER prefixes.
timeout 20 "$PODMUX" exec --all-containers two -- sh -c 'echo x' | sort >"$T/o"
expect_eq "$(cat "$T/o")" "$(printf 'two/main x\ntwo/sidecar x')" "--all-containers"

# -v: states and timings, never the token.
TOKEN=$(/usr/bin/python3 -c 'import yaml,os; print(yaml.safe_load(open(os.environ["KUBECONFIG"]))["users"][0]["user"]["token"])')
[ -n "$TOKEN" ] || fail "no token in the kubeconfig"
timeout 20 "$PODMUX" -v exec "$POD" -- true 2>"$T/e"
grep -q 'open' "$T/e" || fail "-v logged no states: $(head -5 "$T/e")"
if grep -qF "$TOKEN" "$T/e"; then fail "-v printed the token"; fi
timeout 20 "$PODMUX" exec -v --token "$TOKEN" "$POD" -- true 2>"$T/e"
if grep -qF "$TOKEN" "$T/e"; then fail "-v printed the --token"; fi
echo PASS
