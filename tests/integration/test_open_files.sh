#!/usr/bin/env bash
# test_open_files.sh: issue 13 item 4. Every session holds a socket; podmux raises its soft
# RLIMIT_NOFILE to the hard limit at start (as Go programs do), so a 400-pod fan-out with -P 0
# under a soft limit of 256 succeeds. Where the hard limit itself is too low, the pods that
# cannot get a socket fail with "Too many open files" (it read "Invalid argument").
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
command -v prlimit >/dev/null || { echo "no prlimit"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99"
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 4096 ] || { echo "hard limit below 4096"; exit 77; }
start_sim --pods 400

rc=0
prlimit --nofile=256:4096 "$PODMUX" -l app=web -P 0 exec -o prefix -- echo ok \
  </dev/null >"$T/raised.out" 2>"$T/raised.err" || rc=$?
if grep -Eq 'Sanitizer|runtime error:' "$T/raised.err"; then fail "raised: $(head -30 "$T/raised.err")"; fi
expect_eq "$rc" 0 "soft 256, hard 4096: exit ($(tail -3 "$T/raised.err"))"
expect_eq "$(grep -c " ok$" "$T/raised.out")" 400 "soft 256, hard 4096: pods that ran"
expect_eq "$(cat "$T/raised.err")" "podmux: 400 ok, 0 non-zero, 0 failed, 0 skipped (400 pods)" "summary"
echo "ok   soft 256 raised: 400 pods ran"


rc=0
prlimit --nofile=256:256 "$PODMUX" -l app=web -P 0 exec -o prefix -- echo ok \
  </dev/null >"$T/low.out" 2>"$T/low.err" || rc=$?
if grep -Eq 'Sanitizer|runtime error:' "$T/low.err"; then fail "low: $(head -30 "$T/low.err")"; fi
expect_eq "$rc" 255 "hard 256: exit"
nfail=$(grep -c ': cannot connect to 127.0.0.1:[0-9]*: Too many open files$' "$T/low.err" || true)
nok=$(grep -c " ok$" "$T/low.out" || true)
[ "$nfail" -gt 0 ] || fail "hard 256: no pod failed for lack of descriptors: $(head -5 "$T/low.err")"
! grep -q 'Invalid argument' "$T/low.err" || fail "hard 256: Invalid argument: $(grep -m3 'Invalid' "$T/low.err")"
expect_eq "$(head -1 "$T/low.err")" "podmux: $nok ok, 0 non-zero, $nfail failed, 0 skipped (400 pods)" "hard 256: summary"
expect_eq "$((nok + nfail))" 400 "hard 256: every pod accounted for"
echo "ok   hard 256: $nok ran, $nfail failed with 'Too many open files'"
echo "PASS ($SECONDS s)"
