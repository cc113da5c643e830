#!/usr/bin/env bash
# podmux exec over many pods against podmux-sim --pods 200: each pod exactly once with its
# prefix, -P bounds the sessions at once, --timeout ends slow ones (255), json lines parse,
# non-zero exits give 1, the summary names the pods that did not succeed.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --pods 200
pod_names app=web | sort >"$T/pods"
expect_eq "$(wc -l <"$T/pods")" 200 "sim pods"
# The other checks use 24 named pods, to stay quick on a loaded machine.
mapfile -t SOME < <(sed -n 1,24p "$T/pods")

# -P 5 first, on a fresh sim, so the sim's peak of concurrent sessions is ours.
timeout 60 "$PODMUX" exec -P 5 "${SOME[@]}" -- sh -c 'sleep 0.2; echo $HOSTNAME' >"$T/o" 2>"$T/e"
peak=$(sim_get /podmux-sim/stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionsPeak"])')
[ "$peak" -le 5 ] || fail "-P 5 but $peak sessions at once"
[ "$peak" -ge 2 ] || fail "-P 5 ran only $peak at once"
expect_eq "$(wc -l <"$T/o")" 24 "-P 5 lines"

# Every pod exactly once, prefixed with its name, exit 0, summary on stderr.
start=$(date +%s%N)
timeout 60 "$PODMUX" exec -l app=web -- sh -c 'echo $HOSTNAME' >"$T/o" 2>"$T/e"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "200 pods in $ms ms"
awk '$1 != $2 { print "bad line: " $0; bad=1 } END { exit bad }' "$T/o" || fail "prefix != hostname"
awk '{print $1}' "$T/o" | sort >"$T/got"
cmp -s "$T/got" "$T/pods" || fail "each pod once: $(diff "$T/got" "$T/pods" | head -5)"
expect_eq "$(tail -1 "$T/e")" "podmux: 200 ok, 0 non-zero, 0 failed, 0 skipped (200 pods)" "summary"

# Lines are never mixed: 24 pods each print 200 lines in two writes each.
timeout 60 "$PODMUX" exec "${SOME[@]}" -- sh -c \
  'i=0; while [ $i -lt 200 ]; do printf "%s-" $HOSTNAME; printf "%s\n" $HOSTNAME; i=$((i+1)); done' \
  >"$T/o" 2>"$T/e"
awk '$2 != $1 "-" $1 { print "mixed: " $0; bad=1 } END { exit bad }' "$T/o" || fail "mixed lines"
expect_eq "$(wc -l <"$T/o")" 4800 "line count"

# Non-zero exits: 1 and the pods listed; --timeout: 255 and quick.
set +e
timeout 60 "$PODMUX" exec -q "${SOME[@]}" -- sh -c 'case $HOSTNAME in *[0-9a-m]) exit 3;; esac' \
  >"$T/o" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 1 "some non-zero"
head -1 "$T/e" | grep -Eq '^podmux: [0-9]+ ok, [1-9][0-9]* non-zero, 0 failed' || fail "$(head -1 "$T/e")"
grep -q ': exit 3$' "$T/e" || fail "no exit 3 listed"
start=$(date +%s)
set +e
timeout 60 "$PODMUX" exec --timeout 1s -P 0 "${SOME[@]}" -- sleep 30 >"$T/o" 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "--timeout"
[ $(( $(date +%s) - start )) -lt 15 ] || fail "--timeout took too long"
head -1 "$T/e" | grep -q '0 ok, 0 non-zero, 24 failed' || fail "timeout summary: $(head -1 "$T/e")"

# A reader that goes away (EPIPE) stops everything quickly: 141, like a pipeline, no summary.
set +e
timeout 20 "$PODMUX" exec "${SOME[@]}" -- yes 2>"$T/e" | head -2 >"$T/o"; rc=${PIPESTATUS[0]}
set -e
expect_eq "$rc" 141 "EPIPE"
expect_eq "$(wc -l <"$T/o")" 2 "head -2"
expect_eq "$(cat "$T/e")" "" "no summary after EPIPE"

# json: every line parses; one result per pod; output data equals the hostname line.
timeout 60 "$PODMUX" exec -o json "${SOME[@]}" -- sh -c 'echo $HOSTNAME; echo oops >&2' \
  >"$T/o" 2>"$T/e"
/usr/bin/python3 - "$T/o" <<'PY'
import json, sys
out, err, res = {}, {}, {}
for n, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    o = json.loads(line)
    if o["type"] == "output":
        (out if o["stream"] == "stdout" else err)[o["pod"]] = o["data"]
    else:
        assert o["type"] == "result", o
        assert o["exit_code"] == 0 and o["error"] is None, o
        assert o["bytes_out"] == len(o["pod"]) + 1 + 5, o
        res[o["pod"]] = o
assert len(res) == 24, len(res)
assert all(out[p] == p + "\n" for p in res), "stdout data"
assert all(err[p] == "oops\n" for p in res), "stderr data"
PY

# group: a header per pod followed by its output, stderr to stderr.
timeout 60 "$PODMUX" exec -o group -P 8 "${SOME[@]}" -- sh -c 'echo a; echo b' >"$T/o" 2>"$T/e"
expect_eq "$(grep -c '^=== web-.* (exit 0, ' "$T/o")" 24 "group headers"
awk '/^===/ { getline a; getline b; if (a != "a" || b != "b") bad=1 } END { exit bad }' "$T/o" ||
  fail "group bodies"

# group keeps a pod's whole output however large (past 1 MiB it goes to an unlinked temporary
# file in $TMPDIR): 4 pods x 20 MiB of stdout and 2 MiB of stderr, each section intact, in order,
# nothing left in $TMPDIR. Before, output was cut at 16 MiB per pod.
mkdir -p "$T/tmp"
BIG='seq 1 2800000; seq 1 300000 >&2; printf end; printf end >&2'
TMPDIR="$T/tmp" timeout 120 "$PODMUX" exec -o group -P 2 "${SOME[@]:0:4}" -- sh -c "$BIG" \
  >"$T/o" 2>"$T/e" || fail "group, big: exit $?: $(tail -3 "$T/e")"
expect_eq "$(grep -c '^=== web-.* (exit 0, ' "$T/o")" 4 "group headers, big"
want=$( (seq 1 2800000; printf 'end\n') | md5sum)
awk -v dir="$T" '/^=== / { n++; next } { print > (dir "/part" n) }' "$T/o"
for i in 1 2 3 4; do expect_eq "$(md5sum <"$T/part$i")" "$want" "group section $i, big"; done
want=$( (seq 1 300000; printf 'end\n') | md5sum)
expect_eq "$(grep -c '^end$' "$T/e")" 4 "group stderr sections, big"
expect_eq "$(grep -c '^=== web-.* (exit 0, ' "$T/e")" 4 "group stderr headers (two files), big"
expect_eq "$(grep -v '^podmux: \|^=== ' "$T/e" | md5sum)" "$( (for i in 1 2 3 4; do seq 1 300000; printf 'end\n'; done) | md5sum)" \
  "group stderr, big"
expect_eq "$(ls -A "$T/tmp")" "" "temporary files left"
# The same through a reader that starts 2 s late: writing out pauses and resumes, nothing lost.
TMPDIR="$T/tmp" timeout 120 "$PODMUX" exec -o group "${SOME[@]:0:2}" -- sh -c "$BIG" 2>"$T/e" |
  { sleep 2; cat; } >"$T/o"
expect_eq "$(grep -c '^=== web-.* (exit 0, ' "$T/o")" 2 "group headers, slow reader"
want=$( (seq 1 2800000; printf 'end\n') | md5sum)
rm -f "$T"/part*
awk -v dir="$T" '/^=== / { n++; next } { print > (dir "/part" n) }' "$T/o"
for i in 1 2; do expect_eq "$(md5sum <"$T/part$i")" "$want" "group section $i, slow reader"; done
# A temporary directory that cannot be used: the first 1 MiB of each stream, and a line naming
# what was lost and why.
TMPDIR="$T/no-such-dir" timeout 60 "$PODMUX" exec -o group "${SOME[0]}" -- sh -c "$BIG" \
  >"$T/o" 2>"$T/e" || true
grep -q "podmux: ${SOME[0]}: [0-9]* bytes of output lost: temporary file in $T/no-such-dir: no such file or directory" "$T/e" ||
  fail "no message for a lost spill: $(grep '^podmux' "$T/e")"
echo "ok   -o group: 4 x 22 MiB intact, temporary files gone, a failing TMPDIR named"

# -i broadcasts stdin to every pod (read once, each gets all of it and EOF; with -P 5 the later
# sessions get it replayed).
seq 1 20000 >"$T/in"
want=$(sha256sum <"$T/in" | cut -d' ' -f1)
timeout 60 "$PODMUX" exec -i -P 5 -o json "${SOME[@]}" -- sh -c 'sha256sum | cut -d" " -f1' \
  <"$T/in" >"$T/o" 2>"$T/e"
/usr/bin/python3 - "$T/o" "$want" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
outs = [o["data"] for o in got if o["type"] == "output"]
assert len(outs) == 24 and all(d == sys.argv[2] + "\n" for d in outs), outs[:3]
PY
echo PASS
