# lib.sh: shared helpers for the integration tests (sourced, not run).
# Every test gets its own podmux-sim on a free loopback port and its own temp dir, both
# removed on exit. Exit 77 means "skipped" to CTest.
set -euo pipefail

: "${PMX_BUILD:?run through ctest (PMX_BUILD unset)}"
PODMUX=${PODMUX:-$PMX_BUILD/podmux}
PODMUX_SIM=${PODMUX_SIM:-$PMX_BUILD/podmux-sim}
T=$(mktemp -d /tmp/pmx-test.XXXXXX)
SIM_PID=""
export HOME="$T/home"          # kubectl's discovery cache and config stay inside the test
mkdir -p "$HOME"
# LeakSanitizer is noisy about kubectl-like children; our own binaries are checked by their tests.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

cleanup() {
  local rc=$?
  if [ -n "$SIM_PID" ] && kill -0 "$SIM_PID" 2>/dev/null; then
    kill -TERM "$SIM_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SIM_PID" 2>/dev/null || true
  fi
  if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -f "$T/sim.log" ]; then
    if grep -q 'Sanitizer' "$T/sim.log"; then
      echo "--- podmux-sim sanitizer report"; grep -m1 -A40 'ERROR: \|runtime error' "$T/sim.log"
    else
      echo "--- podmux-sim log (last 30 lines)"; tail -30 "$T/sim.log"
    fi
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT

# start_sim [podmux-sim args...]: starts the sim, waits for its ready line, and sets
# SIM_URL and KUBECONFIG (exported).
start_sim() {
  mkfifo "$T/ready.fifo"
  "$PODMUX_SIM" --listen 127.0.0.1:0 --kubeconfig-out "$T/kubeconfig" --state-dir "$T/state" "$@" \
    >"$T/ready.fifo" 2>"$T/sim.log" &
  SIM_PID=$!
  local line=""
  if ! read -r -t 30 line <"$T/ready.fifo"; then
    echo "podmux-sim did not start"; cat "$T/sim.log"; exit 1
  fi
  case "$line" in ready\ *) ;; *) echo "unexpected first line: $line"; exit 1;; esac
  SIM_URL=$(echo "$line" | awk '{print $2}')
  export KUBECONFIG="$T/kubeconfig"
}

# sim_get PATH: GET through curl-less means: python3 with the CA from the kubeconfig.
sim_get() {
  /usr/bin/python3 - "$1" <<'PY'
import base64, json, os, ssl, sys, urllib.request, yaml
cfg = yaml.safe_load(open(os.environ["KUBECONFIG"]))
cl = cfg["clusters"][0]["cluster"]; tok = cfg["users"][0]["user"]["token"]
ctx = ssl.create_default_context(cadata=base64.b64decode(cl["certificate-authority-data"]).decode())
req = urllib.request.Request(cl["server"] + sys.argv[1], headers={"Authorization": "Bearer " + tok})
try:
    try:
        print(urllib.request.urlopen(req, context=ctx, timeout=10).read().decode())
    except urllib.error.HTTPError as e:
        print(e.read().decode()); sys.exit(1)
    sys.stdout.flush()
except BrokenPipeError:  # `sim_get X | grep -q Y` stops reading early
    sys.stderr.close()
PY
}

pod_names() {  # pod_names [labelSelector]: names, one a line
  sim_get "/api/v1/namespaces/default/pods${1:+?labelSelector=$1}" | /usr/bin/python3 -c \
    'import json,sys
names = [p["metadata"]["name"] for p in json.load(sys.stdin)["items"]]
try:
    print("\n".join(names)); sys.stdout.flush()
except BrokenPipeError:  # `pod_names | head -1` is fine
    sys.stderr.close()'
}

fail() { echo "FAIL: $*"; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected [$2], got [$1]"; }

# plugin_kubeconfig SCRIPT OUT: a kubeconfig for the running sim whose user is the exec
# credential plugin SCRIPT (client.authentication.k8s.io/v1, never interactive).
plugin_kubeconfig() {
  cat >"$2" <<KC
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$SIM_URL", certificate-authority: "$T/state/ca.crt"}
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: "$1", interactiveMode: Never}
contexts:
- name: x
  context: {cluster: c, user: u, namespace: default}
current-context: x
KC
}

# closed_port: a loopback port nothing listens on (bound, then released).
closed_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_expired_server: openssl s_server with a certificate from the sim's CA, right names,
# expired in 2021; sets EPORT and SPID. Fails when python3-cryptography is missing.
start_expired_server() {
  /usr/bin/python3 "$PMX_SRC/tests/integration/data/expired_cert.py" "$T/state/ca.crt" \
    "$T/state/ca.key" "$T/expired" 2>/dev/null || return 1
  EPORT=$(closed_port)
  openssl s_server -quiet -accept "127.0.0.1:$EPORT" -cert "$T/expired.crt" -key "$T/expired.key" \
    </dev/null >/dev/null 2>&1 &
  SPID=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$EPORT") 2>/dev/null && break; sleep 0.1; done
}
