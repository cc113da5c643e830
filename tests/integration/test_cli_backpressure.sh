#!/usr/bin/env bash
# podmux keeps memory bounded both ways: a slow reader of our stdout pauses the session(s), a
# pod that does not read its stdin stops us reading ours. Each case moves 32 MiB while the
# other side waits 3 s, and podmux's peak RSS (VmHWM) must stay far below what buffering it
# would take. Byte counts must be exact.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --pods 4
POD=$(pod_names app=web | sed -n 1p)
SIZE=33554432
LIMIT_KB=$((20 * 1024)) # growth allowed over a run that moves nothing
# ASan's quarantine keeps freed memory resident: without this, churn looks like growth.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1:thread_local_quarantine_size_kb=64"

hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# baseline: the same podmux doing a tiny exec, peak measured the same way
mkfifo "$T/f0"
(exec 3<"$T/f0"; sleep 1; cat <&3 >/dev/null) &  # opens at once, reads later
"$PODMUX" exec "$POD" -- sh -c 'echo x; sleep 2' >"$T/f0" & pid=$!
sleep 1.5; base=$(hwm $pid); wait $pid
echo "baseline VmHWM ${base} kB"

# 1. slow reader of stdout, one pod
mkfifo "$T/f1"
(exec 3<"$T/f1"; sleep 3; wc -c <&3 >"$T/n1") &
reader=$!
"$PODMUX" exec "$POD" -- head -c $SIZE /dev/zero >"$T/f1" & pid=$!
sleep 2.5; peak=$(hwm $pid)
wait $pid; wait $reader
expect_eq "$(cat "$T/n1")" $SIZE "slow reader bytes"
echo "slow reader: VmHWM ${peak} kB at $SECONDS s"
[ $((peak - base)) -lt $LIMIT_KB ] || fail "stdout not bounded: ${peak} kB vs ${base} kB"

# 2. slow reader, fan-out over 4 pods (raw output: bytes add up exactly)
mkfifo "$T/f2"
(exec 3<"$T/f2"; sleep 3; wc -c <&3 >"$T/n2") &
reader=$!
"$PODMUX" exec -o raw -q -l app=web -- head -c $((SIZE / 4)) /dev/zero >"$T/f2" 2>"$T/e2" & pid=$!
sleep 2.5; peak=$(hwm $pid)
wait $pid || fail "fan-out: $(cat "$T/e2")"; wait $reader
expect_eq "$(cat "$T/n2")" $SIZE "fan-out slow reader bytes"
echo "fan-out slow reader: VmHWM ${peak} kB at $SECONDS s"
[ $((peak - base)) -lt $LIMIT_KB ] || fail "fan-out stdout not bounded: ${peak} kB"

# 3. a pod that reads its stdin late: we stop reading ours
head -c $SIZE /dev/zero >"$T/big"
mkfifo "$T/f3"
cat "$T/big" >"$T/f3" &
"$PODMUX" exec -i "$POD" -- sh -c 'sleep 3; wc -c' <"$T/f3" >"$T/n3" & pid=$!
sleep 2.5; peak=$(hwm $pid)
wait $pid
expect_eq "$(tr -d ' ' <"$T/n3")" $SIZE "stdin bytes"
echo "slow stdin reader: VmHWM ${peak} kB at $SECONDS s"
[ $((peak - base)) -lt $LIMIT_KB ] || fail "stdin not bounded: ${peak} kB"

# A reader that starts late, with pings every 100 ms: while our output is backed up the pongs
# wait unread (no dead-peer verdict), and the pings that reach the server after its last frame
# must not make its kernel reset the connection and drop the tail still queued for us.
for i in 1 2 3; do # 3 s late: past the 2.2 s dead-peer deadline of 100 ms pings
  n=$(timeout 60 "$PODMUX" exec --keepalive 100ms "$POD" -- head -c 20000000 /dev/zero \
      2>"$T/late.err" | (sleep 3; wc -c))
  expect_eq "$(echo $n)" 20000000 "late reader run $i ($(cat "$T/late.err"))"
done
echo PASS
