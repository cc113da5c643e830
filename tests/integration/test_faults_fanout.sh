#!/usr/bin/env bash
# test_faults_fanout.sh: issue 9's stream faults (drop, close without status, malformed frame,
# stall under keepalive, upgrade timeout, reset) for `podmux exec` over several pods, each next to
# healthy pods, by name and (all at once) by selector: exit 255 (1 when every pod ran and some
# exited non-zero), the summary line first, one line per failed pod naming what happened, the
# healthy pods' output whole, the faulty pod's output up to the fault, no sanitizer report, no
# token printed. Connection/TLS/HTTP faults in fan-out: test_faults_fanout_conn.sh; single-pod
# forms: test_faults_cli.sh; library: itest_faults.c; oversized messages and credential plugins:
# test_faults_limits.sh. Cluster: data/faults-fanout-cluster.yaml.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99" # a leak must not pass for exit 255
TOKEN=fanout-faults-token-91c0
start_sim --cluster "$PMX_SRC/tests/integration/data/faults-fanout-cluster.yaml" --token "$TOKEN"
CA="$T/state/ca.crt"

. "$PMX_SRC/tests/integration/faults_lib.sh"

X900=$(head -c 900 /dev/zero | tr '\0' x)
Y900=$(head -c 900 /dev/zero | tr '\0' y)
# Three writes far enough apart to be three frames even on a loaded machine: the drop after 1000
# bytes of frames lets "hello" (8 bytes) and the x's (905) through, never the y's.
SCRIPT="printf hello; sleep 0.4; head -c 900 /dev/zero | tr '\\0' x; sleep 0.4; head -c 900 /dev/zero | tr '\\0' y; echo"
FULL="hello$X900$Y900"
# lost N: the line for a connection lost after N bytes of output.
lost() { echo "connection to 127\.0\.0\.1:[0-9]+ lost after $1 bytes; the command's exit status is unknown"; }
NOSTATUS="the server closed the session without sending an exit status; the command's exit status is unknown"

# ---- stream faults: one pod fails, its neighbours finish -----------------------------------------
# stream NAME POD MSG_REGEX WANT_POD_OUTPUT [extra podmux args]: ok-a POD ok-b by name, prefix
# output: exit 255, the summary, POD's line, everyone's output.
stream() {
  local name=$1 pod=$2 re=$3 pout=$4; shift 4
  local want_out="ok-a $FULL
ok-b $FULL${pout:+
$pod $pout}"
  fo "$name" 255 "$@" exec -q ok-a "$pod" ok-b -- sh -c "$SCRIPT"
  summary "$T/$name.err" 2 0 1 3
  lines "$T/$name.err" "$name" "podmux: 2 ok, 0 non-zero, 1 failed, 0 skipped \(3 pods\)" "  $pod: $re"
  expect_eq "$(sort "$T/$name.out")" "$(echo "$want_out" | sort)" "$name: output"
}
DROP_RE=$(lost 905)
NOSTATUS_RE=$NOSTATUS
MALFORMED_RE="WebSocket protocol error from the server: .*"
STALL_RE="no data and no pong from 127\.0\.0\.1:[0-9]+ for [0-9.]+ s; the command's exit status is unknown"
DELAY_RE="127\.0\.0\.1:[0-9]+ did not answer the upgrade request within 1 s"
stream drop f-drop "$DROP_RE" "hello$X900"
stream nostatus f-nostatus "$NOSTATUS_RE" "$FULL"
stream malformed f-malformed "$MALFORMED_RE" ""
stream stall f-stall "$STALL_RE" "" --keepalive 100ms
stream upgrade-timeout f-delay "$DELAY_RE" "" --request-timeout 1s

# A selector over all of these at once (and two healthy pods): each fault on its own line.
fo selector 255 --keepalive 100ms --request-timeout 1s \
  exec -q -l 'case in (ok,drop,nostatus,malformed,stall,delay)' -- sh -c "$SCRIPT"
lines "$T/selector.err" "selector" "podmux: 2 ok, 0 non-zero, 5 failed, 0 skipped \(7 pods\)" \
  "  f-drop: $DROP_RE" "  f-nostatus: $NOSTATUS_RE" "  f-malformed: $MALFORMED_RE" \
  "  f-stall: $STALL_RE" "  f-delay: $DELAY_RE"
expect_eq "$(sort "$T/selector.out")" "$(printf '%s\n' "ok-a $FULL" "ok-b $FULL" "f-drop hello$X900" \
  "f-nostatus $FULL" | sort)" "selector: output"

# -o group: each pod's output after its header, the cut one included; headers on their own lines.
fo group 255 exec -q -o group f-drop ok-a -- sh -c "$SCRIPT"
/usr/bin/python3 - "$T/group.out" "hello$X900" "$FULL" <<'PY' || fail "group: $(head -c 600 "$T/group.out")"
import re, sys
text = open(sys.argv[1]).read()
parts = re.split(r"^(=== .* ===)\n", text, flags=re.M)
assert parts[0] == "", "text before the first header: %r" % parts[0][:80]
groups = {re.match(r"=== (\S+) ", parts[i]).group(1): (parts[i], parts[i + 1]) for i in range(1, len(parts), 2)}
assert sorted(groups) == ["f-drop", "ok-a"], sorted(groups)
h, body = groups["f-drop"]
assert re.fullmatch(r"=== f-drop \(connection to 127\.0\.0\.1:\d+ lost after 905 bytes; the command's "
                    r"exit status is unknown, [\d.]+s\) ===", h), h
assert body.rstrip("\n") == sys.argv[2] and body.count("\n") <= 1, body[-20:]
h, body = groups["ok-a"]
assert re.fullmatch(r"=== ok-a \(exit 0, [\d.]+s\) ===", h), h
assert body == sys.argv[3] + "\n", body[-20:]
print("ok   group: headers on their own lines, f-drop's 905 bytes, ok-a whole")
PY
# One pod: "(1 pod)".
fo one 255 exec -q -l case=drop -c nope -- true
lines "$T/one.err" "one pod" "podmux: 0 ok, 0 non-zero, 1 failed, 0 skipped \(1 pod\)" \
  "  f-drop: container nope is not valid for pod f-drop"

# JSON: the drop as data (error code, bytes, exit_code null) and the partial output exact.
fo drop-json 255 exec -q -o json ok-a f-drop -- sh -c "$SCRIPT"
/usr/bin/python3 - "$T/drop-json.out" "hello$X900" "$FULL" <<'PY' || fail "drop json"
import json, sys
res, out = {}, {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["type"] == "result":
        res[o["pod"]] = o
    else:
        out.setdefault(o["pod"], []).append(o["data"])
d = res["f-drop"]
assert d["exit_code"] is None and d["error_code"] == "PMX_ELOST" and d["attempts"] == 1, d
assert d["bytes_out"] == 905, d
assert "".join(out["f-drop"]) == sys.argv[2], out["f-drop"]
assert res["ok-a"]["exit_code"] == 0 and "".join(out["ok-a"]) == sys.argv[3] + "\n"
print("ok   drop json: PMX_ELOST, 905 bytes, exit_code null; ok-a whole")
PY

# The remote codes pass through: non-zero exits (one coalesced with its status) give 1, not 255.
fo remote-codes 1 exec -q ok-a f-coalesce -- sh -c 'echo hi; exit 7'
lines "$T/remote-codes.err" "remote codes" "podmux: 0 ok, 2 non-zero, 0 failed, 0 skipped \(2 pods\)" \
  "  ok-a: exit 7" "  f-coalesce: exit 7"
expect_eq "$(sort "$T/remote-codes.out")" "$(printf 'f-coalesce hi\nok-a hi')" "remote codes: output"

# Last: a reset right after the 101 (the sim once crashed on it); the sim must still serve.
stream reset f-reset "$(lost 0)" ""
fo after-reset 0 exec -q ok-a ok-b -- echo alive
expect_eq "$(sort "$T/after-reset.out")" "$(printf 'ok-a alive\nok-b alive')" "a fan-out after the resets"
echo "PASS ($SECONDS s)"
