#!/usr/bin/env bash
# test_no_v5.sh: issue 13 item 5. podmux-sim --no-v5 behaves like an API server without
# v5.channel.k8s.io (Kubernetes before 1.30, or the stream translator off): a v5-only offer
# gets 403, a mixed one v4, which cannot carry the end of stdin. podmux then ends the session
# once stdin has ended and the output has been quiet for --eof-grace (default 2 s): the output
# is whole, one line says why, exit 255 (the exit status is unknown). A command that exits by
# itself still gives its status. Every run is the ASan build with its peak RSS under 64 MiB.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
[ -x /usr/bin/time ] || { echo "no /usr/bin/time"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99:quarantine_size_mb=8"
start_sim --pods 2 --no-v5
PODS=$(pod_names app=web)
POD=$(echo "$PODS" | head -1)

# run NAME WANT_RC STDIN-TEXT podmux-args...: one run with that stdin.
run() {
  local name=$1 want=$2 input=$3 rc=0; shift 3
  printf '%s' "$input" | timeout 60 /usr/bin/time -f %M -o "$T/$name.rss" "$PODMUX" "$@" \
    >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  if grep -Eq 'Sanitizer|runtime error:' "$T/$name.err"; then
    fail "$name: sanitizer report: $(head -30 "$T/$name.err")"
  fi
  [ "$rc" = "$want" ] || fail "$name: exit $rc, want $want; stderr: $(cat "$T/$name.err")"
  local rss; rss=$(tail -1 "$T/$name.rss")
  [ "$rss" -lt $((64 * 1024)) ] || fail "$name: peak RSS $rss KiB"
  echo "ok   $name: exit $rc, peak RSS $rss KiB: $(head -c 300 "$T/$name.err" | tr '\n' '|')"
}

# The server's side: what it answers to each offer (a raw handshake with the kubeconfig's token).
/usr/bin/python3 - "$SIM_URL" "$POD" <<'PY' || fail "the sim's answers to v5-only and mixed offers"
import base64, os, socket, ssl, sys, yaml
cfg = yaml.safe_load(open(os.environ["KUBECONFIG"]))
cl = cfg["clusters"][0]["cluster"]; tok = cfg["users"][0]["user"]["token"]
ctx = ssl.create_default_context(cadata=base64.b64decode(cl["certificate-authority-data"]).decode())
host, port = sys.argv[1][len("https://"):].rsplit(":", 1)
def offer(protos):
    s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
    s.sendall(("GET /api/v1/namespaces/default/pods/%s/exec?command=true&stdout=true HTTP/1.1\r\n"
               "Host: %s\r\nAuthorization: Bearer %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: %s\r\n\r\n" % (sys.argv[2], host, tok, protos)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d: break
        head += d
    s.close()
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    return lines[0].split(" ")[1], hdrs.get("sec-websocket-protocol")
got = offer("v5.channel.k8s.io")
assert got[0] == "403", got
got = offer("v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io")
assert got == ("101", "v4.channel.k8s.io"), got
print("ok   v5-only offer: 403; mixed offer: 101 v4.channel.k8s.io")
PY

LINE="stdin ended, which the server's protocol (v4.channel.k8s.io) cannot tell the command; ended after %s s without output; the command's exit status is unknown"
run cat 255 $'a\nb\n' exec -i "$POD" -- cat
expect_eq "$(cat "$T/cat.out")" $'a\nb' "cat: output"
expect_eq "$(cat "$T/cat.err")" "podmux: default/$POD: $(printf "$LINE" 2.0)" "cat: the line"

# Output that keeps coming restarts the grace: 3 s of ticks, 0.3 s apart, all arrive.
run slow 255 $'x\n' exec -i "$POD" -- \
  sh -c 'head -1; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.3; echo "tick $i"; done; cat'
expect_eq "$(cat "$T/slow.out")" "x$(printf '\ntick %s' 1 2 3 4 5 6 7 8 9 10)" "slow: all output"
expect_eq "$(cat "$T/slow.err")" "podmux: default/$POD: $(printf "$LINE" 2.0)" "slow: the line"

# A command that ends by itself within the grace: its own status.
run exits 3 $'q\n' exec -i "$POD" -- sh -c 'head -1; exit 3'
expect_eq "$(cat "$T/exits.out")" q "exits: output"
[ ! -s "$T/exits.err" ] || fail "exits: stderr: $(cat "$T/exits.err")"

# --eof-grace 0: the old behaviour, the session waits (here until --timeout ends it).
run never 255 $'n\n' exec -i --eof-grace 0 --timeout 3s "$POD" -- cat
expect_eq "$(cat "$T/never.out")" n "never: output"
grep -q 'timed out after 3.0 s' "$T/never.err" || fail "never: $(cat "$T/never.err")"

# Fan-out: each pod's session ends the same way, output whole.
run fanout 255 $'f\n' exec -i -l app=web -- cat
expect_eq "$(sort "$T/fanout.out")" "$(echo "$PODS" | sed 's/$/ f/' | sort)" "fan-out output"
expect_eq "$(head -1 "$T/fanout.err")" "podmux: 0 ok, 0 non-zero, 2 failed, 0 skipped (2 pods)" \
  "fan-out summary"
echo "PASS ($SECONDS s)"
