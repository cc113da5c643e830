#!/usr/bin/env bash
# test_faults_limits.sh: issue 9's fault matrix at the CLI for the faults podmux-sim cannot make
# and for credential plugins, each as a single-pod exec, a fan-out over named pods and a fan-out
# over a selector:
#  - a message over the maximum (32 MiB, the CLI has no flag for it): one frame announcing
#    32 MiB + 1, and a message fragmented into frames that are each under the limit; the output
#    before it is delivered, podmux closes with 1009, one line, exit 255. A message of exactly
#    32 MiB is accepted byte for byte. Served by data/hostile_apiserver.py with data/limits_scenarios.py (plain HTTP).
#  - an exec credential plugin that fails, prints garbage, prints nothing or the wrong version:
#    one line naming what went wrong, exit 255, no output, no sanitizer report.
# A plugin that hangs: test_faults_plugin.sh.
. "$PMX_SRC/tests/integration/lib.sh"
. "$PMX_SRC/tests/integration/faults_lib.sh" # fo: one podmux run, its exit code, no token
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99" # a leak must not pass for exit 255
TOKEN=limits-token-4b1d2e
start_sim --cluster "$PMX_SRC/tests/integration/data/faults-cluster.yaml" --token "$TOKEN"
CA="$T/state/ca.crt"
MIB32=33554432

# sorted_eq FILE WANT WHAT: FILE's lines, sorted, equal WANT's (lines, any order).
sorted_eq() { expect_eq "$(sort "$1")" "$(printf '%s\n' "$2" | sort)" "$3"; }

# ---- oversized messages ----------------------------------------------------------------------
/usr/bin/python3 "$PMX_SRC/tests/integration/data/hostile_apiserver.py" \
  --script "$PMX_SRC/tests/integration/data/limits_scenarios.py" "$T/fake.log" \
  >"$T/fake.port" 2>"$T/fake.err" &
FAKE=$!
trap 'rc=$?; kill $FAKE 2>/dev/null; (exit $rc); cleanup' EXIT # keep the test's exit status
for _ in $(seq 100); do [ -s "$T/fake.port" ] && break; sleep 0.1; done
[ -s "$T/fake.port" ] || fail "fake apiserver did not start: $(cat "$T/fake.err")"
FAKE_URL="http://127.0.0.1:$(cat "$T/fake.port")"
# closes POD: the close codes podmux sent to the fake server for POD's sessions, one a line,
# once the server logged the end of POD's connection (its reader thread may lag podmux's exit).
closes() {
  for _ in $(seq 100); do grep -q "^$1 end$" "$T/fake.log" 2>/dev/null && break; sleep 0.1; done
  awk -v p="$1" '$1 == p && $2 == "close" {print $3}' "$T/fake.log"
}
TOO_BIG="WebSocket protocol error from the server: message too big (the limit is 33554432 bytes)"

fo big 255 --server "$FAKE_URL" exec -q big -- cmd
expect_eq "$(cat "$T/big.err")" "podmux: default/big: $TOO_BIG" "one frame over the limit"
expect_eq "$(cat "$T/big.out")" hello "output before the oversized frame"
fo bigfrag 255 --server "$FAKE_URL" exec -q bigfrag -- cmd
expect_eq "$(cat "$T/bigfrag.err")" "podmux: default/bigfrag: $TOO_BIG" "fragments over the limit"
expect_eq "$(cat "$T/bigfrag.out")" hello "output before the oversized message"
fo exact 0 --server "$FAKE_URL" exec -q exact -- cmd
[ ! -s "$T/exact.err" ] || fail "exact: stderr: $(cat "$T/exact.err")"
expect_eq "$(wc -c <"$T/exact.out")" $((6 + MIB32 - 1)) "bytes of a message of exactly 32 MiB"
expect_eq "$(head -c 6 "$T/exact.out")" hello "head of the 32 MiB run"
expect_eq "$(tail -c +7 "$T/exact.out" | tr -d z | wc -c)" 0 "the 32 MiB message is all z"
rm -f "$T/exact.out"
expect_eq "$(closes big)" 1009 "close code for one oversized frame"
expect_eq "$(closes bigfrag)" 1009 "close code for an oversized fragmented message"
expect_eq "$(closes exact)" 1000 "close code after a message at the limit"

# Fan-out, named pods: the others are unaffected and each pod's output before the fault arrives.
fo fo-big 255 --server "$FAKE_URL" exec -q fine big bigfrag -- cmd
sorted_eq "$T/fo-big.out" "fine hello
big hello
bigfrag hello" "fan-out output up to the oversized messages"
sorted_eq "$T/fo-big.err" "podmux: 1 ok, 0 non-zero, 2 failed, 0 skipped (3 pods)
  big: $TOO_BIG
  bigfrag: $TOO_BIG" "fan-out summary"
expect_eq "$(head -1 "$T/fo-big.err")" "podmux: 1 ok, 0 non-zero, 2 failed, 0 skipped (3 pods)" \
  "summary first"
# Fan-out over a selector (size=small: fine, big), JSON: exact error codes and output per pod.
fo sel-big 255 --server "$FAKE_URL" exec -q -l size=small -o json -- cmd
/usr/bin/python3 - "$T/sel-big.out" <<'PY' || fail "selector fan-out results (json)"
import json, sys
res, out = {}, {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["type"] == "result":
        res[o["pod"]] = o
    elif o["type"] == "output":
        assert o["stream"] == "stdout", o
        out.setdefault(o["pod"], []).append(o["data"])
out = {p: "".join(v) for p, v in out.items()}
assert sorted(res) == ["big", "fine"], sorted(res)
for p in ("big",):
    r = res[p]
    assert r["exit_code"] is None and r["error_code"] == "PMX_EPROTO", r
    assert r["error"] == "WebSocket protocol error from the server: message too big (the limit is 33554432 bytes)", r
for p in ("big", "fine"):
    assert out[p] == "hello\n", (p, out[p][:40])
assert res["fine"]["exit_code"] == 0 and res["fine"]["error"] is None, res["fine"]
print("ok   selector fan-out json: big PMX_EPROTO after 'hello', fine whole")
PY
expect_eq "$(cat "$T/sel-big.err")" "podmux: 1 ok, 0 non-zero, 1 failed, 0 skipped (2 pods)
  big: $TOO_BIG" "selector fan-out summary"

# ---- credential plugins ----------------------------------------------------------------------
# plugin NAME SCRIPT-BODY: writes $T/NAME.sh and $T/NAME.kubeconfig (server: the sim).
plugin() {
  printf '#!/bin/sh\n%s\n' "$2" >"$T/$1.sh"
  chmod +x "$T/$1.sh"
  plugin_kubeconfig "$T/$1.sh" "$T/$1.kubeconfig"
}
# plugin_case NAME WANT_LINE_REGEX: single, named fan-out and selector; the plugin's own stderr
# (if any) may come first, podmux's lines are the last ones.
plugin_case() {
  local name=$1 re=$2 k="$T/$1.kubeconfig" e
  fo "$name-single" 255 --kubeconfig "$k" exec -q ok -- echo ran
  e=$(grep -v '^plugin says:' "$T/$name-single.err")
  expect_eq "$(echo "$e" | wc -l)" 1 "$name single: podmux lines"
  echo "$e" | grep -Eqx "podmux: $re" || fail "$name single: [$e] !~ /podmux: $re/"
  [ ! -s "$T/$name-single.out" ] || fail "$name single: output without credentials"
  fo "$name-fanout" 255 --kubeconfig "$k" exec -q ok f-coalesce -- echo ran
  e=$(grep -v '^plugin says:' "$T/$name-fanout.err")
  expect_eq "$(echo "$e" | head -1)" "podmux: 0 ok, 0 non-zero, 2 failed, 0 skipped (2 pods)" \
    "$name fan-out summary"
  expect_eq "$(echo "$e" | wc -l)" 3 "$name fan-out: podmux lines"
  echo "$e" | grep -Eqx "  ok: $re" || fail "$name fan-out: no line for ok: $e"
  echo "$e" | grep -Eqx "  f-coalesce: $re" || fail "$name fan-out: no line for f-coalesce: $e"
  [ ! -s "$T/$name-fanout.out" ] || fail "$name fan-out: output without credentials"
  fo "$name-selector" 255 --kubeconfig "$k" exec -q -l app=ok -- echo ran
  e=$(grep -v '^plugin says:' "$T/$name-selector.err")
  expect_eq "$(echo "$e" | wc -l)" 1 "$name selector: podmux lines"
  echo "$e" | grep -Eqx "podmux: $re" || fail "$name selector: [$e] !~ /podmux: $re/"
  [ ! -s "$T/$name-selector.out" ] || fail "$name selector: output without credentials"
}
ESC_T=$(printf '%s' "$T" | sed 's/[.[\*^$()+?{|]/\\&/g')
plugin plugin-ok "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"$TOKEN\"}}'"
fo plugin-ok 0 --kubeconfig "$T/plugin-ok.kubeconfig" exec -q ok f-coalesce -- echo ran
sorted_eq "$T/plugin-ok.out" "ok ran
f-coalesce ran" "a working plugin (control)"

plugin plugin-fail "echo 'plugin says: no credentials today' >&2; exit 3"
plugin_case plugin-fail "exec: executable $ESC_T/plugin-fail\.sh failed with exit code 3"
grep -qx 'plugin says: no credentials today' "$T/plugin-fail-single.err" ||
  fail "the plugin's stderr is not passed on: $(cat "$T/plugin-fail-single.err")"
plugin plugin-signal 'kill -9 $$'
plugin_case plugin-signal "exec: executable $ESC_T/plugin-signal\.sh was killed by signal 9"
plugin plugin-garbage "echo 'this is not an ExecCredential'"
plugin_case plugin-garbage "exec plugin \"$ESC_T/plugin-garbage\.sh\": decoding stdout: couldn't get version/kind; json parse error"
plugin plugin-empty "true"
plugin_case plugin-empty "exec plugin \"$ESC_T/plugin-empty\.sh\": decoding stdout: couldn't get version/kind; json parse error"
plugin plugin-version "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"$TOKEN\"}}'"
plugin_case plugin-version "exec plugin \"$ESC_T/plugin-version\.sh\" is configured to use API version client\.authentication\.k8s\.io/v1, plugin returned version client\.authentication\.k8s\.io/v1beta1"
plugin plugin-notoken "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{}}'"
fo plugin-notoken-single 255 --kubeconfig "$T/plugin-notoken.kubeconfig" exec -q ok -- echo ran
expect_eq "$(cat "$T/plugin-notoken-single.err")" \
  "podmux: exec plugin \"$T/plugin-notoken.sh\" didn't return a token or cert/key pair" \
  "plugin without a token"
echo "PASS ($SECONDS s)"
