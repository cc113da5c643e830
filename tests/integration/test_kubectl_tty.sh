#!/usr/bin/env bash
# kubectl exec -it and kubectl attach against podmux-sim, in tmux: a real pty on the sim's side,
# the prompt, a window resize followed by the remote tty, the shell's exit code, attach output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tty_lib.sh"
command -v kubectl >/dev/null || { echo "no kubectl"; exit 77; }
start_sim --cluster "$PMX_SRC/tests/integration/data/cluster.yaml"
POD=$(pod_names app=web | head -1)
tmux_start k 100 30
trap 'rc=$?; tmux_stop; (exit $rc); cleanup' EXIT

send k "kubectl exec -it $POD -- sh" Enter
wait_for k '^(/.*)?[#$] ?$' 20
send k "stty size" Enter
wait_for k '^30 100' 10
tm resize-window -t k -x 120 -y 40
sleep 0.5
send k "clear; stty size" Enter
wait_for k '^40 120' 10
send k "tty" Enter
wait_for k '^/dev/pts/' 10
send k "exit 7" Enter
wait_for k 'local\$' 10
send k 'echo "rc=$?"' Enter
wait_for k '^rc=7' 10

echo "== kubectl attach prints the main process's output"
send k "clear; kubectl attach ticker-0 -c main" Enter
wait_for k 'tick [0-9]+' 20
send k C-c
wait_for k '^local\$ ?$' 10  # capture-pane drops the trailing space
echo "kubectl tty: all checks passed"
