#!/usr/bin/env python3
"""Reads stdin at a fixed rate and watches another process's memory while doing so.

Usage: slow_reader.py RATE_BYTES_PER_S PID OUTFILE|- [SLOW_SECONDS]
Reads 16 KiB at a time, never faster than RATE on average (0 = as fast as possible) for the first
SLOW_SECONDS (default: all along), then as fast as it can; writes what it read to OUTFILE
(- = nowhere) and, at EOF, prints one line:
  bytes=N sha256=HEX seconds=S peak_hwm_kb=K samples=M
peak_hwm_kb is the largest VmHWM (peak resident set) of PID seen, sampled every 0.1 s from a
thread while reading and once more at EOF (while PID still exists).
"""
import hashlib
import sys
import threading
import time

rate, pid, outpath = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
slow_s = float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
out = open(outpath, "wb") if outpath != "-" else None
inp = sys.stdin.buffer.raw
sha = hashlib.sha256()
total, peak, samples = 0, 0, 0
t0 = time.monotonic()
done = threading.Event()


def sample():
    global peak, samples
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
                    samples += 1
    except OSError:
        pass  # gone already


def sampler():
    while not done.wait(0.1):
        sample()


threading.Thread(target=sampler, daemon=True).start()
while True:
    now = time.monotonic()
    if rate and now - t0 < slow_s:
        ahead = total / rate - (now - t0)
        if ahead > 0:
            time.sleep(min(ahead, 0.2))
            continue
    buf = inp.read(16384)
    if not buf:
        break
    total += len(buf)
    sha.update(buf)
    if out:
        out.write(buf)
done.set()
sample()
if out:
    out.close()
print("bytes=%d sha256=%s seconds=%.1f peak_hwm_kb=%d samples=%d"
      % (total, sha.hexdigest(), time.monotonic() - t0, peak, samples))
