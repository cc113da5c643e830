#!/usr/bin/env bash
# podmux exec/attach on one pod against podmux-sim: exit codes pass through, stdout and stderr
# stay apart and byte-exact, stdin EOF ends `cat`, 50 MiB both ways, kubectl's messages and
# notes, one line and 255 when podmux itself fails, signals end the session.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --cluster "$PMX_SRC/tests/integration/data/cluster.yaml"
POD=$(pod_names app=web | sed -n 1p)
[ -n "$POD" ] || fail "no web pod"

# Exit codes pass through like ssh.
for code in 0 1 42; do
  set +e; timeout 20 "$PODMUX" exec "$POD" -- sh -c "exit $code"; rc=$?; set -e
  expect_eq "$rc" "$code" "exit $code"
done

# stdout and stderr separate and exact (no newline added, binary bytes kept).
set +e
timeout 20 "$PODMUX" exec "$POD" -- sh -c 'printf "out\001\n"; printf "err" >&2; printf tail; exit 3' \
  >"$T/o" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 3 "exit 3"
expect_eq "$(od -An -c "$T/o" | tr -s ' ')" "$(printf 'out\001\ntail' | od -An -c | tr -s ' ')" "stdout"
expect_eq "$(cat "$T/e")" "err" "stderr"

# stdin EOF closes the remote stdin: cat ends.
out=$(printf x | timeout 20 "$PODMUX" exec -i "$POD" -- cat)
expect_eq "$out" "x" "printf x | cat"
out=$(timeout 20 "$PODMUX" exec -i "$POD" -- cat </dev/null)
expect_eq "$out" "" "empty stdin"

# 50 MiB through cat from a pipe, and 5 MiB from a regular file (stdin read with uv_fs).
head -c 52428800 /dev/urandom >"$T/big"
want=$(sha256sum <"$T/big" | cut -d' ' -f1)
got=$(cat "$T/big" | timeout 60 "$PODMUX" exec -i "$POD" -- cat | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$want" "50 MiB from a pipe"
head -c 5242880 "$T/big" >"$T/small"
want=$(sha256sum <"$T/small" | cut -d' ' -f1)
got=$(timeout 60 "$PODMUX" exec -i "$POD" -- cat <"$T/small" | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$want" "5 MiB from a file"

# Control bytes in what podmux echoes (issue 13.12) are escaped, in its own checks and in the
# messages of the library or the server.
set +e
timeout 20 "$PODMUX" exec -n $'ns\e[2J' "$POD" -- true 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "bad namespace"
expect_eq "$(head -1 "$T/e")" \
  'podmux: invalid namespace name "ns\x1b[2J": it may not contain '"'/', '?', '#', '%', spaces or control characters" \
  "bad namespace message"
set +e
timeout 20 "$PODMUX" exec -l $'a\e]0;x\ab' -- true 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "bad selector"
grep -q $'\e' "$T/e" && fail "an escape byte reached stderr: $(cat -A "$T/e")"
grep -q 'a\\x1b\]0;x' "$T/e" || fail "selector not shown escaped: $(cat "$T/e")"
set +e
timeout 20 "$PODMUX" --context $'x\e[2J' exec "$POD" -- true 2>"$T/e"; rc=$?  # the library's message
set -e
expect_eq "$rc" 255 "bad context"
grep -q $'\e' "$T/e" && fail "an escape byte reached stderr: $(cat -A "$T/e")"
grep -q '^podmux: context "x\\x1b\[2J" does not exist' "$T/e" || fail "context: $(cat "$T/e")"

# Failures: one line, 255.
set +e
timeout 20 "$PODMUX" exec nosuch -- true 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "missing pod"
expect_eq "$(cat "$T/e")" 'podmux: pods "nosuch" not found' "missing pod message"
# A missing namespace is named, as kubectl names it against the same server.
set +e
timeout 20 "$PODMUX" exec -n nosuchns nosuch -- true 2>"$T/e"; rc=$?
timeout 20 kubectl exec -n nosuchns nosuch -- true 2>"$T/k"
set -e
expect_eq "$rc" 255 "missing namespace"
expect_eq "$(cat "$T/e")" 'podmux: namespaces "nosuchns" not found' "missing namespace message"
grep -q 'namespaces "nosuchns" not found' "$T/k" || fail "kubectl said: $(cat "$T/k")"
set +e
timeout 20 "$PODMUX" exec done -- true 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "completed pod"
expect_eq "$(cat "$T/e")" \
  'podmux: cannot exec into a container in a completed pod; current phase is Succeeded' "completed"
set +e
timeout 20 "$PODMUX" --server https://127.0.0.1:1 --insecure-skip-tls-verify --token x \
  exec "$POD" -- true 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "refused connection"
grep -q '^podmux: warning: --insecure-skip-tls-verify' "$T/e" || fail "no insecure warning"
expect_eq "$(grep -vc warning "$T/e")" 1 "one error line"

# kubectl's container defaulting note, not with -q; -c picks.
out=$(timeout 20 "$PODMUX" exec two -- sh -c 'echo ok' 2>"$T/e")
expect_eq "$out" ok "two"
expect_eq "$(cat "$T/e")" 'Defaulted container "main" out of: main, sidecar, init-db (init)' "note"
timeout 20 "$PODMUX" exec -q two -- true 2>"$T/e"
expect_eq "$(cat "$T/e")" "" "-q"
set +e
timeout 20 "$PODMUX" exec -c nosuch two -- true 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "bad container"
grep -q 'container nosuch is not valid for pod two' "$T/e" || fail "bad container: $(cat "$T/e")"

# Workloads pick a running pod; -t without a terminal warns and goes on.
out=$(timeout 20 "$PODMUX" exec deploy/web -- sh -c 'echo $HOSTNAME')
case "$out" in web-*) ;; *) fail "deploy/web ran in [$out]";; esac
out=$(timeout 20 "$PODMUX" exec -it "$POD" -- echo hi </dev/null 2>"$T/e")
expect_eq "$out" hi "-it without a terminal"
expect_eq "$(cat "$T/e")" \
  "Unable to use a TTY - input is not a terminal or the right kind of file" "-t warning"

# attach: the prompt note, output of the main process; --timeout ends it (255, one line).
set +e
timeout 20 "$PODMUX" attach --timeout 1500ms sts/ticker >"$T/o" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "attach timeout"
grep -q '^tick [0-9]' "$T/o" || fail "attach printed nothing"
head -1 "$T/e" | grep -qx "If you don't see a command prompt, try pressing enter." || fail "note"

# Signals without a tty close the session and exit 128+N.
"$PODMUX" exec "$POD" -- sleep 100 & pid=$!
sleep 1
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
expect_eq "$rc" 143 "SIGTERM"
"$PODMUX" exec "$POD" -- sleep 100 & pid=$!
sleep 1
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
expect_eq "$rc" 130 "SIGINT"

# As a kubectl plugin (kubectl finds kubectl-podmux on PATH).
if command -v kubectl >/dev/null; then
  mkdir -p "$T/bin" && ln -s "$PODMUX" "$T/bin/kubectl-podmux"
  out=$(PATH="$T/bin:$PATH" timeout 30 kubectl podmux exec "$POD" -- echo via-kubectl)
  expect_eq "$out" via-kubectl "kubectl podmux"
fi

# usage errors
set +e
"$PODMUX" exec "$POD" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "no command"
"$PODMUX" version | grep -q '^podmux 0\.' || fail "version"
"$PODMUX" exec --help | grep -q -- '--all-pods' || fail "exec --help"
echo PASS
