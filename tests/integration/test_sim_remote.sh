#!/usr/bin/env bash
# podmux-sim's remote-cluster model (--exec-model remote, the benchmarks' cluster): kubectl 1.32,
# python3-kubernetes, raw WebSocket frames and the podmux CLI get the same results from it as from
# real processes, and it runs no process for the commands it models.
. "$(dirname "$0")/lib.sh"
command -v kubectl >/dev/null || { echo "no kubectl"; exit 77; }
/usr/bin/python3 -c 'import kubernetes, websocket' 2>/dev/null || { echo "no python3-kubernetes"; exit 77; }

stop_sim() {
  kill -TERM "$SIM_PID"
  wait "$SIM_PID" || fail "podmux-sim exited with $? (log: $(tail -5 "$T/sim.log"))"
  SIM_PID=""
  rm -f "$T/ready.fifo"
}

# clients MODE: everything the clients see, one line per check, in $T/MODE.txt.
clients() {
  local o="$T/$1.txt" pod rc
  pod=$(pod_names app=web | head -1)
  [ -n "$pod" ] || fail "$1: no pods listed"
  /usr/bin/python3 "$PMX_SRC/tests/integration/data/sim_frames.py" "$pod" >"$o"
  # client-go now and then logs `Unknown stream id 1, discarding message` for the open's empty
  # frame (a race in its demux loop, seen now and then): not compared.
  k() { set +e; timeout 60 kubectl exec "$@" >"$T/out" 2>"$T/err"; rc=$?; set -e
        echo "kubectl $* rc=$rc out=$(head -c 200 "$T/out" | od -An -c | tr -s ' ' | head -c 300) err=$(grep -v 'Unknown stream id' "$T/err" | tail -1)" >>"$o"; }
  k "$pod" -- true
  k "$pod" -- false
  k "$pod" -- sh -c 'exit 42'
  k "$pod" -- echo hello world
  k "$pod" -- sleep 0.2
  printf 'a\nb\n' >"$T/in"
  k -i "$pod" -- cat <"$T/in"
  echo "kubectl 8 MiB through cat: $(head -c 8388608 /dev/zero | timeout 60 kubectl exec -i "$pod" -- cat | wc -c)" >>"$o"
  echo "kubectl 1 MiB from head: $(timeout 60 kubectl exec "$pod" -- head -c 1048576 /dev/zero | wc -c)" >>"$o"
  /usr/bin/python3 - "$pod" >>"$o" <<'PY'
import sys
from kubernetes import client, config
from kubernetes.stream import stream
pod = sys.argv[1]
config.load_kube_config()
api = client.CoreV1Api()
def run(cmd, stdin=None):
    r = stream(api.connect_get_namespaced_pod_exec, pod, "default", command=cmd, stderr=True,
               stdin=stdin is not None, stdout=True, tty=False, _preload_content=False)
    if stdin is not None:
        r.write_stdin(stdin)
    r.run_forever(timeout=20)
    return r.read_stdout(timeout=1), r.read_stderr(timeout=1), r.returncode
for cmd in (["true"], ["false"], ["sh", "-c", "exit 3"], ["echo", "py"], ["sleep", "0.1"],
            ["head", "-c", "100000", "/dev/zero"]):
    out, err, rc = run(cmd)
    print("python", cmd, "rc=%s" % rc, "out=%d:%r" % (len(out), out[:20]), "err=%r" % err)
PY
  set +e
  "$PODMUX" exec -l app=web -P 8 -- sh -c 'exit 3' >"$T/out" 2>"$T/err"; rc=$?
  set -e
  echo "podmux fan-out exit 3: rc=$rc $(grep -c 'exit 3' "$T/err") $(grep 'non-zero' "$T/err")" >>"$o"
  echo "podmux fan-out echo: $("$PODMUX" exec -l app=web -P 8 -- echo hi 2>/dev/null | sort | tr '\n' ' ')" >>"$o"
}

echo "== real processes"
start_sim --pods 3
clients process
stop_sim

echo "== the remote-cluster model (exec start 5 ms, round trip 4 ms)"
start_sim --pods 3 --exec-model remote --exec-start-ms 5 --rtt-ms 4
clients remote
# Pod names are random per sim: compare with them blanked out.
sed -i -E 's/web-[a-z0-9]{10}-[a-z0-9]{5}/POD/g' "$T/process.txt" "$T/remote.txt"
if ! diff "$T/process.txt" "$T/remote.txt"; then
  fail "the model's results differ from real processes' (< real, > model)"
fi
grep -q 'ch1=300000:' "$T/remote.txt" || fail "no head output: $(head -20 "$T/remote.txt")"
grep -q 'rc=42' "$T/remote.txt" || fail "no exit 42: $(cat "$T/remote.txt")"

echo "== the model runs no process for what it models, and still runs others"
pod=$(pod_names app=web | head -1)
kubectl exec "$pod" -- sleep 30 >/dev/null 2>&1 &
KPID=$!
for _ in $(seq 100); do
  sim_get /podmux-sim/stats | grep -q '"sessionsActive":1' && break; sleep 0.1
done
sim_get /podmux-sim/stats | grep -q '"sessionsActive":1' || fail "the sleep session did not open"
kids=$( (ps -o pid= --ppid "$SIM_PID" || true) | wc -l)
kill "$KPID" 2>/dev/null || true
wait "$KPID" 2>/dev/null || true
expect_eq "$kids" 0 "processes under the sim while a modelled sleep runs"
expect_eq "$(kubectl exec "$pod" -- sh -c 'echo $HOSTNAME')" "$pod" "an unmodelled command (a real process)"
stop_sim

echo "== bad flags get one line"
set +e
"$PODMUX_SIM" --kubeconfig-out "$T/kc" --exec-model cloud 2>"$T/err"; rc=$?
set -e
expect_eq "$rc" 2 "exit for a bad --exec-model"
expect_eq "$(cat "$T/err")" "podmux-sim: --exec-model cloud: expected process or remote" "message"
set +e
"$PODMUX_SIM" --kubeconfig-out "$T/kc" --rtt-ms -1 2>"$T/err"; rc=$?
set -e
expect_eq "$rc" 2 "exit for a bad --rtt-ms"
echo "remote-cluster model: all checks passed"
