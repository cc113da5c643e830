#!/usr/bin/env bash
# podmux cp when pods fail: a pod without tar gets one line naming it; a pod whose tar fails
# midway (both ways) is reported while the other pods still finish with the right bytes;
# --timeout ends a pod that stops reading, and the others are not held back past it.
# podmux-sim runs with a PATH whose system part has no tar and whose relative part ("tbin")
# is each pod's own directory: a pod has tar only if the test put one in its tbin/.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
REAL_TAR=$(command -v tar)
mkdir -p "$T/sysbin"
for f in /usr/bin/* /bin/*; do
  b=${f##*/}
  [ "$b" = tar ] || [ -e "$T/sysbin/$b" ] || ln -s "$f" "$T/sysbin/$b"
done
PATH="$T/sysbin:tbin" start_sim --pods 6
mapfile -t PODS < <(pod_names app=web | sort)
NOTAR=${PODS[0]} MIDWAY=${PODS[1]} STALL=${PODS[2]}
for p in "${PODS[@]}"; do
  d="$T/state/pods/default/$p/main"
  mkdir -p "$d/tbin"
  [ "$p" = "$NOTAR" ] && continue
  cat >"$d/tbin/tar" <<SH
#!/bin/sh
case "\$POD_NAME:\$1" in
  $MIDWAY:cf) "$REAL_TAR" "\$@" | head -c 300000; exit 2 ;;
  $MIDWAY:xmf) head -c 300000 >/dev/null; echo "tar: midway failure" >&2; exit 2 ;;
  $STALL:xmf) [ -e stall ] && exec sleep 30 ;;
esac
exec "$REAL_TAR" "\$@"
SH
  chmod 755 "$d/tbin/tar"
done

head -c 5000000 /dev/urandom >"$T/blob"
want=$(sha256sum <"$T/blob")
set +e
timeout 120 "$PODMUX" cp -l app=web "$T/blob" :./ >"$T/o" 2>"$T/e"; rc=$?
set -e
cat "$T/e"
expect_eq "$rc" 255 "exit status"
grep -q "$NOTAR: no tar in container main" "$T/e" || fail "no-tar pod not named"
expect_eq "$(grep -c "no tar" "$T/e")" 1 "one line for the pod without tar"
grep -q "$MIDWAY" "$T/e" || fail "midway pod not reported"
grep -q "4 ok, 1 non-zero, 1 failed, 0 skipped (6 pods)" "$T/e" || fail "summary to pods"
for p in "${PODS[@]:2}"; do
  expect_eq "$(sha256sum <"$T/state/pods/default/$p/main/blob")" "$want" "$p: copy"
done

# From the pods: the midway pod's stream ends early and fails; the others arrive whole.
set +e
timeout 120 "$PODMUX" cp -l app=web :blob "$T/back" >"$T/o" 2>"$T/e"; rc=$?
set -e
cat "$T/e"
expect_eq "$rc" 255 "exit status back"
grep -q "4 ok, 0 non-zero, 2 failed, 0 skipped (6 pods)" "$T/e" || \
  grep -q "4 ok, 1 non-zero, 1 failed, 0 skipped (6 pods)" "$T/e" || fail "summary from pods"
for p in "${PODS[@]:2}"; do
  expect_eq "$(sha256sum <"$T/back/$p")" "$want" "$p: copy back"
done

# A pod that stops reading: --timeout ends it and the others finish (the slowest sets the
# pace only until then).
touch "$T/state/pods/default/$STALL/main/stall"
set +e
timeout 120 "$PODMUX" cp -l app=web --timeout 5s --max-lag 1Mi "$T/blob" :./again.bin \
  >"$T/o" 2>"$T/e"; rc=$?
set -e
cat "$T/e"
grep -q "$STALL" "$T/e" || fail "stalled pod not reported"
grep -q "3 ok, 1 non-zero, 2 failed, 0 skipped (6 pods)" "$T/e" || fail "summary with a stall"
for p in "${PODS[@]:3}"; do
  expect_eq "$(sha256sum <"$T/state/pods/default/$p/main/again.bin")" "$want" "$p: copy past a stall"
done
echo ok
