# test_security.sh: issue 9, security.
#  1. Tokens, client keys and Authorization headers never appear in podmux's output, errors or -v
#     traces (token user, client-certificate user, exec plugin user, a rejected --token, fan-out).
#  2. Command arguments reach the server only as percent-encoded query values (a raw capture of
#     the upgrade request) and the process receives them byte for byte.
#  3. Files podmux-sim writes with keys are mode 0600 (its state dir 0700).
source "$(dirname "$0")/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux CLI at $PODMUX"; exit 77; }
TOKEN=sec-admin-token-5d1e0b7a
start_sim --cluster "$PMX_SRC/tests/integration/data/faults-cluster.yaml" --token "$TOKEN"
CA="$T/state/ca.crt"

# ---- 3. key files --------------------------------------------------------------------------
mode() { stat -c %a "$1"; }
for f in "$T"/state/*.key; do expect_eq "$(mode "$f")" 600 "mode of $f"; done
ls "$T"/state/*.key >/dev/null || fail "no key files in the state dir"
expect_eq "$(mode "$T/kubeconfig")" 600 "mode of the kubeconfig (holds a token and a key)"
expect_eq "$(mode "$T/state")" 700 "mode of the state dir"
echo "ok   key files 0600, state dir 0700"

# ---- 1. secrets never printed ------------------------------------------------------------------
KEYDATA=$(awk '/client-key-data:/ {print $2}' "$T/kubeconfig")
[ -n "$KEYDATA" ] || fail "no client-key-data in the sim's kubeconfig"
KEYPEM_LINE=$(sed -n 2p "$T/state/client.key")
PLUGIN_TOKEN=plugin-token-93ac0e11
# secret_free NAME FILE...: none of the secrets (nor the header name) appear in the files.
secret_free() {
  local name=$1; shift
  for s in "$TOKEN" "$PLUGIN_TOKEN" wrong-token-0c8e "${KEYDATA:0:40}" "$KEYPEM_LINE" \
    'PRIVATE KEY' Authorization Bearer; do
    if grep -qF -- "$s" "$@"; then
      grep -nF -- "$s" "$@" | head -3
      fail "$name: secret or header [${s:0:12}...] printed"
    fi
  done
  echo "ok   $name: $(cat "$@" | wc -l) lines, no secret"
}
run() { # run NAME podmux-args... : stdout+stderr of a -v run into $T/NAME.log
  local name=$1; shift
  timeout 30 "$PODMUX" -v "$@" </dev/null >"$T/$name.log" 2>&1 || true
  [ -s "$T/$name.log" ] || fail "$name: no output at all"
}
run token exec ok -- sh -c 'echo hi; echo err >&2; exit 2'
grep -q 'v5.channel.k8s.io' "$T/token.log" || fail "no -v trace: $(cat "$T/token.log")"
secret_free "token user, -v" "$T/token.log"
run cert --context podmux-sim-cert exec ok -- echo cert
grep -q '^cert$' "$T/cert.log" || fail "client certificate user did not run: $(cat "$T/cert.log")"
secret_free "client-certificate user, -v" "$T/cert.log"
run badtoken --token wrong-token-0c8e exec ok -- true
grep -qi 'unauthorized' "$T/badtoken.log" || fail "rejected token: $(cat "$T/badtoken.log")"
secret_free "rejected --token, -v" "$T/badtoken.log"
cat >"$T/plugin.sh" <<EOF
#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"$PLUGIN_TOKEN"}}'
EOF
chmod +x "$T/plugin.sh"
plugin_kubeconfig "$T/plugin.sh" "$T/plugin.kubeconfig"
run plugin --kubeconfig "$T/plugin.kubeconfig" exec ok -- echo plugged
grep -q '^plugged$' "$T/plugin.log" || true  # the sim does not know this token: 401 is fine
secret_free "exec plugin user, -v" "$T/plugin.log"
run fanout exec -l 'app in (ok)' -o json -- sh -c 'echo x'
secret_free "fan-out, -v, json" "$T/fanout.log"
run refused exec -q f-503 -- true
secret_free "refusal, -v" "$T/refused.log"

# ---- 2. arguments ------------------------------------------------------------------------------
ARGS=('a&b=c' '#frag' '100%' '%41%zz' 'two words' "'single'" '"double"' $'line1\nline2'
  $'tab\there' 'ünïcødé ✓ 日本' '+plus+' '?q=1&command=rm' '' 'a;b|c' '$(echo no)' 'back\slash'
  $'cr\r' '~!*()' '/slash/')
printf '%s\0' "${ARGS[@]}" >"$T/args.want"
timeout 30 "$PODMUX" exec -q ok -- sh -c 'for a in "$@"; do printf "%s\0" "$a"; done' sh "${ARGS[@]}" \
  </dev/null >"$T/args.got" 2>"$T/args.err" || fail "argument run failed: $(cat "$T/args.err")"
cmp "$T/args.want" "$T/args.got" || { od -c "$T/args.got" | head; fail "arguments changed on the way"; }
echo "ok   ${#ARGS[@]} arguments received byte for byte"

# The upgrade request as a server sees it: every value percent-encoded, decoding to the argument.
CAP=$(mktemp "$T/capture.XXXX")
/usr/bin/python3 - "$CAP" >"$T/cap.port" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
s.settimeout(20)
pod = (b'{"kind":"Pod","apiVersion":"v1","metadata":{"name":"ok","namespace":"default"},'
       b'"spec":{"nodeName":"n1","containers":[{"name":"main"}]},"status":{"phase":"Running"}}')
for _ in range(4):  # podmux may GET the pod first: answer it, capture the exec request
    c, _ = s.accept(); data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d: break
        data += d
    exec_req = b"/exec?" in data.split(b"\r\n", 1)[0]
    if exec_req:
        open(sys.argv[1], "wb").write(data)
        body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"captured","reason":"Forbidden","code":403}'
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    else:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(pod) + pod)
    c.close()
    if exec_req: break
PY
CAPPID=$!
for _ in $(seq 50); do [ -s "$T/cap.port" ] && break; sleep 0.1; done
CPORT=$(cat "$T/cap.port")
rc=0
timeout 30 "$PODMUX" --server "http://127.0.0.1:$CPORT" --token "$TOKEN" exec -q ok -- printf '%s\0' "${ARGS[@]}" \
  </dev/null >/dev/null 2>"$T/cap.err" || rc=$?
wait "$CAPPID" || true
expect_eq "$rc" 255 "exit against the capturing server"
/usr/bin/python3 - "$CAP" "$T/args.want" <<'PY' || fail "the request line is not what the server must see"
import re, sys, urllib.parse
raw = open(sys.argv[1], "rb").read()
line = raw.split(b"\r\n", 1)[0]
method, target, version = line.split(b" ")
assert method == b"GET" and version == b"HTTP/1.1", line
path, _, query = target.partition(b"?")
# Only unreserved characters, '%XX', '+', and the separators '=' '&' travel raw.
bad = re.sub(rb"%[0-9A-F]{2}|[A-Za-z0-9._~+=&-]", b"", query)
assert bad == b"", "raw bytes in the query: %r" % bad
pairs = [kv.split(b"=", 1) for kv in query.split(b"&")]
assert all(len(p) == 2 for p in pairs), "a query part without '=': %r" % query
cmds = [urllib.parse.unquote_plus(v.decode(), errors="strict") for k, v in pairs if k == b"command"]
want = open(sys.argv[2], "rb").read().decode().split("\0")[:-1]
assert cmds == ["printf", r"%s\0"] + want, (cmds, want)
# podmux sends credentials only over TLS (session.c take_cred): never a token in clear.
assert b"authorization" not in raw.lower(), "a token went over plain http"
print("ok   upgrade request: %d command values, all percent-encoded; no token over http" % len(cmds))
PY
echo "PASS"
