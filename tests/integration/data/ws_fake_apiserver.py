#!/usr/bin/env python3
"""A tiny plain-HTTP stand-in for kube-apiserver + kubelet, for faults podmux-sim cannot make:
messages around the client's maximum message size (32 MiB by default).

Usage: ws_fake_apiserver.py LOGFILE   (prints "PORT\n" once listening; runs until killed)

GET /api/v1/namespaces/NS/pods/NAME   a Running pod with one container "main"
GET /api/v1/namespaces/NS/pods        the pods below; labelSelector "size=small" or "size=large"
                                      filters (all carry app=fake; exact and bigfrag are size=large)
GET .../pods/NAME/exec?... (upgrade)  101 with v5.channel.k8s.io (or v4 when v5 is not offered),
                                      then per pod NAME:
  fine     stdout "hello\\n", status Success, close 1000
  exact    stdout "hello\\n", then ONE message of exactly 32 MiB (channel byte + 32 MiB - 1 'z'),
           status Success, close 1000: at the limit, must be accepted
  big      stdout "hello\\n", then one frame header announcing 32 MiB + 1 and 1000 bytes of it;
           then waits for the client to go away
  bigfrag  stdout "hello\\n", then one message in three fragments (16 MiB, 16 MiB, 2 bytes):
           each frame is under the limit, the message is over it
Frames from the client are parsed; each close frame is logged to LOGFILE as "POD close CODE",
and the end of each exec connection as "POD end".
"""
import base64
import hashlib
import json
import socket
import socketserver
import struct
import sys
import threading
import urllib.parse

LIMIT = 32 * 1024 * 1024
PODS = ["fine", "exact", "big", "bigfrag"]
LOG = sys.argv[1]
LOCK = threading.Lock()


def log(line):
    with LOCK:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def pod_json(name, ns):
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "fake",
                                                             "size": "large" if name in ("exact", "bigfrag") else "small"},
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "main"}]},
            "status": {"phase": "Running",
                       "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0}]}}


def header(op, length, fin=True):
    b0 = (0x80 if fin else 0) | op
    if length < 126:
        return struct.pack("!BB", b0, length)
    if length < 65536:
        return struct.pack("!BBH", b0, 126, length)
    return struct.pack("!BBQ", b0, 127, length)


def frame(op, payload, fin=True):
    return header(op, len(payload), fin) + payload


STATUS_OK = frame(2, b"\x03" + json.dumps({"metadata": {}, "status": "Success"}).encode())
CLOSE_1000 = frame(8, struct.pack("!H", 1000))


class Handler(socketserver.BaseRequestHandler):
    def recv_until(self, buf, marker):
        while marker not in buf:
            d = self.request.recv(65536)
            if not d:
                return None
            buf += d
        return buf

    def respond(self, code, reason, body):
        body = json.dumps(body).encode()
        self.request.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % (code, reason.encode(), len(body)) + body)

    def handle(self):
        buf = b""
        while True:
            buf = self.recv_until(buf, b"\r\n\r\n")
            if buf is None:
                return
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ")
            hdrs = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            path, _, query = target.partition("?")
            parts = path.strip("/").split("/")
            # api v1 namespaces NS pods [NAME [exec|attach]]
            if len(parts) < 5 or parts[:2] != ["api", "v1"] or parts[4] != "pods":
                self.respond(404, "Not Found", {"kind": "Status", "status": "Failure",
                                                "message": "no such path", "code": 404})
                continue
            ns = parts[3]
            if len(parts) == 5:
                sel = urllib.parse.parse_qs(query).get("labelSelector", [""])[0]
                items = [pod_json(p, ns) for p in PODS]
                if sel.startswith("size="):
                    items = [i for i in items if i["metadata"]["labels"]["size"] == sel[5:]]
                self.respond(200, "OK", {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                         "items": items})
                continue
            name = parts[5]
            if name not in PODS:
                self.respond(404, "Not Found", {"kind": "Status", "apiVersion": "v1",
                                                "status": "Failure", "reason": "NotFound",
                                                "message": 'pods "%s" not found' % name,
                                                "code": 404})
                continue
            if len(parts) == 6:
                self.respond(200, "OK", pod_json(name, ns))
                continue
            if "websocket" not in hdrs.get("upgrade", "").lower():
                self.respond(400, "Bad Request", {"kind": "Status", "status": "Failure",
                                                  "message": "upgrade required", "code": 400})
                continue
            self.exec_session(name, hdrs, buf)
            return

    def exec_session(self, name, hdrs, leftover):
        offered = [p.strip() for p in hdrs.get("sec-websocket-protocol", "").split(",")]
        proto = "v5.channel.k8s.io" if "v5.channel.k8s.io" in offered else "v4.channel.k8s.io"
        accept = base64.b64encode(hashlib.sha1(
            (hdrs["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.request.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                             b"\r\nSec-WebSocket-Protocol: " + proto.encode() + b"\r\n\r\n")
        reader = threading.Thread(target=self.read_client, args=(name, leftover), daemon=True)
        reader.start()
        s = self.request
        try:
            s.sendall(frame(2, b"\x01hello\n"))
            if name == "fine":
                s.sendall(STATUS_OK + CLOSE_1000)
            elif name == "exact":
                s.sendall(header(2, LIMIT) + b"\x01")
                chunk = b"z" * (1 << 20)
                left = LIMIT - 1
                while left:
                    n = min(left, len(chunk))
                    s.sendall(chunk[:n])
                    left -= n
                s.sendall(STATUS_OK + CLOSE_1000)
            elif name == "big":
                s.sendall(header(2, LIMIT + 1) + b"\x01" + b"q" * 999)
            elif name == "bigfrag":
                half = 16 * 1024 * 1024
                s.sendall(header(2, half, fin=False) + b"\x01" + b"f" * (half - 1))
                s.sendall(header(0, half, fin=False) + b"f" * half)
                s.sendall(frame(0, b"ff"))
        except OSError:
            pass  # the client went away first: its close was logged by the reader
        reader.join(30)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_client(self, name, buf):
        """Parses the client's (masked) frames until EOF; logs close codes."""
        s = self.request
        s.settimeout(30)
        try:
            while True:
                while len(buf) < 2:
                    d = s.recv(65536)
                    if not d:
                        raise EOFError
                    buf += d
                op, l7 = buf[0] & 0x0F, buf[1] & 0x7F
                hl = 2 + (2 if l7 == 126 else 8 if l7 == 127 else 0) + (4 if buf[1] & 0x80 else 0)
                while len(buf) < hl:
                    d = s.recv(65536)
                    if not d:
                        raise EOFError
                    buf += d
                ln = l7 if l7 < 126 else struct.unpack("!H", buf[2:4])[0] if l7 == 126 \
                    else struct.unpack("!Q", buf[2:10])[0]
                while len(buf) < hl + ln:
                    d = s.recv(65536)
                    if not d:
                        raise EOFError
                    buf += d
                mask = buf[hl - 4:hl] if buf[1] & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[hl:hl + ln]))
                buf = buf[hl + ln:]
                if op == 8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0
                    log("%s close %d" % (name, code))
                    try:
                        s.sendall(frame(8, payload[:2]))
                    except OSError:
                        pass
        except (EOFError, OSError):
            pass
        log("%s end" % name)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
