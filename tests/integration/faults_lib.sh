# faults_lib.sh: helpers for test_faults_fanout*.sh and test_faults_limits.sh (sourced after
# lib.sh; sets nothing else).
# Needs TOKEN (never to be printed).

# fo NAME WANT_RC podmux-args...: runs podmux (stdin /dev/null) into $T/NAME.out/.err.
fo() {
  local name=$1 want=$2 rc=0; shift 2
  local t0; t0=$(date +%s%N)
  timeout 60 "$PODMUX" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  local ms=$((($(date +%s%N) - t0) / 1000000))
  if grep -Eq 'Sanitizer|runtime error:' "$T/$name.err"; then
    fail "$name: sanitizer report: $(head -30 "$T/$name.err")"
  fi
  [ "$rc" = "$want" ] || fail "$name: exit $rc, want $want; stderr: $(cat "$T/$name.err")"
  if grep -qF "$TOKEN" "$T/$name.err" "$T/$name.out"; then fail "$name: the token was printed"; fi
  echo "ok   $name (${ms} ms): $(head -c 400 "$T/$name.err" | tr '\n' '|')"
}
# lines FILE WHAT REGEX...: FILE has exactly one line per REGEX, each matching (whole line) a
# different REGEX, in any order.
lines() {
  local file=$1 what=$2; shift 2
  /usr/bin/python3 - "$file" "$@" <<'PY' || fail "$what: $(cat "$file" | head -c 2000)"
import re, sys
got = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
if got and got[-1] == "":
    got.pop()
res = sys.argv[2:]
if len(got) != len(res):
    sys.exit("%d lines, want %d" % (len(got), len(res)))
left = list(res)
for g in got:
    m = [r for r in left if re.fullmatch(r, g)]
    if not m:
        sys.exit("line %r matches none of %r" % (g, left))
    left.remove(m[0])
PY
}
# summary FILE OK NONZERO FAILED PODS: the first line of FILE.
summary() {
  expect_eq "$(head -1 "$1")" "podmux: $2 ok, $3 non-zero, $4 failed, 0 skipped ($5 pods)" "summary of $1"
}

