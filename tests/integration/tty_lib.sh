# tty_lib.sh: tmux helpers for terminal tests (sourced after lib.sh).
command -v tmux >/dev/null || { echo "no tmux"; exit 77; }
TMUX_SOCK="$T/tmux.sock"
tm() { tmux -S "$TMUX_SOCK" "$@"; }
# tmux_start NAME WIDTH HEIGHT: a detached session running a login-free shell.
tmux_start() {
  tm -f /dev/null new-session -d -s "$1" -x "$2" -y "$3" "env -i PATH=$PATH HOME=$HOME TERM=xterm KUBECONFIG=$KUBECONFIG PS1='local\$ ' bash --norc --noprofile"
  tm set-option -t "$1" -g window-size manual >/dev/null 2>&1 || true
  wait_for "$1" 'local\$' 10
}
screen() { tm capture-pane -p -t "$1"; }
# wait_for NAME REGEX SECONDS
wait_for() {
  local i
  for i in $(seq $(($3 * 10))); do
    screen "$1" | grep -Eq "$2" && return 0
    sleep 0.1
  done
  echo "--- screen of $1:"; screen "$1"
  fail "timed out waiting for /$2/ in $1"
}
send() { tm send-keys -t "$1" "${@:2}"; }
# tmux_stop: kill the server and wait until it is gone. kill-server returns before the server
# has exited; a new-session on the same socket meanwhile reached the dying server and failed
# with "server exited unexpectedly" (seen once in CI, test_tty_shell).
tmux_stop() {
  local pid i
  pid=$(tm display-message -p '#{pid}' 2>/dev/null || true)
  tm kill-server 2>/dev/null || true
  if [ -n "$pid" ]; then
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -f "$TMUX_SOCK"
}
