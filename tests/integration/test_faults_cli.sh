# test_faults_cli.sh: issue 9 at the CLI. For every fault podmux prints one line on stderr naming
# what happened, exits 255 (or with the remote code when it arrived), prints the output that
# arrived before the fault, leaves no sanitizer report and (with -t) restores the terminal.
# Faulty pods: data/faults-cluster.yaml. The library-level matrix is itest_faults.c.
source "$(dirname "$0")/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux CLI at $PODMUX"; exit 77; }
TOKEN=faults-cli-token-7f3a9c
start_sim --cluster "$PMX_SRC/tests/integration/data/faults-cluster.yaml" --token "$TOKEN"
CA="$T/state/ca.crt"
export ASAN_OPTIONS="detect_leaks=1:exitcode=99"  # a leak must not pass for exit 255
PASSED=0
FAILED=()
# soft NAME WHY: records a failure and goes on, so one report shows every broken fault.
soft() { echo "FAIL $1: $2"; FAILED+=("$1"); }

# fault NAME WANT_RC STDERR_REGEX [podmux args...]: runs podmux with stdin from /dev/null.
fault() {
  local name=$1 want=$2 re=$3 rc=0; shift 3
  local t0=$(date +%s%N)
  timeout 40 "$PODMUX" "$@" <"${STDIN:-/dev/null}" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  local e; e=$(cat "$T/$name.err")
  if grep -Eq 'Sanitizer|runtime error:' "$T/$name.err"; then soft "$name" "sanitizer report: $e"; return; fi
  [ "$rc" = "$want" ] || { soft "$name" "exit $rc, want $want; stderr: $e"; return; }
  local lines; lines=$(grep -c '' "$T/$name.err" || true)
  [ "$lines" = 1 ] || { soft "$name" "$lines lines on stderr, want 1: $e"; return; }
  grep -Eq "$re" "$T/$name.err" || { soft "$name" "stderr [$e] does not match /$re/"; return; }
  if grep -q "$TOKEN" "$T/$name.err" "$T/$name.out"; then soft "$name" "the token was printed"; return; fi
  local rep; rep=$(grep -o 'exit status is unknown' "$T/$name.err" | wc -l || true)
  [ "$rep" -le 1 ] || { soft "$name" "the message says the same thing twice: $e"; return; }
  echo "ok   $name (${MS} ms): $e"
  PASSED=$((PASSED + 1))
}
# kcfg NAME SERVER CLUSTER_LINES USER_LINES: writes $T/NAME.kubeconfig
kcfg() {
  printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n%susers:\n- name: u\n  user:\n%scontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: default}\ncurrent-context: x\n' \
    "$2" "$3" "$4" >"$T/$1.kubeconfig"
  echo "$T/$1.kubeconfig"
}
CAL="    certificate-authority: $CA
"

# ---- the remote code passes through; HTTP refusals ---------------------------------------------
fault_rc() { # like fault, but the remote code and no stderr
  local rc=0
  timeout 40 "$PODMUX" "$@" </dev/null >"$T/rc.out" 2>"$T/rc.err" || rc=$?
  echo "$rc"
}
rc=$(fault_rc exec -q ok -- sh -c 'echo out; exit 3')
expect_eq "$rc" 3 "remote exit code"
expect_eq "$(cat "$T/rc.out")" out "remote output"
[ -s "$T/rc.err" ] && fail "stderr on a clean non-zero exit: $(cat "$T/rc.err")"

fault 404-pod 255 'pods "no-such-pod" not found' exec -q no-such-pod -- true
fault 400-container 255 'container nope is not valid for pod ok' exec -q -c nope ok -- true
fault 401 255 '[Uu]nauthorized' --token wrong-token exec -q ok -- true
fault 403 255 'pods "secret" is forbidden: User "limited"' --token limited-token -n restricted exec -q secret -- true
fault 429 255 'Too many requests' exec -q f-429 -- true
fault 503 255 'unable to handle the request' exec -q f-503 -- true

# ---- connection and TLS --------------------------------------------------------------------------
PORT=$(closed_port)
fault refused 255 "127.0.0.1:$PORT.*refused" --server "https://127.0.0.1:$PORT" --certificate-authority "$CA" --token x exec -q ok -- true
fault dns 255 'podmux-no-such-host\.invalid' --server https://podmux-no-such-host.invalid:6443 --certificate-authority "$CA" --token x exec -q ok -- true
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other-ca.key" \
  -out "$T/other-ca.crt" -subj /CN=other-ca -days 2 2>/dev/null
fault unknown-ca 255 'not trusted' --server "$SIM_URL" --certificate-authority "$T/other-ca.crt" --token "$TOKEN" exec -q ok -- true
K=$(kcfg badname "$SIM_URL" "$CAL    tls-server-name: api.wrong.example
" "    token: $TOKEN
")
fault hostname 255 'hostname mismatch.*api\.wrong\.example' --kubeconfig "$K" exec -q ok -- true
# A client certificate from another CA with a real user's CN: anonymous, so 401.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue.key" \
  -out "$T/rogue.csr" -subj /CN=podmux-cert-user/O=system:masters 2>/dev/null
openssl x509 -req -in "$T/rogue.csr" -CA "$T/other-ca.crt" -CAkey "$T/other-ca.key" \
  -set_serial 7 -days 2 -out "$T/rogue.crt" 2>/dev/null
K=$(kcfg rogue "$SIM_URL" "$CAL" "    client-certificate: $T/rogue.crt
    client-key: $T/rogue.key
")
fault client-cert 255 '[Uu]nauthorized' --kubeconfig "$K" exec -q ok -- true
# An expired server certificate (signed by the sim's CA, right names, 2020-2021).
if start_expired_server; then
  fault expired 255 'certificate verify failed: expired' --server "https://127.0.0.1:$EPORT" --certificate-authority "$CA" --token "$TOKEN" exec -q ok -- true
  kill "$SPID" 2>/dev/null || true
else
  echo "skip expired: no python3 cryptography"
fi

# A listener that accepts and never answers: --request-timeout bounds the TLS handshake too
# (it used to take the connect and handshake defaults, 20 s, whatever the flag said).
SILENT_PORT=$(closed_port)
/usr/bin/python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); held=[]
while True:
    c,_=s.accept(); held.append(c)' "$SILENT_PORT" &
SILENT_PID=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SILENT_PORT") 2>/dev/null && break; sleep 0.1; done
fault silent-tls 255 'TLS handshake timeout' --server "https://127.0.0.1:$SILENT_PORT" \
  --certificate-authority "$CA" --token "$TOKEN" --request-timeout 2s exec -q ok -- true
[ "$MS" -lt 15000 ] || soft silent-tls "--request-timeout 2s took $MS ms (the 20 s defaults)"
kill "$SILENT_PID" 2>/dev/null || true

# ---- credential plugins ----------------------------------------------------------------------
plugin() { # plugin NAME SCRIPT -> kubeconfig path
  printf '#!/bin/sh\n%s\n' "$2" >"$T/$1.sh"
  chmod +x "$T/$1.sh"
  kcfg "$1" "$SIM_URL" "$CAL" "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: $T/$1.sh
      interactiveMode: Never
"
}
K=$(plugin plugin-fail "echo 'no credentials today' >&2; exit 3")
# The plugin's own stderr goes to ours (as kubectl does); the last line is podmux's.
rc=0; timeout 40 "$PODMUX" --kubeconfig "$K" exec -q ok -- true </dev/null >/dev/null 2>"$T/pf.err" || rc=$?
expect_eq "$rc" 255 "failing plugin exit"
tail -1 "$T/pf.err" | grep -q 'plugin-fail.sh failed with exit code 3' || fail "failing plugin: $(cat "$T/pf.err")"
echo "ok   plugin-fail: $(tail -1 "$T/pf.err")"
K=$(plugin plugin-garbage "echo 'this is not an ExecCredential'")
fault plugin-garbage 255 'decoding stdout' --kubeconfig "$K" exec -q ok -- true

# ---- stream faults -------------------------------------------------------------------------
fault upgrade-timeout 255 'did not answer the upgrade request' --request-timeout 1s exec -q f-delay -- true
[ "$MS" -lt 5000 ] || fail "upgrade timeout took $MS ms"
fault drop 255 'lost.*exit status is unknown' exec -q f-drop -- sh -c \
  "printf hello; sleep 0.2; head -c 900 /dev/zero | tr '\\0' x; sleep 0.2; head -c 900 /dev/zero | tr '\\0' y; sleep 5"
expect_eq "$(cat "$T/drop.out")" "hello$(printf 'x%.0s' $(seq 900))" "output delivered before the drop"
fault stall 255 'no data and no pong' --keepalive 100ms exec -q f-stall -- sleep 30
[ "$MS" -lt 4000 ] || fail "stall detected after $MS ms (keepalive 100ms: 2.2 s deadline)"
fault no-status 255 'exit status is unknown' exec -q f-nostatus -- sh -c 'echo partial; exit 0'
expect_eq "$(cat "$T/no-status.out")" partial "output before a close without status"
fault malformed 255 'WebSocket' exec -q f-malformed -- sleep 5
rc=$(fault_rc exec -q f-coalesce -- sh -c 'echo hi; exit 7')
expect_eq "$rc" 7 "coalesced output+status+close"
expect_eq "$(cat "$T/rc.out")" hi "coalesced output"

# ---- fan-out retries 429 and 503, honouring Retry-After (1 s) ----------------------------------
rc=0; t0=$(date +%s%N)
timeout 60 "$PODMUX" exec -q --retries 2 -l fault=retry -- true </dev/null >"$T/fo.out" 2>"$T/fo.err" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "$rc" 255 "fan-out over refusing pods"
grep -Eq 'Sanitizer' "$T/fo.err" && fail "sanitizer report in fan-out: $(cat "$T/fo.err")"
[ "$ms" -ge 1900 ] || fail "fan-out retried in $ms ms: Retry-After 1 s ignored"
grep -q 'f-429' "$T/fo.err" && grep -q 'f-503' "$T/fo.err" || fail "fan-out summary: $(cat "$T/fo.err")"
echo "ok   fan-out retries (${ms} ms): $(tr '\n' '|' <"$T/fo.err")"

# ---- the terminal is restored after a fault in a -t session -----------------------------------
if command -v tmux >/dev/null; then
  source "$(dirname "$0")/tty_lib.sh"
  tmux_start f 100 30
  send f "$PODMUX exec -q -it --keepalive 100ms f-stall -- sh; echo rc=\$?; stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo)\$' | tr '\\n' ' '; echo" Enter
  wait_for f 'rc=255' 10
  wait_for f 'icanon echo' 5
  screen f | grep -q 'no data and no pong' || { screen f; fail "tty: no message after a stall"; }
  send f "$PODMUX exec -q -it f-drop -- sh -c 'head -c 3000 /dev/zero; sleep 5'; echo rc2=\$?; stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo)\$' | tr '\\n' ' '; echo; echo end2=\$((40+2))" Enter
  wait_for f 'rc2=255' 10
  wait_for f '^end2=42$' 5 # the stty line is printed just before this marker
  [ "$(screen f | grep -c '^icanon echo')" -ge 2 ] || { screen f; fail "tty not restored after a drop"; }
  # podmux shell over a healthy pod and one whose connection drops: that pane ends LOST, the
  # other goes on; after `exit` the summary names the loss, exit 255, the terminal unchanged.
  send f "clear; stty -a >$T/before; $PODMUX shell ok f-drop -- sh; echo code=\$?; stty -a >$T/after; cmp -s $T/before $T/after && echo restored-\$((6*7))" Enter
  wait_for f 'broadcast ON' 15
  send f "head -c 3000 /dev/zero; echo" Enter
  wait_for f 'ended: f-drop\(LOST\)' 10
  send f "exit" Enter
  wait_for f 'code=[0-9]+' 15
  screen f | grep -q '^code=255$' || { screen f; fail "shell with a dropped pod: $(screen f | grep code=)"; }
  screen f | grep -q 'f-drop: connection to .* lost after' || { screen f; fail "shell: the loss is not named"; }
  wait_for f 'restored-42' 5
  # The lines layout says at once which pod was lost, before the end.
  send f "clear; $PODMUX shell --layout lines ok f-drop -- sh; echo code=\$?" Enter
  wait_for f 'input goes to all 2 pods' 15
  send f "head -c 3000 /dev/zero; echo" Enter
  wait_for f '^podmux: f-drop: connection to .* lost after' 10
  screen f | grep -q '^podmux: 1 ok' && { screen f; fail "lines: the loss was only in the summary"; }
  send f "exit" Enter
  wait_for f '^code=255$' 15
  tmux_stop
  echo "ok   terminal restored after a stall and a drop (exec -it and shell); lines name the lost pod at once"
fi

# Last: the sim has crashed on this one (exec freed under its connection).
fault reset 255 'lost.*exit status is unknown' exec -q f-reset -- sleep 5
sleep 0.3
rc=$(fault_rc exec -q ok -- true)
expect_eq "$rc" 0 "a session after a reset (is the sim alive?)"
[ ${#FAILED[@]} -eq 0 ] || fail "${#FAILED[@]} fault(s) handled wrongly: ${FAILED[*]} ($PASSED right)"
echo "PASS: $PASSED faults"
