#!/usr/bin/env python3
"""A scriptable misbehaving API server (issue 13): plain HTTP, or TLS with --tls CERT KEY.
Every pod exists and is Running (or, when a script sets PODS, those pods, listed by
GET .../pods with a "key=value" labelSelector over LABELS); what its exec/attach upgrade gets is
the scenario of the same name in SCENARIOS (a pod with no scenario gets "fine"). --script FILE runs FILE (Python) with
this module's names in scope, so a test can add or replace scenarios: def my_case(c): ...;
SCENARIOS["my-pod"] = my_case.

Usage: hostile_apiserver.py [--tls CERT KEY] [--script FILE] LOGFILE
       (prints "PORT\\n" once listening; runs until killed)

A scenario gets a Conn c: c.upgrade(...) answers 101 (status line and headers can be spoiled),
c.send(bytes), c.reader() starts a thread that parses the client's frames and logs each close
as "POD close CODE" and the connection's end as "POD end"; c.respond(code, body) answers HTTP.

Scenarios: fine, pingflood (pings without end, never reads), fragbomb (a message in 2 M one-byte
fragments), cl101 / chunked101 (body headers on the 101), noupgrade101, noconnection101,
http10 (an HTTP/1.0 101), bigerror (403 with a Status of 8 MiB), bad400 (400 with a Status).
"""
import base64
import hashlib
import json
import socket
import socketserver
import ssl
import struct
import sys
import threading
import urllib.parse

args = sys.argv[1:]
TLS = SCRIPT = None
while args and args[0].startswith("--"):
    if args[0] == "--tls":
        TLS, args = (args[1], args[2]), args[3:]
    elif args[0] == "--script":
        SCRIPT, args = args[1], args[2:]
    else:
        sys.exit("unknown option " + args[0])
LOG = args[0]
LOCK = threading.Lock()


def log(line):
    with LOCK:
        with open(LOG, "a") as f:
            f.write(line + "\n")


PODS = None  # None: any name is a pod; a script may list them (and give them LABELS)
LABELS = {}


def pod_json(name, ns):
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns,
                         "labels": dict({"app": "hostile"}, **LABELS.get(name, {})),
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


def status(code=0):
    st = {"metadata": {}, "status": "Success"} if code == 0 else {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    return frame(2, b"\x03" + json.dumps(st).encode())


HELLO = frame(2, b"\x01hello\n")
CLOSE_1000 = frame(8, struct.pack("!H", 1000))


def status_body(code, message, pad=0):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": "Forbidden" if code == 403 else "BadRequest",
          "details": {"causes": [{"message": "x" * pad}]}, "code": code}
    return json.dumps(st).encode()


class Conn:
    def __init__(self, h, name, hdrs, leftover):
        self.h, self.s, self.name, self.hdrs, self.leftover = h, h.request, name, hdrs, leftover
        self.thread = None

    def send(self, data):
        self.s.sendall(data)

    def respond(self, code, body, reason="Error"):
        self.send(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                  % (code, reason.encode(), len(body)) + body)

    def upgrade(self, status_line=b"HTTP/1.1 101 Switching Protocols", upgrade=True,
                connection=True, extra=b""):
        offered = [p.strip() for p in self.hdrs.get("sec-websocket-protocol", "").split(",")]
        proto = "v5.channel.k8s.io" if "v5.channel.k8s.io" in offered else "v4.channel.k8s.io"
        accept = base64.b64encode(hashlib.sha1(
            (self.hdrs["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
            .digest())
        self.send(status_line + b"\r\n" + (b"Upgrade: websocket\r\n" if upgrade else b"") +
                  (b"Connection: Upgrade\r\n" if connection else b"") +
                  b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: " +
                  proto.encode() + b"\r\n" + extra + b"\r\n")

    def reader(self):
        self.thread = threading.Thread(target=self.read_client, daemon=True)
        self.thread.start()

    def read_client(self):
        """Parses the client's (masked) frames until EOF; logs close codes."""
        s, buf = self.s, self.leftover

        def need(n):
            nonlocal buf
            while len(buf) < n:
                d = s.recv(65536)
                if not d:
                    raise EOFError
                buf += d
        try:
            while True:
                need(2)
                op, l7 = buf[0] & 0x0F, buf[1] & 0x7F
                hl = 2 + (2 if l7 == 126 else 8 if l7 == 127 else 0) + (4 if buf[1] & 0x80 else 0)
                need(hl)
                ln = l7 if l7 < 126 else struct.unpack("!H", buf[2:4])[0] if l7 == 126 \
                    else struct.unpack("!Q", buf[2:10])[0]
                need(hl + ln)
                mask = buf[hl - 4:hl] if buf[1] & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[hl:hl + ln]))
                buf = buf[hl + ln:]
                if op == 8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0
                    log("%s close %d" % (self.name, code))
                    try:
                        s.sendall(frame(8, payload[:2]))
                    except OSError:
                        pass
        except (EOFError, OSError):
            pass
        log("%s end" % self.name)

    def wait_reader(self):
        if self.thread:
            self.thread.join(60)


def fine(c):
    c.upgrade()
    c.reader()
    c.send(HELLO + status() + CLOSE_1000)


def pingflood(c):
    c.upgrade()
    c.send(HELLO)
    ping = frame(9, b"p" * 16) * 4096  # 72 KiB of pings a write, forever; never reads
    while True:
        c.send(ping)


def fragbomb(c):
    c.upgrade()
    c.reader()
    c.send(HELLO)
    one = header(0, 1, fin=False) + b"x"
    c.send(header(2, 1, fin=False) + b"\x01")
    batch = one * 65536
    for _ in range(2 * 1024 * 1024 // 65536):  # 2 M fragments, 6 MB
        c.send(batch)
    c.send(frame(0, b"x") + status() + CLOSE_1000)


def body_headers_101(extra):
    def run(c):
        c.upgrade(extra=extra)
        c.reader()
        c.send(HELLO + status() + CLOSE_1000)
    return run


def spoiled_101(**kw):
    def run(c):
        c.upgrade(**kw)
        c.reader()
        c.send(HELLO + status() + CLOSE_1000)
    return run


def bigerror(c):
    c.respond(403, status_body(403, 'pods "bigerror" is forbidden: this message survives the cap',
                               pad=8 << 20), "Forbidden")


def bad400(c):
    c.respond(400, status_body(400, "the request line is too long for this server"), "Bad Request")


SCENARIOS = {
    "fine": fine,
    "pingflood": pingflood,
    "fragbomb": fragbomb,
    "cl101": body_headers_101(b"Content-Length: 5\r\n"),
    "chunked101": body_headers_101(b"Transfer-Encoding: chunked\r\n"),
    "noupgrade101": spoiled_101(upgrade=False),
    "noconnection101": spoiled_101(connection=False),
    "http10": spoiled_101(status_line=b"HTTP/1.0 101 Switching Protocols"),
    "bigerror": bigerror,
    "bad400": bad400,
}
if SCRIPT:
    exec(open(SCRIPT).read())


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        if TLS:
            self.request = CTX.wrap_socket(self.request, server_side=True)

    def respond(self, code, reason, body):
        body = json.dumps(body).encode()
        self.request.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % (code, reason.encode(), len(body)) + body)

    def handle(self):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = self.request.recv(65536)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                hdrs = {}
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    hdrs[k.strip().lower()] = v.strip()
                path, _, query = target.partition("?")
                parts = path.strip("/").split("/")
                if len(parts) < 5 or parts[:2] != ["api", "v1"] or parts[4] != "pods" or \
                        (len(parts) == 5 and PODS is None):
                    self.respond(404, "Not Found", {"kind": "Status", "status": "Failure",
                                                    "message": "no such path", "code": 404})
                    continue
                ns = parts[3]
                if len(parts) == 5:
                    sel = urllib.parse.parse_qs(query).get("labelSelector", [""])[0]
                    k, _, v = sel.partition("=")
                    items = [pod_json(p, ns) for p in PODS]
                    if sel:
                        items = [i for i in items if i["metadata"]["labels"].get(k) == v]
                    self.respond(200, "OK", {"kind": "PodList", "apiVersion": "v1",
                                             "metadata": {}, "items": items})
                    continue
                name = parts[5]
                if PODS is not None and name not in PODS:
                    self.respond(404, "Not Found", {"kind": "Status", "apiVersion": "v1",
                                                    "status": "Failure", "reason": "NotFound",
                                                    "message": 'pods "%s" not found' % name,
                                                    "code": 404})
                    continue
                if len(parts) == 6:
                    self.respond(200, "OK", pod_json(name, ns))
                    continue
                c = Conn(self, name, hdrs, buf)
                try:
                    SCENARIOS.get(name, fine)(c)
                except OSError:
                    pass  # the client went away
                c.wait_reader()
                return
        finally:
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # a refused TLS handshake is expected
            super().handle_error(request, client_address)


if TLS:
    CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    CTX.load_cert_chain(*TLS)
srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
