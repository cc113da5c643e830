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

echo "== a proxy that refuses"
set +e
HTTPS_PROXY=http://127.0.0.1:$RPORT "$PODMUX" exec "$POD" -- true 2>"$T/err"; rc=$?
set -e
expect_eq "$rc" 255 "exit when the proxy refuses"
expect_eq "$(wc -l <"$T/err")" 1 "one error line"
grep -q "proxy 127.0.0.1:$RPORT refused CONNECT" "$T/err" || fail "$(cat "$T/err")"
echo "proxy: all checks passed"
