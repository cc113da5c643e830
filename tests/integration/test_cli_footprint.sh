#!/usr/bin/env bash
# What podmux loads for exec, not cp: libarchive (and with it libxml2, ICU, libstdc++ and the
# compression libraries) is dlopen()ed by `podmux cp` only. Linked into the program (the cp
# merge), it cost every invocation about 3 MiB of RSS: 1,000 idle sessions 49.7 MiB instead of
# 47.0 MiB, peak 64.5 instead of 61.5. This keeps it from coming back through a link line or a
# new dependency.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
command -v readelf >/dev/null || { echo "no readelf"; exit 77; }

HEAVY='libarchive|libxml2|libicu|libstdc\+\+|liblzma|libzstd|libbz2|liblz4|libnettle|libacl'

# Nothing of cp's at load time: not in the program's NEEDED entries, nor pulled in by them.
readelf -d "$PODMUX" >"$T/dyn"
grep -q NEEDED "$T/dyn" || fail "readelf shows no NEEDED entry: $(cat "$T/dyn")"
grep NEEDED "$T/dyn" | grep -E "$HEAVY" && fail "podmux links what only cp needs"
ldd "$PODMUX" >"$T/ldd" # a file first: grep -q closing a pipe early fails under pipefail
grep -E "$HEAVY" "$T/ldd" && fail "podmux's libraries pull in what only cp needs"

# Nor while a fan-out holds its sessions open.
start_sim --pods 3
set +e
timeout 60 "$PODMUX" exec -l app=web -- sleep 30 >"$T/out" 2>"$T/err" &
PID=$!
set -e
opened=0
for _ in $(seq 100); do
  n=$(sim_get /podmux-sim/stats | /usr/bin/python3 -c \
    'import json,sys; print(json.load(sys.stdin).get("sessionsActive", 0))')
  if [ "$n" -ge 3 ]; then opened=1; break; fi
  sleep 0.1
done
[ $opened = 1 ] || fail "3 sessions did not open: $(cat "$T/err")"
# timeout runs podmux as its child: read the maps of podmux itself.
POD_PID=$(cat "/proc/$PID/task/$PID/children" | awk '{print $1}')
[ -n "$POD_PID" ] || fail "no podmux process under timeout"
cp "/proc/$POD_PID/maps" "$T/maps"
grep -q podmux "$T/maps" || fail "not podmux's maps: $(head -3 "$T/maps")"
grep -E "$HEAVY" "$T/maps" && fail "an exec fan-out mapped what only cp needs"
kill -TERM "$POD_PID"
set +e
wait "$PID"
rc=$?
set -e
[ "$rc" -ne 124 ] || fail "podmux did not end on SIGTERM"
echo "ok"
