#!/usr/bin/env bash
# podmux cp against podmux-sim (each pod in its own working directory): a tree with a binary
# file, a nested directory and a symlink goes to 20 pods and comes back from each with every
# sha256 equal; modes kept on the way in (tar xmf in the pod); kubectl cp reads what podmux cp
# wrote and the other way round; one pod's layout as kubectl's (file, into a directory, renamed);
# -o json; usage errors in one line.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --pods 20
STATE="$T/state/pods/default"
mapfile -t PODS < <(pod_names app=web | sort)
expect_eq "${#PODS[@]}" 20 "sim pods"
P1=${PODS[0]}

mkdir -p "$T/src/tree/sub/deep"
head -c 3000000 /dev/urandom >"$T/src/tree/blob.bin"
printf '#!/bin/sh\necho hi\n' >"$T/src/tree/sub/deep/run.sh"
chmod 755 "$T/src/tree/sub/deep/run.sh"
ln -s sub/deep/run.sh "$T/src/tree/link"
(cd "$T/src/tree" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/want"

# To 20 pods at once, then back from each into OUT/POD/.
timeout 120 "$PODMUX" cp -l app=web "$T/src/tree" :. >"$T/o" 2>"$T/e" || { cat "$T/e"; fail "cp to pods"; }
expect_eq "$(tail -1 "$T/e")" "podmux: 20 ok, 0 non-zero, 0 failed, 0 skipped (20 pods)" "summary to"
for p in "${PODS[@]}"; do
  [ -L "$STATE/$p/main/tree/link" ] || fail "$p: symlink not kept"
  [ -x "$STATE/$p/main/tree/sub/deep/run.sh" ] || fail "$p: mode not kept"
done
timeout 120 "$PODMUX" cp -l app=web :tree "$T/out" >"$T/o" 2>"$T/e" || { cat "$T/e"; fail "cp from pods"; }
expect_eq "$(tail -1 "$T/e")" "podmux: 20 ok, 0 non-zero, 0 failed, 0 skipped (20 pods)" "summary from"
expect_eq "$(ls "$T/out" | wc -l)" 20 "one directory per pod"
for p in "${PODS[@]}"; do
  (cd "$T/out/$p" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/got"
  cmp -s "$T/got" "$T/want" || fail "$p: sha256 differ: $(diff "$T/got" "$T/want" | head -3)"
  expect_eq "$(readlink "$T/out/$p/link")" "sub/deep/run.sh" "$p: symlink back"
done

# -o json: one result per pod.
timeout 60 "$PODMUX" cp -l app=web -o json :tree/blob.bin "$T/json" >"$T/o" 2>"$T/e" || fail "json run"
/usr/bin/python3 - "$T/o" <<'PY' || fail "json results"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert len(rs) == 20 and all(r["type"] == "result" and r["exit_code"] == 0 for r in rs), rs[:2]
PY
cmp -s "$T/json/$P1" "$T/src/tree/blob.bin" || fail "a single file lands as DEST/POD"

# One pod, kubectl's layouts: into an existing directory, or named by PATH.
mkdir -p "$STATE/$P1/main/dir"
"$PODMUX" cp "$T/src/tree/blob.bin" "$P1:dir" || fail "cp into a directory"
cmp -s "$STATE/$P1/main/dir/blob.bin" "$T/src/tree/blob.bin" || fail "into dir/blob.bin"
"$PODMUX" cp "$T/src/tree/blob.bin" "default/$P1:renamed.bin" || fail "cp NS/POD:PATH"
cmp -s "$STATE/$P1/main/renamed.bin" "$T/src/tree/blob.bin" || fail "named by PATH"
"$PODMUX" cp "$P1:renamed.bin" "$T/one.bin" || fail "cp from one pod"
cmp -s "$T/one.bin" "$T/src/tree/blob.bin" || fail "one pod: DEST is the file"
mkdir -p "$T/intodir"
"$PODMUX" cp "$P1:renamed.bin" "$T/intodir" || fail "cp a file into an existing directory"
cmp -s "$T/intodir/renamed.bin" "$T/src/tree/blob.bin" || fail "DEST a directory: DEST/FILE"

# kubectl cp reads what podmux cp wrote, and podmux cp what kubectl cp wrote.
if [ -x /usr/bin/kubectl ]; then
  kubectl cp "$P1:renamed.bin" "$T/k.bin" >/dev/null 2>&1 || fail "kubectl cp from pod"
  cmp -s "$T/k.bin" "$T/src/tree/blob.bin" || fail "kubectl read a different file"
  kubectl cp "$T/src/tree" "$P1:ktree" >/dev/null 2>&1 || fail "kubectl cp to pod"
  "$PODMUX" cp "$P1:ktree" "$T/kback" || fail "podmux cp of kubectl's copy"
  (cd "$T/kback" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/got"
  cmp -s "$T/got" "$T/want" || fail "kubectl -> podmux sha256 differ"
else
  echo "no kubectl: interop part skipped"
fi

# Workload targets, and usage errors in one line, exit 255.
"$PODMUX" cp "deploy/web:tree/blob.bin" "$T/w.bin" || fail "deploy/web:PATH"
cmp -s "$T/w.bin" "$T/src/tree/blob.bin" || fail "workload copy differs"
set +e
"$PODMUX" cp "$T/src/tree" "$T/nowhere" 2>"$T/e"; rc=$?
expect_eq "$rc" 255 "two local paths"
expect_eq "$(wc -l <"$T/e")" 1 "one line"
"$PODMUX" cp "$T/src/tree" ":x" 2>"$T/e"; rc=$?
expect_eq "$rc" 255 ":PATH without a selector"
grep -q 'names no pod' "$T/e" || fail "message: $(cat "$T/e")"
set -e
echo "ok"
