#!/usr/bin/env bash
# test_cli_slow_stdin.sh: issue 9 backpressure the other way: a pod that reads its stdin at
# 1 MB/s (data/slow_reader.py run as the pod's command) for 6 s, then at full speed, while podmux
# has ~29 MB ready on its own stdin; then the same broadcast to 4 pods reading so. Stated
# bound: podmux's peak RSS (VmHWM) stays within 12 MiB of the same run with a pod that reads at
# full speed (reading ahead of the pod would add 20 MB or more). The pod gets every byte: it
# reports the count and sha256 of what it read. test_cli_backpressure.sh covers a pod that reads
# late. Stdin is written only once the pod has said "ready" (for a fan-out: before its sessions
# start, it keeps what it reads for them in its replay buffer, up to 64 MiB by design, which is
# not what this measures).
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
# ASan's quarantine keeps freed memory resident: without this, churn looks like growth.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
start_sim --pods 4
POD=$(pod_names app=web | sed -n 1p)
READER="$PMX_SRC/tests/integration/data/slow_reader.py"
LIMIT_KB=$((12 * 1024))
seq 1 3800000 >"$T/in"
WANT_BYTES=$(wc -c <"$T/in")
WANT_SHA=$(sha256sum "$T/in" | cut -d' ' -f1)

# feed NAME RATE NPODS podmux-args...: podmux -i with $T/in on stdin once NPODS pods printed
# "ready"; the pod command (appended) then reads it at RATE for 6 s. Sets PEAK (podmux's last
# VmHWM sample, i.e. its peak) and leaves the output in $T/NAME.out.
feed() {
  local name=$1 rate=$2 npods=$3 rc=0; shift 3
  rm -f "$T/$name.fifo"
  mkfifo "$T/$name.fifo"
  "$PODMUX" "$@" -- sh -c 'echo ready; exec "$@"' sh /usr/bin/python3 "$READER" "$rate" 0 - 6 \
    <"$T/$name.fifo" >"$T/$name.out" 2>"$T/$name.err" &
  local pid=$! v
  (
    exec 3>"$T/$name.fifo"
    for _ in $(seq 600); do
      [ "$(grep -c 'ready$' "$T/$name.out")" -ge "$npods" ] && break
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 0.1
    done
    cat "$T/in" >&3
  ) &
  local writer=$!
  PEAK=0
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$PEAK" ] && PEAK=$v
    sleep 0.1
  done
  wait "$pid" || rc=$?
  wait "$writer" || true
  grep -Eq 'Sanitizer|runtime error:' "$T/$name.err" && fail "$name: $(head -30 "$T/$name.err")"
  expect_eq "$rc" 0 "$name: podmux exit ($(cat "$T/$name.err"))"
  echo "$name: VmHWM ${PEAK} kB; $(head -c 300 "$T/$name.out" | tr '\n' '|')"
}
# reads FILE [PREFIX]: the pod's report (after PREFIX) says it read all of $T/in.
reads() {
  local line pre=${2:-}
  line=$(grep "^${pre}bytes=" "$1" | sed "s/^$pre//")
  expect_eq "$(echo "$line" | tr ' ' '\n' | sed -n 's/^bytes=//p')" "$WANT_BYTES" "bytes read by ${pre:-the pod}"
  expect_eq "$(echo "$line" | tr ' ' '\n' | sed -n 's/^sha256=//p')" "$WANT_SHA" "sha256 of what ${pre:-the pod} read"
}

feed single-fast 0 1 exec -q -i "$POD"
reads "$T/single-fast.out"
BASE=$PEAK
feed single-slow 1000000 1 exec -q -i "$POD"
reads "$T/single-slow.out"
echo "single: peak ${PEAK} kB, baseline ${BASE} kB (bound +${LIMIT_KB} kB)"
[ $((PEAK - BASE)) -lt $LIMIT_KB ] || fail "single: podmux grew to ${PEAK} kB (baseline ${BASE} kB)"

# The same stdin broadcast to 4 pods, each reading at 1 MB/s.
feed fanout-fast 0 4 exec -q -i -l app=web
BASE=$PEAK
feed fanout-slow 1000000 4 exec -q -i -l app=web
for p in $(pod_names app=web); do
  reads "$T/fanout-fast.out" "$p "
  reads "$T/fanout-slow.out" "$p "
done
echo "fan-out: peak ${PEAK} kB, baseline ${BASE} kB (bound +${LIMIT_KB} kB)"
[ $((PEAK - BASE)) -lt $LIMIT_KB ] || fail "fan-out: podmux grew to ${PEAK} kB (baseline ${BASE} kB)"
echo "PASS ($SECONDS s)"
