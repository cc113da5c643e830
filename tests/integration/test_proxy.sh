#!/usr/bin/env bash
# HTTP CONNECT proxies: kubeconfig proxy-url, HTTPS_PROXY, NO_PROXY, and a proxy that refuses.
# The proxy is a small asyncio tunnel that counts the CONNECTs it served.
. "$(dirname "$0")/lib.sh"
start_sim --pods 2
POD=$(pod_names app=web | head -1)
cat >"$T/proxy.py" <<'PY'
import asyncio, sys
count = 0
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    finally:
        w.close()
async def handle(r, w):
    global count
    head = await r.readuntil(b"\r\n\r\n")
    line = head.split(b"\r\n")[0].decode()
    method, target, _ = line.split(" ")
    if method != "CONNECT" or sys.argv[2] == "refuse":
        w.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"); await w.drain(); w.close(); return
    for h in head.split(b"\r\n")[1:]:  # the credentials the client sent, for the test
        if h.lower().startswith(b"proxy-authorization:"):
            open(sys.argv[3] + ".auth", "wb").write(h.split(b":", 1)[1].strip() + b"\n")
    host, port = target.rsplit(":", 1)
    ur, uw = await asyncio.open_connection(host.strip("[]"), int(port))
    count += 1
    open(sys.argv[3], "w").write(str(count))
    w.write(b"HTTP/1.1 200 Connection established\r\n\r\n"); await w.drain()
    await asyncio.gather(pipe(r, uw), pipe(ur, w))
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with srv: await srv.serve_forever()
asyncio.run(main())
PY
PORT=$((20000 + RANDOM % 20000)); RPORT=$((PORT + 1))
/usr/bin/python3 "$T/proxy.py" "$PORT" ok "$T/count" & PROXY=$!
/usr/bin/python3 "$T/proxy.py" "$RPORT" refuse "$T/rcount" & RPROXY=$!
trap 'rc=$?; kill $PROXY $RPROXY 2>/dev/null; (exit $rc); cleanup' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
count() { cat "$T/count" 2>/dev/null || echo 0; }

echo "== HTTPS_PROXY"
out=$(HTTPS_PROXY=http://127.0.0.1:$PORT "$PODMUX" exec "$POD" -- echo via-env)
expect_eq "$out" via-env "output through HTTPS_PROXY"
# Two connections, as kubectl makes: the GET of the pod, then the exec's WebSocket.
expect_eq "$(count)" 2 "CONNECTs served"

echo "== NO_PROXY bypasses it"
out=$(HTTPS_PROXY=http://127.0.0.1:$PORT NO_PROXY=localhost,127.0.0.1 "$PODMUX" exec "$POD" -- echo direct)
expect_eq "$out" direct "output with NO_PROXY"
expect_eq "$(count)" 2 "CONNECTs after NO_PROXY"

echo "== kubeconfig proxy-url"
sed "s|^    server: |    proxy-url: http://user:pw@127.0.0.1:$PORT\n    server: |" "$KUBECONFIG" >"$T/kc-proxy"
out=$("$PODMUX" --kubeconfig "$T/kc-proxy" exec "$POD" -- sh -c 'head -c 3000000 /dev/zero | wc -c')
expect_eq "$out" 3000000 "bytes through proxy-url"
expect_eq "$(count)" 4 "CONNECTs after proxy-url"

AUTH="$T/count.auth"
expect_eq "$(awk '{print $1}' "$AUTH")" Basic "Proxy-Authorization scheme"
expect_eq "$(awk '{print $2}' "$AUTH" | base64 -d)" "user:pw" "plain proxy credentials"

echo "== percent-escapes in proxy-url userinfo are decoded (issue 13), as Go does"
# us%20er : p%40ss+w%3Ad  ->  "us er" : "p@ss+w:d" ('+' stays '+' in userinfo)
sed "s|^    server: |    proxy-url: http://us%20er:p%40ss+w%3Ad@127.0.0.1:$PORT\n    server: |" \
  "$KUBECONFIG" >"$T/kc-escaped"
out=$("$PODMUX" --kubeconfig "$T/kc-escaped" exec "$POD" -- echo escaped)
expect_eq "$out" escaped "output through a proxy-url with escapes"
expect_eq "$(awk '{print $2}' "$AUTH" | base64 -d)" "us er:p@ss+w:d" "decoded proxy credentials"
# A user without a password: "user:" as Go sends it.
sed "s|^    server: |    proxy-url: http://solo@127.0.0.1:$PORT\n    server: |" "$KUBECONFIG" >"$T/kc-solo"
"$PODMUX" --kubeconfig "$T/kc-solo" exec "$POD" -- true
expect_eq "$(awk '{print $2}' "$AUTH" | base64 -d)" "solo:" "proxy user without a password"
bad_proxy() { # bad_proxy NAME URL WANT-LINE
  sed "s|^    server: |    proxy-url: $2\n    server: |" "$KUBECONFIG" >"$T/kc-$1"
  set +e
  "$PODMUX" --kubeconfig "$T/kc-$1" exec "$POD" -- true >"$T/$1.out" 2>"$T/$1.err"; rc=$?
  set -e
  expect_eq "$rc" 255 "$1: exit"
  expect_eq "$(cat "$T/$1.err")" "$3" "$1: the line"
  grep -q 'Sanitizer\|runtime error' "$T/$1.err" && fail "$1: sanitizer report"
  return 0
}
bad_proxy socks5 "socks5://u:secret@127.0.0.1:$PORT" \
  "podmux: proxy-url: the socks5:// scheme is not supported; podmux speaks only to http:// proxies (HTTP CONNECT)"
bad_proxy badescape "http://u:p%4@127.0.0.1:$PORT" \
  "podmux: proxy-url: malformed percent-escape in the user or password"

echo "== a proxy that refuses"
set +e
HTTPS_PROXY=http://127.0.0.1:$RPORT "$PODMUX" exec "$POD" -- true 2>"$T/err"; rc=$?
set -e
expect_eq "$rc" 255 "exit when the proxy refuses"
expect_eq "$(wc -l <"$T/err")" 1 "one error line"
grep -q "proxy 127.0.0.1:$RPORT refused CONNECT" "$T/err" || fail "$(cat "$T/err")"
echo "proxy: all checks passed"
