#!/usr/bin/env bash
# deps/install.sh (issue 14.8) against stand-in dpkg-query/apt-get on the PATH (nothing is
# installed): it waits while another package manager holds the lock and goes on when it is
# released; the wait is bounded, with one line saying why it gave up; other apt failures show
# apt's own output.
. "$PMX_SRC/tests/integration/lib.sh"
B="$T/bin"; mkdir -p "$B"
cat >"$B/dpkg-query" <<'SH'
#!/bin/sh
[ "$3" = libvterm-dev ] && exit 1   # one package "missing"
echo 'install ok installed'
SH
# apt-get: fails on the lock while $T/locked exists (counting attempts), else logs its call.
cat >"$B/apt-get" <<SH
#!/bin/sh
echo "\$*" >>"$T/calls"
if [ -e "$T/broken" ]; then echo "E: Unable to locate package libvterm-dev" >&2; exit 100; fi
if [ -e "$T/locked" ]; then
  n=\$(cat "$T/locked"); echo \$((n - 1)) >"$T/locked"; [ "\$n" -le 1 ] && rm -f "$T/locked"
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
  exit 100
fi
exit 0
SH
chmod +x "$B/dpkg-query" "$B/apt-get"
run() { PATH="$B:$PATH" PMX_APT_LOCK_POLL=0.1 timeout 60 bash "$PMX_SRC/deps/install.sh" "$@"; }

# The lock is released after 3 attempts: install goes on.
echo 3 >"$T/locked"
run >"$T/out" 2>&1 || { cat "$T/out"; fail "install.sh gave up while the lock came free"; }
grep -q 'waiting (at most 600s) for another package manager' "$T/out" || fail "no waiting note"
grep -q 'install -y -qq --no-install-recommends libvterm-dev -o DPkg::Lock::Timeout=' "$T/calls" \
  || { cat "$T/calls"; fail "apt-get install not run with a lock timeout"; }
grep -q '^deps: done' "$T/out" || fail "not done"

# Held for good: gives up after PMX_APT_LOCK_WAIT seconds with one line.
rm -f "$T/calls"; echo 1000000 >"$T/locked"
set +e; PMX_APT_LOCK_WAIT=1 run >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc -ne 0 ] || fail "install.sh succeeded without the lock"
grep -q 'still holds the apt/dpkg lock after 1s' "$T/err" || { cat "$T/err"; fail "no give-up line"; }
grep -q install "$T/calls" && fail "apt-get install ran though update never got the lock"

# Another failure: at once, with apt's message.
rm -f "$T/locked"; touch "$T/broken"
set +e; run >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc -ne 0 ] || fail "apt failure not reported"
grep -q 'Unable to locate package' "$T/err" || fail "apt's message hidden"
grep -q waiting "$T/out" && fail "waited on a failure that is not a lock"
echo ok
