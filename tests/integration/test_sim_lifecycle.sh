#!/usr/bin/env bash
# podmux-sim start-up and shutdown: ready line, key files 0600, a kubeconfig kubectl accepts,
# stats, and no process left behind after SIGTERM (pipes and ptys, exec and attach).
. "$(dirname "$0")/lib.sh"
start_sim --pods 4
case "$SIM_URL" in https://127.0.0.1:*) ;; *) fail "url $SIM_URL";; esac
for f in ca.key server.key client.key; do
  expect_eq "$(stat -c %a "$T/state/$f")" 600 "mode of $f"
done
expect_eq "$(stat -c %a "$T/kubeconfig")" 600 "mode of the kubeconfig"
grep -q "^current-context: podmux-sim" "$T/kubeconfig" || fail "kubeconfig has no current context"
sim_get /version | grep -q '"minor": *"32"' || fail "/version: $(sim_get /version)"

echo "== processes started by exec die with the sim"
POD=$(pod_names app=web | head -1)
SLEEP="$((RANDOM % 9000 + 1000)).25"   # unique, so parallel tests do not match
/usr/bin/python3 - "$POD" "$SLEEP" <<'PY' &
import sys
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config()
api = client.CoreV1Api()
r = stream(api.connect_get_namespaced_pod_exec, sys.argv[1], "default",
           command=["sh", "-c", "echo started; exec sleep " + sys.argv[2]], stderr=True, stdin=False,
           stdout=True, tty=False, _preload_content=False)
r.update(timeout=10)
import time; time.sleep(60)
PY
PY_PID=$!
for _ in $(seq 100); do pgrep -f "sleep $SLEEP" >/dev/null && break; sleep 0.1; done
pgrep -f "sleep $SLEEP" >/dev/null || fail "the exec'd process never started"
sim_get /podmux-sim/stats | grep -q '"sessionsActive":1' || fail "stats: $(sim_get /podmux-sim/stats)"
kill -TERM "$SIM_PID"
for _ in $(seq 100); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SIM_PID" 2>/dev/null && fail "the sim did not stop on SIGTERM"
SIM_PID=""
kill "$PY_PID" 2>/dev/null || true
sleep 0.2
pgrep -f "sleep $SLEEP" && fail "a process outlived the sim"
echo "sim lifecycle: all checks passed"
