#!/usr/bin/env bash
# test_hostile.sh: issue 13's network items against data/hostile_apiserver.py, a scriptable
# misbehaving API server (one scenario per pod name). Every podmux run is the ASan build, its
# peak RSS (VmHWM, through /usr/bin/time) must stay under 64 MiB (a memory bound, not a timing
# one), its stderr carries no sanitizer report, and the output before the fault is delivered.
#  1  ping flood: pings without end, the server never reads: reading stops, then one line
#  2  fragment bomb: a message in 2 M one-byte fragments: close 1009 after the 1026th
#  6  Content-Length / Transfer-Encoding on the 101 ignored; a 101 without Upgrade or
#     Connection, or HTTP/1.0, refused; an 8 MiB error Status: its message shown
#  7  TLS: a server certificate with its name only in the CN (no SAN) refused, as Go does
#  11 a 400's Status message shown; podmux-sim takes request lines and headers up to 1 MiB
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
[ -x /usr/bin/time ] || { echo "no /usr/bin/time"; exit 77; }
# ASan keeps freed memory in a quarantine (256 MiB by default) that counts as resident: with 8
# MiB the peak RSS measures what podmux holds. exitcode=99: a leak must not pass for exit 255.
export ASAN_OPTIONS="detect_leaks=1:exitcode=99:quarantine_size_mb=8"
MAX_RSS_KIB=$((64 * 1024))
DATA="$PMX_SRC/tests/integration/data"

# start_fake NAME [server args...]: starts the server, sets URL_<NAME>.
FAKES=()
trap 'rc=$?; for p in "${FAKES[@]}"; do kill "$p" 2>/dev/null; done; (exit $rc); cleanup' EXIT
start_fake() {
  local name=$1; shift
  /usr/bin/python3 "$DATA/hostile_apiserver.py" "$@" "$T/$name.log" >"$T/$name.port" \
    2>"$T/$name.err" &
  FAKES+=($!)
  for _ in $(seq 100); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
  [ -s "$T/$name.port" ] || fail "$name server did not start: $(cat "$T/$name.err")"
}
# run NAME WANT_RC podmux-args...: one podmux run, its exit code, peak RSS and no sanitizer.
run() {
  local name=$1 want=$2 rc=0; shift 2
  timeout 120 /usr/bin/time -f %M -o "$T/$name.rss" "$PODMUX" "$@" </dev/null \
    >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  if grep -Eq 'Sanitizer|runtime error:' "$T/$name.err"; then
    fail "$name: sanitizer report: $(head -30 "$T/$name.err")"
  fi
  [ "$rc" = "$want" ] || fail "$name: exit $rc, want $want; stderr: $(head -c 600 "$T/$name.err")"
  local rss; rss=$(tail -1 "$T/$name.rss")
  [ "$rss" -lt "$MAX_RSS_KIB" ] || fail "$name: peak RSS $rss KiB, over $MAX_RSS_KIB KiB"
  echo "ok   $name: exit $rc, peak RSS $rss KiB: $(head -c 300 "$T/$name.err" | tr '\n' '|')"
}
# closes LOG POD: the close codes podmux sent for POD, once the server logged its end.
closes() {
  for _ in $(seq 100); do grep -q "^$2 end$" "$1" 2>/dev/null && break; sleep 0.1; done
  awk -v p="$2" '$1 == p && $2 == "close" {print $3}' "$1"
}

start_fake plain
URL="http://127.0.0.1:$(cat "$T/plain.port")"
LOG="$T/plain.log"

run fine 0 --server "$URL" exec -q fine -- cmd
expect_eq "$(cat "$T/fine.out")" hello "control: output"

# 1. Ping flood. With pings every 300 ms podmux gives up after 12 of them + 1 s without reading.
run pingflood 255 --server "$URL" --keepalive 300ms exec -q pingflood -- cmd
expect_eq "$(cat "$T/pingflood.out")" hello "ping flood: output before it"
grep -Eqx "podmux: default/pingflood: 127\.0\.0\.1:[0-9]+ sends pings but has not read the replies for [0-9.]+ s; the command's exit status is unknown" \
  "$T/pingflood.err" || fail "ping flood: $(cat "$T/pingflood.err")"
expect_eq "$(wc -l <"$T/pingflood.err")" 1 "ping flood: one line"

# 2. Fragment bomb.
run fragbomb 255 --server "$URL" exec -q fragbomb -- cmd
expect_eq "$(cat "$T/fragbomb.out")" hello "fragment bomb: output before it"
expect_eq "$(cat "$T/fragbomb.err")" \
  "podmux: default/fragbomb: WebSocket protocol error from the server: message in too many fragments (1026 for 1026 bytes)" \
  "fragment bomb: the line"
expect_eq "$(closes "$LOG" fragbomb)" 1009 "fragment bomb: close code"

# 6. The upgrade response.
for pod in cl101 chunked101; do
  run "$pod" 0 --server "$URL" exec -q "$pod" -- cmd
  expect_eq "$(cat "$T/$pod.out")" hello "$pod: the frames after the 101 are no body"
  expect_eq "$(closes "$LOG" "$pod")" 1000 "$pod: close code"
done
bad101() {
  run "$1" 255 --server "$URL" exec -q "$1" -- cmd
  expect_eq "$(cat "$T/$1.err")" \
    "podmux: default/$1: bad upgrade response from 127.0.0.1:$(cat "$T/plain.port"): $2" "$1"
  [ ! -s "$T/$1.out" ] || fail "$1: output from a refused upgrade"
}
bad101 noupgrade101 'the 101 response has no "Upgrade: websocket" header'
bad101 noconnection101 'the 101 response has no "Connection: Upgrade" header'
bad101 http10 'the 101 response is not HTTP/1.1'
run bigerror 255 --server "$URL" exec -q bigerror -- cmd
expect_eq "$(cat "$T/bigerror.err")" \
  'podmux: pods "bigerror" is forbidden: this message survives the cap' "an 8 MiB error Status"

# 11. A 400's Status message.
run bad400 255 --server "$URL" exec -q bad400 -- cmd
expect_eq "$(cat "$T/bad400.err")" "podmux: the request line is too long for this server" "400"

# Fan-out: each pod's fault is its own, the others are whole.
run fanout 255 --server "$URL" --keepalive 300ms exec -q fine fragbomb http10 pingflood -- cmd
expect_eq "$(head -1 "$T/fanout.err")" \
  "podmux: 1 ok, 0 non-zero, 3 failed, 0 skipped (4 pods)" "fan-out summary"
expect_eq "$(grep -c 'hello$' "$T/fanout.out")" 3 "fan-out: output before each fault"
# 11. podmux-sim takes a request line and headers up to 1 MiB, as kube-apiserver (Go's
# DefaultMaxHeaderBytes) does: 300 KB of arguments run (podmux and kubectl); 1.2 MB gets 431.
start_sim --pods 1
POD=$(pod_names | head -1)
A=$(head -c 100000 /dev/zero | tr '\0' a)
run longcmd 0 exec -q "$POD" -- sh -c 'echo "$# ${#1}"' x "$A" "$A" "$A"
expect_eq "$(cat "$T/longcmd.out")" "3 100000" "300 KB of arguments through podmux"
expect_eq "$(kubectl exec "$POD" -- sh -c 'echo "$# ${#1}"' x "$A" "$A" "$A")" "3 100000" \
  "300 KB of arguments through kubectl"
set -- ; for _ in $(seq 12); do set -- "$@" "$A"; done
run toolong 255 exec -q "$POD" -- sh -c 'echo $#' x "$@"
expect_eq "$(cat "$T/toolong.err")" "podmux: 431 Request Header Fields Too Large" \
  "1.2 MB of arguments"

# 7. TLS: the same server behind a certificate whose name is only in the CN, and (control)
# one with the name in a SAN. openssl makes the CA and both leaves.
( cd "$T" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.crt -subj "/CN=hostile CA" -days 2 &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout leaf.key \
    -out leaf.csr -subj "/CN=localhost" &&
  openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cn.crt -days 2 &&
  printf 'subjectAltName=DNS:localhost\n' >san.ext &&
  openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out san.crt \
    -days 2 -extfile san.ext ) >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"
openssl x509 -in "$T/cn.crt" -noout -text | grep -q 'Subject Alternative Name' &&
  fail "the CN-only certificate has a SAN"
start_fake tls-cn --tls "$T/cn.crt" "$T/leaf.key"
start_fake tls-san --tls "$T/san.crt" "$T/leaf.key"
run tls-san-run 0 --server "https://localhost:$(cat "$T/tls-san.port")" \
  --certificate-authority "$T/ca.crt" exec -q fine -- cmd
expect_eq "$(cat "$T/tls-san-run.out")" hello "TLS with a SAN (control)"
run tls-cn-run 255 --server "https://localhost:$(cat "$T/tls-cn.port")" \
  --certificate-authority "$T/ca.crt" exec -q fine -- cmd
expect_eq "$(cat "$T/tls-cn-run.err")" \
  "podmux: hostname mismatch: the certificate has its name only in the legacy Common Name field and no SANs (not valid for localhost) (server localhost:$(cat "$T/tls-cn.port"))" \
  "TLS with the name only in the CN"
[ ! -s "$T/tls-cn-run.out" ] || fail "output over a refused TLS connection"
echo "PASS ($SECONDS s)"
