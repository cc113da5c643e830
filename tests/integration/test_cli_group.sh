#!/usr/bin/env bash
# -o group (issue 14.1, 13.11): a pod's section is its header, then all of its output (stdout,
# then stderr), and no other pod's line comes between: with stdout and stderr on one pipe, on
# two files (each file then has its own headers), and on a terminal (script(1)'s pty). The
# output kept per pod is capped by --group-max; past it, one line says the output was cut.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --pods 24
# Each pod interleaves stdout and stderr, with lines long enough that the streams queue.
CMD='l=$(seq -s, 1 60); for i in $(seq 1 200); do echo "out $i $HOSTNAME $l"; echo "err $i $HOSTNAME $l" >&2; done'

check_sections() {  # FILE WANT_KINDS: every line under a header names that header's pod;
  # per section, stdout lines come before stderr lines; 24 sections, each of WANT_KINDS x 200
  awk -v kinds="$2" '
    /^=== / { if (pod != "") close_section(); pod = $2; seen_err = 0; nout = nerr = 0; n++; next }
    /^podmux: / { next }
    { if ($3 != pod) { print "line of " $3 " in the section of " pod; bad = 1; exit 1 }
      if ($1 == "err") { seen_err = 1; nerr++ }
      else if ($1 == "out") { if (seen_err) { print "stdout after stderr in " pod; bad = 1; exit 1 }; nout++ }
      else { print "odd line: " $0; bad = 1; exit 1 } }
    function close_section() {
      if ((kinds ~ /out/ && nout != 200) || (kinds ~ /err/ && nerr != 200) ||
          (kinds !~ /out/ && nout) || (kinds !~ /err/ && nerr)) {
        print pod ": " nout " stdout, " nerr " stderr lines"; bad = 1; exit 1 }
    }
    END { if (bad) exit 1; if (pod != "") close_section(); if (n != 24) { print n " sections"; exit 1 } }' "$1"
}

# One pipe (2>&1): one header per pod.
for round in 1 2 3; do
  timeout 60 "$PODMUX" exec -l app=web -o group -- sh -c "$CMD" 2>&1 | cat >"$T/one"
  check_sections "$T/one" out,err || fail "one pipe, round $round"
  expect_eq "$(grep -c '^=== ' "$T/one")" 24 "one pipe: a header per pod"
done
tail -1 "$T/one" | grep -q '^podmux: 24 ok' || fail "the summary is not last: $(tail -1 "$T/one")"

# Two files: each has every pod's header and only its stream.
timeout 60 "$PODMUX" exec -l app=web -o group -- sh -c "$CMD" >"$T/out" 2>"$T/err"
check_sections "$T/out" out || fail "stdout file"
check_sections "$T/err" err || fail "stderr file"

# A terminal (script's pty; stdout and stderr are the same tty, as in an interactive shell).
# The progress line is "\r\e[K..." and is erased the same way: what a screen shows is what
# follows the last "\e[K" of a line.
TERM=dumb timeout 60 script -qec "$PODMUX exec -l app=web -o group -- sh -c '$CMD'" /dev/null |
  tr -d '\r' | sed 's/^.*\x1b\[K//' >"$T/tty"
check_sections "$T/tty" out,err || fail "terminal"

# --group-max: 10 KiB kept of a pod's 100 KiB, then one line.
POD=$(pod_names app=web | head -1)
timeout 60 "$PODMUX" exec "$POD" --group-max 10Ki -o group -- sh -c 'head -c 102400 /dev/zero | tr "\0" x' \
  >"$T/o" 2>"$T/e"
expect_eq "$(grep -v '^===' "$T/o" | tr -d '\n' | wc -c)" 10240 "bytes kept under --group-max"
expect_eq "$(grep -c "^podmux: $POD: output cut at 10 KiB (--group-max): 92160 bytes dropped$" "$T/e")" 1 \
  "the cut line: $(cat "$T/e")"
# 0: no cap; the default is 64 MiB.
timeout 60 "$PODMUX" exec "$POD" --group-max 0 -o group -- sh -c 'head -c 102400 /dev/zero | tr "\0" x' \
  >"$T/o" 2>"$T/e"
expect_eq "$(grep -v '^===' "$T/o" | tr -d '\n' | wc -c)" 102400 "--group-max 0"
grep -q cut "$T/e" && fail "cut without a cap"
set +e; "$PODMUX" exec "$POD" --group-max 10X -o group -- true 2>"$T/e"; rc=$?; set -e
expect_eq "$rc" 255 "bad --group-max"
grep -q 'invalid argument "10X" for "--group-max" flag' "$T/e" || fail "bad size: $(cat "$T/e")"
echo ok
