#!/usr/bin/env bash
# The embedding examples against podmux-sim: the minimal exec, the daemon that fans out on a
# timer while serving its own TCP port and timer on the same loop, and push_file (pmx_transfer).
. "$(dirname "$0")/lib.sh"
start_sim --pods 6
POD=$(pod_names app=web | head -1)
set +e
"$PMX_BUILD/examples/exec_minimal" "$POD" sh -c 'echo "in $HOSTNAME"; echo err >&2; exit 5' >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_eq "$rc" 5 "exec_minimal exit code"
expect_eq "$(cat "$T/out")" "in $POD" "exec_minimal stdout"
expect_eq "$(cat "$T/err")" "err" "exec_minimal stderr"

PORT=$((20000 + RANDOM % 20000))
"$PMX_BUILD/examples/fanout_daemon" app=web 1 2 "$PORT" -- sh -c 'exit 0' >"$T/daemon" 2>&1 &
DPID=$!
for _ in $(seq 100); do grep -q "^round 1:" "$T/daemon" && break; sleep 0.1; done
status=$(/usr/bin/python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$PORT)); print(s.recv(200).decode().strip())")
wait "$DPID" || fail "fanout_daemon failed: $(cat "$T/daemon")"
cat "$T/daemon"
expect_eq "$(grep -c '^round 1 web-.* exit 0$' "$T/daemon")" 6 "round 1 results"
expect_eq "$(grep -c '^round 2 web-.* exit 0$' "$T/daemon")" 6 "round 2 results"
grep -q '^round 2: 6 ok, 0 non-zero, 0 failed$' "$T/daemon" || fail "no round 2 summary"
case "$status" in "round 1: 6 ok"*|"round 2: 6 ok"*) ;; *) fail "status port said [$status]";; esac
hb=$(sed -n 's/^heartbeats while running: //p' "$T/daemon")
[ "$hb" -ge 5 ] || fail "the daemon's own timer did not run ($hb heartbeats)"
# push_file: one file to 6 pods' stdin through pmx_transfer; every pod has it whole.
head -c 6000000 /dev/urandom >"$T/push.bin"
mapfile -t PODS < <(pod_names app=web)
"$PMX_BUILD/examples/push_file" "$T/push.bin" "${PODS[@]}" -- sh -c 'cat >pushed.bin' \
  >"$T/push" 2>&1 || fail "push_file failed: $(cat "$T/push")"
expect_eq "$(grep -c ': exit 0, 6000000 bytes sent$' "$T/push")" 6 "push_file results"
want=$(sha256sum <"$T/push.bin")
for p in "${PODS[@]}"; do
  expect_eq "$(sha256sum <"$T/state/pods/default/$p/main/pushed.bin")" "$want" "push_file $p"
done
echo "examples: all checks passed"
