# A --script for hostile_apiserver.py (test_faults_limits.sh): messages around the client's
# maximum message size (32 MiB by default). Pods fine, exact, big, bigfrag; all carry
# app=hostile, exact and bigfrag size=large, the others size=small.
#   exact    stdout "hello\n", then ONE message of exactly 32 MiB (channel byte + 32 MiB - 1 'z'),
#            status Success, close 1000: at the limit, must be accepted
#   big      stdout "hello\n", then one frame header announcing 32 MiB + 1 and 1000 bytes of it;
#            then waits for the client to go away
#   bigfrag  stdout "hello\n", then one message in three fragments (16 MiB, 16 MiB, 2 bytes):
#            each frame is under the limit, the message is over it
LIMIT = 32 * 1024 * 1024
PODS = ["fine", "exact", "big", "bigfrag"]
LABELS = {p: {"size": "large" if p in ("exact", "bigfrag") else "small"} for p in PODS}


def exact(c):
    c.upgrade()
    c.reader()
    c.send(HELLO + header(2, LIMIT) + b"\x01")
    chunk = b"z" * (1 << 20)
    left = LIMIT - 1
    while left:
        n = min(left, len(chunk))
        c.send(chunk[:n])
        left -= n
    c.send(status() + CLOSE_1000)


def big(c):
    c.upgrade()
    c.reader()
    c.send(HELLO + header(2, LIMIT + 1) + b"\x01" + b"q" * 999)


def bigfrag(c):
    c.upgrade()
    c.reader()
    half = 16 * 1024 * 1024
    c.send(HELLO + header(2, half, fin=False) + b"\x01" + b"f" * (half - 1))
    c.send(header(0, half, fin=False) + b"f" * half)
    c.send(frame(0, b"ff"))


SCENARIOS.update(exact=exact, big=big, bigfrag=bigfrag)
