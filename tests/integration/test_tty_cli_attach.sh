#!/usr/bin/env bash
# podmux attach -it to a container started with a tty (a shell as its main process), in tmux:
# kubectl's prompt note, typing reaches the shell, the size follows the pane, ~. detaches
# (255) and the terminal is as before; attach -t to a container without a tty says so
# (kubectl's wording) and goes on without one.
. "$PMX_SRC/tests/integration/lib.sh"
. "$PMX_SRC/tests/integration/tty_lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
cat >"$T/cluster.yaml" <<'EOF'
objects:
  - kind: Pod
    metadata: {name: console}
    spec:
      containers:
        - {name: main, command: [sh], stdin: true, tty: true}
  - kind: Pod
    metadata: {name: plain}
    spec:
      containers:
        - name: main
          command: [sh, -c, "while true; do echo plain-tick; sleep 0.3; done"]
          stdin: true
EOF
start_sim --cluster "$T/cluster.yaml"
trap 'rc=$?; tmux_stop; (exit $rc); cleanup' EXIT
W=a
tmux_start $W 100 30

send $W "clear; stty -a >$T/before; $PODMUX attach -it console; echo code=\$?" Enter
wait_for $W "If you don't see a command prompt, try pressing enter." 15
send $W Enter
wait_for $W '^[#$] ?$' 10
send $W 'stty size; echo typed-$((6*7))' Enter
wait_for $W 'typed-42' 5
screen $W | grep -q '^30 100' || fail "size: $(screen $W)"
send $W Enter
send $W '~.'
wait_for $W 'code=[0-9]+' 10
screen $W | grep -q 'code=255' || fail "~. code: $(screen $W | grep code=)"
send $W "r=\$(stty -a >$T/after; cmp -s $T/before $T/after && echo SAME || echo DIFF); echo RESULT=\$r" Enter
wait_for $W 'RESULT=(SAME|DIFF)' 5
screen $W | grep -q RESULT=SAME || { diff "$T/before" "$T/after"; fail "terminal not restored"; }

# -t against a container without a tty: kubectl's error line, then plain output
send $W "clear; $PODMUX attach -it --timeout 2s plain 2>$T/e; echo code2=\$?" Enter
wait_for $W 'code2=[0-9]+' 15
screen $W | grep -q plain-tick || fail "no output from plain: $(screen $W)"
grep -qx 'error: Unable to use a TTY - container main did not allocate one' "$T/e" ||
  fail "no tty note: $(cat "$T/e")"
tmux_stop
echo PASS
