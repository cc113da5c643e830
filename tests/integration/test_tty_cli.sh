#!/usr/bin/env bash
# podmux exec -it in a real terminal (tmux): a prompt, the size before and after a resize,
# Ctrl-C reaches the pod's foreground job and the shell survives, the remote exit code comes
# back, ~? and ~. work, and the terminal's `stty -a` is the same after every way out
# (exit, ~., SIGTERM, SIGHUP, and crashes: SIGSEGV, SIGABRT).
. "$PMX_SRC/tests/integration/lib.sh"
. "$PMX_SRC/tests/integration/tty_lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --pods 3
trap 'rc=$?; tmux_stop; (exit $rc); cleanup' EXIT
W=s
tmux_start $W 100 30
PIDF="$T/podmux.pid"
# The pane runs podmux through sh so the test knows its pid (to signal it, by id).
run_podmux() {
  send $W "clear; stty -a >$T/before; sh -c 'echo \$\$ >$PIDF; exec $PODMUX exec -it deploy/web -- sh'; echo code=\$?" Enter
  wait_for $W '^[#$] ?$' 15
}
check_restored() {  # CODE WHY: podmux ended with CODE and `stty -a` is unchanged
  wait_for $W "code=[0-9]+" 10
  screen $W | grep -Eq "(^|# )code=$1\$" || fail "$2: expected code=$1: $(screen $W | grep code=)"
  send $W "r=\$(stty -a >$T/after; cmp -s $T/before $T/after && echo SAME || echo DIFF); echo RESULT=\$r" Enter
  wait_for $W 'RESULT=(SAME|DIFF)' 5
  screen $W | grep -q RESULT=SAME || { diff "$T/before" "$T/after"; fail "terminal not restored ($2)"; }
}

# prompt, size, resize, Ctrl-C, exit code
run_podmux
send $W 'stty size' Enter
wait_for $W '^30 100' 5
tm resize-window -t $W -x 90 -y 25
sleep 0.5
send $W 'clear; stty size' Enter
wait_for $W '^25 90' 5
send $W 'sleep 100' Enter
sleep 0.5
send $W C-c
sleep 0.3
send $W 'echo after-sleep=$?' Enter
wait_for $W 'after-sleep=130' 5
send $W 'echo still-$((40+2))' Enter
wait_for $W 'still-42' 5
tm resize-window -t $W -x 100 -y 30   # back, so the whole `stty -a` must match
sleep 0.3
send $W 'exit 7' Enter
check_restored 7 "exit 7"

# ~? lists the escapes, ~. disconnects with 255
run_podmux
send $W Enter
send $W '~?'
wait_for $W 'terminate connection' 5
send $W '~.'
wait_for $W 'disconnected' 5
check_restored 255 "~."

# SIGTERM, SIGHUP and SIGINT (kill, not the keyboard) to podmux while raw; SIGSEGV, SIGABRT and
# SIGUSR1 as a crash or a stray signal would (the handler restores the terminal, then dies of
# the same signal).
for sig in TERM:143 HUP:129 INT:130 SEGV:139 ABRT:134 USR1:138; do
  run_podmux
  kill -${sig%:*} "$(cat "$PIDF")"
  check_restored ${sig#*:} "SIG${sig%:*}"
  case $sig in TERM*|HUP*|INT*) # issue 14.6: the local prompt starts on a new line
    screen $W | grep -Eq "^code=${sig#*:}\$" ||
      fail "SIG${sig%:*}: code= not at the start of a line: $(screen $W | grep code=)";;
  esac
done

# Issue 14.4: the kubelet (and the sim) leave the remote command running when the stream goes
# away; with a tty, a signal to podmux first types the interrupt character, so the pod's
# foreground job ends. The jobs ignore SIGHUP (the sim's pty hangs up when the stream ends,
# which a kubelet's need not); SIGKILL (nothing typed) shows that such a job stays.
gone() {  # PATTERN: wait until no process matches (the sim's children are local processes)
  for _ in $(seq 50); do pgrep -f "$1" >/dev/null || return 0; sleep 0.1; done
  return 1
}
N=$((7000 + RANDOM % 1000))
run_podmux
send $W "trap '' HUP; sleep $N" Enter
for _ in $(seq 50); do pgrep -f "^sleep $N\$" >/dev/null && break; sleep 0.1; done
pgrep -f "^sleep $N\$" >/dev/null || fail "sleep $N did not start in the pod"
kill -TERM "$(cat "$PIDF")"
check_restored 143 "SIGTERM with a job running"
gone "^sleep $N\$" || fail "SIGTERM: the remote sleep $N is still running"
run_podmux
send $W "trap '' HUP; sleep $((N + 1))" Enter
for _ in $(seq 50); do pgrep -f "^sleep $((N + 1))\$" >/dev/null && break; sleep 0.1; done
kill -KILL "$(cat "$PIDF")"
wait_for $W "code=137" 10
sleep 1
pgrep -f "^sleep $((N + 1))\$" >/dev/null || fail "SIGKILL: the job ended anyway: the test proves nothing"
pkill -f "^sleep $((N + 1))\$" || true
send $W "stty sane" Enter

# --timeout with a tty: the interrupt character goes first too.
send $W "clear; $PODMUX exec -it deploy/web --timeout 3s -- sh -c 'trap \"\" HUP; sleep $((N + 2))'; echo code=\$?" Enter
for _ in $(seq 50); do pgrep -f "^sleep $((N + 2))\$" >/dev/null && break; sleep 0.1; done
pgrep -f "^sleep $((N + 2))\$" >/dev/null || fail "sleep $((N + 2)) did not start"
wait_for $W "code=[0-9]+" 15
gone "^sleep $((N + 2))\$" || fail "--timeout: the remote sleep $((N + 2)) is still running"
tmux_stop
echo PASS
