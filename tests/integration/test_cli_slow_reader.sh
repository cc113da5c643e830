#!/usr/bin/env bash
# test_cli_slow_reader.sh: issue 9 backpressure with a reader that keeps going, slowly: podmux's
# stdout is read at 1 MB/s (data/slow_reader.py) for 8 s (one pod) and 6 s (a fan-out over 4
# pods) while the pods can send ~30 MB at once; then the rest is read at full speed. The reader
# samples podmux's peak RSS (VmHWM) all along. Stated bound: the peak stays within 12 MiB (the
# CLI's 4 MiB stdout queue plus slack) of the peak of the same run read at full speed; buffering
# what the server sends ahead of the reader would add 20 MB or more. Every byte arrives, in
# order: sha256 for one pod, each pod's line sequence for the fan-out. test_cli_backpressure.sh
# covers a reader that starts late and a pod that reads stdin late.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
# ASan's quarantine keeps freed memory resident: without this, churn looks like growth.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
start_sim --pods 4
POD=$(pod_names app=web | sed -n 1p)
READER="$PMX_SRC/tests/integration/data/slow_reader.py"
RATE=1000000
LIMIT_KB=$((12 * 1024))

# slow NAME RATE SLOW_SECONDS OUTFILE podmux-args...: podmux into a FIFO read by slow_reader.py;
# sets STATS (the reader's line) and checks podmux's exit status is 0.
slow() {
  local name=$1 rate=$2 secs=$3 outfile=$4 rc=0; shift 4
  rm -f "$T/$name.fifo"
  mkfifo "$T/$name.fifo"
  "$PODMUX" "$@" </dev/null >"$T/$name.fifo" 2>"$T/$name.err" &
  local pid=$!
  STATS=$(/usr/bin/python3 "$READER" "$rate" "$pid" "$outfile" "$secs" <"$T/$name.fifo")
  wait "$pid" || rc=$?
  grep -Eq 'Sanitizer|runtime error:' "$T/$name.err" && fail "$name: $(head -30 "$T/$name.err")"
  expect_eq "$rc" 0 "$name: podmux exit ($(cat "$T/$name.err"))"
  echo "$name: $STATS"
}
stat_of() { echo "$STATS" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# 1. one pod, ~30 MB of `seq`, 8 s at 1 MB/s then at full speed: byte-exact and bounded. The baseline is the same
# command read as fast as possible (a tiny exec's peak varies by several MB under ASan).
N=3800000
WANT_SHA=$(seq 1 $N | sha256sum | cut -d' ' -f1)
WANT_BYTES=$(seq 1 $N | wc -c)
slow baseline 0 0 - exec -q "$POD" -- seq 1 $N
expect_eq "$(stat_of sha256)" "$WANT_SHA" "baseline: sha256"
BASE=$(stat_of peak_hwm_kb)
[ "$BASE" -gt 0 ] || fail "no VmHWM sample for the baseline"
slow single $RATE 8 - exec -q "$POD" -- seq 1 $N
expect_eq "$(stat_of bytes)" "$WANT_BYTES" "single: bytes"
expect_eq "$(stat_of sha256)" "$WANT_SHA" "single: sha256"
PEAK=$(stat_of peak_hwm_kb)
[ "$(stat_of samples)" -ge 10 ] || fail "single: too few RSS samples: $STATS"
echo "single: peak VmHWM ${PEAK} kB, baseline ${BASE} kB (bound +${LIMIT_KB} kB)"
[ $((PEAK - BASE)) -lt $LIMIT_KB ] || fail "single: podmux grew to ${PEAK} kB (baseline ${BASE} kB)"

# 2. fan-out over 4 pods, 60000 lines of 101 bytes each (~30 MB prefixed), 6 s at 1 MB/s.
L=60000
slow fanout-baseline 0 0 - exec -q -l app=web -- seq -f '%0100g' 1 $L
BASE=$(stat_of peak_hwm_kb)
FANOUT_BASE_STATS=$STATS
slow fanout $RATE 6 "$T/fanout.out" exec -q -l app=web -- seq -f '%0100g' 1 $L
expect_eq "$(stat_of bytes)" "$(grep -o 'bytes=[0-9]*' <<<"$FANOUT_BASE_STATS" | cut -d= -f2)" "fan-out bytes"
PEAK=$(stat_of peak_hwm_kb)
echo "fan-out: peak VmHWM ${PEAK} kB, baseline ${BASE} kB (bound +${LIMIT_KB} kB)"
/usr/bin/python3 - "$T/fanout.out" "$L" $(pod_names app=web) <<'PY' || fail "fan-out output"
import sys
path, n, pods = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
seen = {p: 0 for p in pods}
for line in open(path, "rb"):
    pod, _, num = line.rstrip(b"\n").decode().partition(" ")
    assert pod in seen, "unknown prefix %r" % pod
    assert len(num) == 100 and int(num) == seen[pod] + 1, (pod, num[-12:], seen[pod])
    seen[pod] += 1
assert all(v == n for v in seen.values()), seen
print("fan-out: %d pods x %d lines, each in order" % (len(pods), n))
PY
rm -f "$T/fanout.out"
[ $((PEAK - BASE)) -lt $LIMIT_KB ] || fail "fan-out: podmux grew to ${PEAK} kB (baseline ${BASE} kB)"
echo "PASS ($SECONDS s)"
