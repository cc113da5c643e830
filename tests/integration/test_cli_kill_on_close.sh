#!/usr/bin/env bash
# --kill-on-close (issue 14.4): the kubelet, and podmux-sim like it, leave a command running
# when its stream goes away. With the flag, the remote command ends when podmux closes the
# session: after SIGINT of a 24-pod fan-out, --timeout and --fail-fast, no process is left in
# the sim (its pods' processes are local: pgrep sees them). Without it, they stay (the
# documented default). Exit status, stdout and stderr pass through the wrapper unchanged.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --pods 24
N=$((8000 + RANDOM % 1000))
count() { pgrep -fc "^sleep $1\$" || true; }
wait_count() {  # NUMBER WANT SECONDS
  for _ in $(seq $(($3 * 10))); do [ "$(count "$1")" -eq "$2" ] && return 0; sleep 0.1; done
  return 1
}

# Pass-through: output, exit status.
set +e
out=$(timeout 20 "$PODMUX" exec --kill-on-close -l app=web -o json -- sh -c 'echo "o $1"; echo e >&2; exit 4' x 2>/dev/null | grep -c '"exit_code":4')
set -e
expect_eq "$out" 24 "24 exit codes through the wrapper"
POD=$(pod_names app=web | head -1)
set +e
timeout 20 "$PODMUX" exec --kill-on-close "$POD" -- sh -c 'printf "a b"; printf err >&2; exit 7' >"$T/o" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 7 "single pod: exit status"
expect_eq "$(cat "$T/o")" "a b" "single pod: stdout"
expect_eq "$(cat "$T/e")" "err" "single pod: stderr"

# The default: SIGINT leaves the 24 commands running.
timeout 30 "$PODMUX" exec -l app=web -- sleep $N >/dev/null 2>&1 &
PID=$!
wait_count $N 24 20 || fail "24 x sleep $N did not start: $(count $N)"
kill -INT $PID; wait $PID || true
sleep 1
expect_eq "$(count $N)" 24 "without --kill-on-close the commands stay"
pkill -f "^sleep $N\$" || true
wait_count $N 0 5 || fail "cleanup"

# SIGINT with --kill-on-close: all gone.
N=$((N + 1))
timeout 30 "$PODMUX" exec --kill-on-close -l app=web -- sleep $N >/dev/null 2>&1 &
PID=$!
wait_count $N 24 20 || fail "24 x sleep $N did not start: $(count $N)"
set +e; kill -INT $PID; wait $PID; rc=$?; set -e
expect_eq "$rc" 130 "SIGINT exit status"
wait_count $N 0 10 || fail "SIGINT: $(count $N) remote commands still running"
# No wrapper shell is left either.
pgrep -f "podmux-kill-on-close sleep $N\$" && fail "wrapper shells left"

# --timeout: also a command that ignores SIGTERM (SIGKILL 2 s later), in its own children.
N=$((N + 1))
set +e
timeout 30 "$PODMUX" exec --kill-on-close --timeout 2s -l app=web -- sh -c "trap '' TERM; sleep $N; true" >/dev/null 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "--timeout exit status"
grep -q '24 failed' "$T/e" || fail "--timeout summary: $(head -1 "$T/e")"
wait_count $N 0 10 || fail "--timeout: $(count $N) remote commands still running"

# --fail-fast: the first non-zero exit cancels the others, which end.
N=$((N + 1))
set +e
timeout 30 "$PODMUX" exec --kill-on-close --fail-fast -l app=web -- \
  sh -c "case \$HOSTNAME in $POD) sleep 1; exit 3;; esac; sleep $N" >/dev/null 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 1 "--fail-fast exit status"
grep -q '^podmux: 0 ok, 1 non-zero, 0 failed, 0 skipped, 23 canceled (24 pods)$' "$T/e" ||
  fail "--fail-fast summary: $(cat "$T/e")"
wait_count $N 0 10 || fail "--fail-fast: $(count $N) remote commands still running"

# Refused where it cannot work, with one line.
set +e
"$PODMUX" exec -i --kill-on-close "$POD" -- cat </dev/null 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "-i refused"
grep -q '^podmux: --kill-on-close cannot go with -i' "$T/e" || fail "-i message: $(cat "$T/e")"
echo ok
