#!/usr/bin/python3
"""sim_frames.py POD: runs a fixed set of execs against the sim of $KUBECONFIG over raw
WebSocket (websocket-client, which python3-kubernetes uses) and prints what came back, one line
per exec: the first frame, each channel's bytes (joined: how output is cut into frames depends
on pipe timing even for real processes), the status frame and the close code, exactly.
test_sim_remote.sh diffs this output between the real-process sim and the remote-cluster model."""
import base64
import hashlib
import os
import ssl
import sys
import urllib.parse

import websocket
import yaml

cfg = yaml.safe_load(open(os.environ["KUBECONFIG"]))
cl = cfg["clusters"][0]["cluster"]
tok = next(u["user"]["token"] for u in cfg["users"] if "token" in u["user"])
ctx = ssl.create_default_context(
    cadata=base64.b64decode(cl["certificate-authority-data"]).decode())
pod = sys.argv[1]


def run(cmd, proto, stdin=None, tty=False):
    q = [("command", c) for c in cmd] + [("stdout", "true"),
                                         ("stderr", "false" if tty else "true")]
    if stdin is not None:
        q.append(("stdin", "true"))
    if tty:
        q.append(("tty", "true"))
    url = "%s/api/v1/namespaces/default/pods/%s/exec?%s" % (
        cl["server"].replace("https://", "wss://"), pod, urllib.parse.urlencode(q))
    ws = websocket.create_connection(url, header=["Authorization: Bearer " + tok],
                                     subprotocols=[proto], sslopt={"context": ctx}, timeout=20)
    for chunk in stdin or []:
        ws.send_binary(chunk)
    first, chans, status, close = None, {}, None, None
    while True:
        op, fr = ws.recv_data_frame(True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            close = fr.data[:2].hex()
            break
        d = bytes(fr.data)
        if first is None:
            first = d.hex()
            continue
        if d[:1] == b"\x03":
            status = d[1:].decode()
        else:
            chans[d[0]] = chans.get(d[0], b"") + d[1:]
    ws.close()
    body = " ".join("ch%d=%d:%s" % (c, len(b), b[:40] if len(b) <= 40 else
                                    hashlib.sha256(b).hexdigest()[:16])
                    for c, b in sorted(chans.items()))
    return "first=%s %s status=%s close=%s" % (first, body, status, close)


V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
for proto in (V5, V4):
    for cmd in (["true"], ["false"], ["sh", "-c", "exit 3"], ["sh", "-c", "exit 0"],
                ["echo", "hello", "world"], ["echo", "-n", "x"], ["sleep", "0.1"],
                ["head", "-c", "300000", "/dev/zero"]):
        print(proto, cmd, run(cmd, proto))
print("v5 cat", run(["cat"], V5, [b"\x00hello\n", b"\x00world\n", b"\xff\x00"]))
print("v5 cat 1MiB", run(["cat"], V5, [b"\x00" + bytes(65536)] * 16 + [b"\xff\x00"]))
print("v5 sink", run(["sh", "-c", "cat >/dev/null"], V5, [b"\x00" + bytes(65536)] * 4 + [b"\xff\x00"]))
print("v4 cat, no stdin close", run(["sh", "-c", "true"], V4, [b"\x00ignored\n"]))
resize = b"\x04" + b'{"Width":100,"Height":30}'
# One line per session: with several, whether the pty echoes the next line before cat has
# written the last one is up to the scheduler.
print("v5 tty cat", run(["cat"], V5, [resize, b"\x00ab\r", b"\x00\x04"], tty=True))
print("v5 tty cat erase", run(["cat"], V5, [b"\x00c\x7fd\r", b"\x00\x04"], tty=True))
print("v5 tty cat close", run(["cat"], V5, [b"\x00xy", b"\xff\x00"], tty=True))
print("v5 tty true", run(["true"], V5, [resize], tty=True))
print("v5 tty echo", run(["echo", "hi"], V5, [], tty=True))
