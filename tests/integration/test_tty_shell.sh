#!/usr/bin/env bash
# podmux shell in a real terminal (tmux).
# Lines layout, 20 pods: `echo $HOSTNAME` typed once gives 20 lines, each its own pod's name
# after that pod's prefix and nothing mixed inside a line; Ctrl-b N focuses one pod; `exit`
# ends all with 0 and `stty -a` is unchanged.
# Panes layout, 3 pods: broadcast on, each pane shows its own pod's name; broadcast off, only
# the focused pane gets the line; a window resize re-tiles and `stty size` in a pane equals the
# pane; no CPU used while idle; `exit` in all panes ends podmux with the fan-out code and the
# terminal restored.
. "$PMX_SRC/tests/integration/lib.sh"
. "$PMX_SRC/tests/integration/tty_lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --pods 20
trap 'rc=$?; tmux_stop; (exit $rc); cleanup' EXIT
W=s
PIDF="$T/podmux.pid"
ALL=$(pod_names app=web | sort)
[ "$(echo "$ALL" | wc -l)" -eq 20 ] || fail "expected 20 pods, got: $ALL"

run_shell() {  # run_shell ARGS...: podmux shell in the tmux window, its pid in $PIDF
  send $W "clear; stty -a >$T/before; sh -c 'echo \$\$ >$PIDF; exec $PODMUX shell $*'; echo code=\$?" Enter
}
check_restored() {  # CODE WHY
  wait_for $W "code=[0-9]+" 20
  screen $W | grep -Eq "(^|[#$] )code=$1\$" || fail "$2: expected code=$1: $(screen $W | grep code=)"
  send $W "r=\$(stty -a >$T/after; cmp -s $T/before $T/after && echo SAME || echo DIFF); echo RESULT=\$r" Enter
  wait_for $W 'RESULT=(SAME|DIFF)' 5
  screen $W | grep -q RESULT=SAME || { diff "$T/before" "$T/after"; fail "terminal not restored ($2)"; }
}

# ---- lines ------------------------------------------------------------------------------------
tmux_start $W 200 60
run_shell --layout lines -l app=web -- sh
wait_for $W 'input goes to all 20 pods' 20
send $W 'echo $HOSTNAME' Enter
sleep 0.3
for _ in $(seq 100); do
  [ "$(screen $W | grep -cE '^(web-[a-z0-9-]+) \1$')" -ge 20 ] && break
  sleep 0.1
done
got=$(screen $W | grep -E '^web-' | grep -vE '^(web-[a-z0-9-]+) \1$' || true)
[ -z "$got" ] && echo "lines: no mixed lines" || fail "lines mixed or mislabelled: $got"
names=$(screen $W | grep -E '^(web-[a-z0-9-]+) \1$' | awk '{print $1}' | sort)
expect_eq "$names" "$ALL" "lines: each pod answers once with its own name"
# Ctrl-b 3: only pod 3 (sorted order) gets the next line.
send $W C-b '3' Enter
wait_for $W 'input goes to 3:' 5
send $W 'echo only-$HOSTNAME' Enter
third=$(echo "$ALL" | sed -n 4p)
wait_for $W "^$third only-$third\$" 5
sleep 0.5
[ "$(screen $W | grep -c 'only-')" -eq 2 ] || fail "focused line went to more than one pod: $(screen $W)"
send $W C-b 'b' Enter
wait_for $W 'input goes to all 20 pods' 5
send $W 'true' Enter  # `exit` alone returns the last status
send $W 'exit' Enter
check_restored 0 "lines: exit"
echo "lines: ok"

# Lines, some pods exit non-zero: code 1 and the summary names them.
run_shell --layout lines -l app=web -- sh
wait_for $W 'input goes to all 20 pods' 20
send $W 'case $HOSTNAME in *[0-4]) exit 3;; *) exit 0;; esac' Enter
check_restored 1 "lines: some non-zero"
echo "lines non-zero: ok"

# ---- panes ------------------------------------------------------------------------------------
tmux_stop
P=($(echo "$ALL" | head -3))
tmux_start $W 120 40
run_shell "${P[*]}"
wait_for $W "0:\*${P[0]} " 20
wait_for $W 'broadcast ON' 5
sleep 0.5
# Broadcast on: every pane shows its own pod's name. 3 panes over 120 columns: 39, 39, 40 wide
# (plus the separators), 38 rows under the title (the last row is the status line).
send $W 'echo $HOSTNAME; stty size' Enter
wait_for $W "^${P[0]} +│${P[1]} +│${P[2]} *\$" 5
wait_for $W "^38 39 +│38 39 +│38 40 *\$" 5
echo "panes: broadcast ok, sizes 38x39 38x39 38x40"
# Broadcast off, focus pane 1: only it runs the line.
send $W C-b b
wait_for $W 'broadcast off' 5
send $W C-b 1
wait_for $W "1:\*${P[1]} " 5
send $W 'echo only-$HOSTNAME' Enter
wait_for $W "│only-${P[1]} +│" 5
sleep 0.5
[ "$(screen $W | grep -o "only-web" | wc -l)" -eq 1 ] || fail "focused input reached other panes: $(screen $W)"
send $W C-b Left
wait_for $W "0:\*${P[0]} " 5
echo "panes: focus ok"
# Resize: re-tiled, and each pod's tty follows its pane (90x30: 29, 29, 30 wide, 28 rows).
tm resize-window -t $W -x 90 -y 30
sleep 0.5
send $W C-b b
wait_for $W 'broadcast ON' 5
send $W 'clear; stty size' Enter
wait_for $W "^28 29 +│28 29 +│28 30 *\$" 5
echo "panes: resize ok"
# Idle: no input, no output: no CPU.
PID=$(cat "$PIDF")
t0=$(awk '{print $14+$15}' /proc/$PID/stat)
sleep 2
t1=$(awk '{print $14+$15}' /proc/$PID/stat)
echo "panes: idle CPU over 2 s: $((t1 - t0)) ticks"
[ $((t1 - t0)) -le 2 ] || fail "podmux busy while idle: $((t1 - t0)) ticks in 2 s"
tm resize-window -t $W -x 120 -y 40   # back, so the whole `stty -a` must match
sleep 0.5
# Pane 2 exits 3 alone: it stays with its code; then the others exit 0: podmux ends with 1.
send $W C-b b C-b 2 'exit 3' Enter
wait_for $W "2:\*\[exit 3\] ${P[2]}" 5
wait_for $W "ended: ${P[2]}\(3\)" 5
send $W C-b b 'true' Enter
send $W 'exit' Enter
check_restored 1 "panes: one exit 3"
screen $W | grep -q "${P[2]}: exit 3" || fail "summary does not name the failed pod: $(screen $W)"
echo "panes: exit codes ok"
# All exit 0: code 0.
run_shell "${P[*]}"
wait_for $W "0:\*${P[0]} " 20
sleep 0.5
send $W 'exit' Enter
check_restored 0 "panes: exit"
# Ctrl-b d detaches: every session closed, 0 (a detach is not a failure), the terminal restored.
run_shell "${P[*]}"
wait_for $W "0:\*${P[0]} " 20
sleep 0.5
send $W C-b d
check_restored 0 "panes: detach"
# SIGTERM while raw: sessions closed, 143, the terminal restored.
run_shell "${P[*]}"
wait_for $W "0:\*${P[0]} " 20
sleep 0.5
kill -TERM "$(cat "$PIDF")"
check_restored 143 "panes: SIGTERM"
echo "panes: ok"

# The prefix key (issue 14.3): --prefix, PODMUX_PREFIX, and C-] inside tmux or screen, shown in
# the status line; the old key is then an ordinary one. Focusing turns broadcast off here too.
run_shell "--prefix C-a ${P[*]}"
wait_for $W "0:\*${P[0]} " 20
wait_for $W 'C-a \? help \| focus 0:.* \| broadcast ON' 5
send $W C-b b
sleep 0.5
screen $W | grep -q 'broadcast ON' || fail "--prefix C-a: C-b still acts"
send $W C-u
send $W C-a 1
wait_for $W "1:\*${P[1]} " 5
wait_for $W 'broadcast off' 5
send $W C-a d
check_restored 0 "panes: --prefix C-a, detach"
send $W "clear; stty -a >$T/before; sh -c 'echo \$\$ >$PIDF; TMUX=/tmp/x,1,0 exec $PODMUX shell ${P[*]}'; echo code=\$?" Enter
wait_for $W 'C-\] \? help' 20
send $W 'C-]' d
check_restored 0 "panes: in tmux, C-] detach"
echo "panes: prefix ok"
tmux_stop
tmux_start $W 200 60
send $W "clear; stty -a >$T/before; sh -c 'echo \$\$ >$PIDF; PODMUX_PREFIX=^g exec $PODMUX shell --layout lines ${P[*]}'; echo code=\$?" Enter
wait_for $W 'input goes to all 3 pods \(C-g \? Enter: help\)' 20
send $W C-g d Enter
check_restored 0 "lines: PODMUX_PREFIX=^g, detach"
echo "lines: prefix ok"
tmux_stop
echo PASS
