#!/usr/bin/env bash
# test_faults_plugin.sh: issue 9's "credential plugin hangs" at the CLI, single-pod, named
# fan-out and selector: --request-timeout (1s here) bounds the plugin (one line naming it, exit
# 255, the plugin ended), and SIGINT/SIGTERM while it hangs end it too (exit 128+N; it runs in its
# own process group, so a terminal's Ctrl-C never reaches it). Failing/garbage plugins:
# test_faults_limits.sh; the library forms: itest_faults.c.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99" # a leak must not pass for exit 255
start_sim --cluster "$PMX_SRC/tests/integration/data/faults-fanout-cluster.yaml"
CA="$T/state/ca.crt"
printf '#!/bin/sh\necho $$ >>"%s"\nexec sleep 100\n' "$T/hang.pids" >"$T/hang.sh"
chmod +x "$T/hang.sh"
plugin_kubeconfig "$T/hang.sh" "$T/hang.kubeconfig"
LINE="exec plugin \"$T/hang.sh\" timed out after 1000 ms"

# ended WHAT: every plugin started so far is gone (a zombie counts as gone: this machine's PID 1
# may not reap what podmux leaves it). Waits up to 5 s.
ended() {
  local alive p
  for _ in $(seq 50); do
    alive=""
    for p in $(cat "$T/hang.pids" 2>/dev/null); do
      case "$(ps -o stat= -p "$p" 2>/dev/null)" in "" | Z*) ;; *) alive="$alive $p" ;; esac
    done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  [ -s "$T/hang.pids" ] || fail "$1: the plugin never ran"
  [ -z "$alive" ] || { kill $alive 2>/dev/null || true; fail "$1: plugin still running:$alive"; }
  rm -f "$T/hang.pids"
}
sane() { # sane NAME: no sanitizer report in $T/NAME.err
  if grep -Eq 'Sanitizer|runtime error:' "$T/$1.err"; then fail "$1: $(head -30 "$T/$1.err")"; fi
}

# ---- the request timeout bounds a hanging plugin ----------------------------------------------
# hang NAME TARGETS...: podmux --request-timeout 1s exec -q TARGETS -- echo ran; exit 255.
hang() {
  local name=$1 rc=0 t0; shift
  t0=$(date +%s%N)
  timeout 60 "$PODMUX" --kubeconfig "$T/hang.kubeconfig" --request-timeout 1s exec -q "$@" -- echo ran \
    </dev/null >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  sane "$name"
  expect_eq "$rc" 255 "$name: exit ($(cat "$T/$name.err"))"
  [ ! -s "$T/$name.out" ] || fail "$name: output without credentials: $(cat "$T/$name.out")"
  ended "$name"
  echo "ok   $name ($((($(date +%s%N) - t0) / 1000000)) ms): $(tr '\n' '|' <"$T/$name.err")"
}
hang hang-single ok-a
expect_eq "$(cat "$T/hang-single.err")" "podmux: $LINE" "hang single"
hang hang-named ok-a ok-b
expect_eq "$(sort "$T/hang-named.err")" "$(printf '%s\n' "  ok-a: $LINE" "  ok-b: $LINE" \
  "podmux: 0 ok, 0 non-zero, 2 failed, 0 skipped (2 pods)" | sort)" "hang named fan-out"
expect_eq "$(head -1 "$T/hang-named.err")" "podmux: 0 ok, 0 non-zero, 2 failed, 0 skipped (2 pods)" \
  "hang named fan-out: summary first"
hang hang-selector -l case=ok
expect_eq "$(cat "$T/hang-selector.err")" "podmux: $LINE" "hang selector"

# ---- a signal while the plugin hangs ends it ----------------------------------------------------
# signal SIG NAME TARGETS...: SIG once the plugin runs; exit 128+SIG, nothing printed, plugin gone.
# (env restores SIGINT's default: a background job of a script starts with it ignored.)
signal() {
  local sig=$1 name=$2 rc=0 pid; shift 2
  env --default-signal=INT "$PODMUX" --kubeconfig "$T/hang.kubeconfig" exec -q "$@" -- echo ran \
    </dev/null >"$T/$name.out" 2>"$T/$name.err" &
  pid=$!
  for _ in $(seq 300); do [ -s "$T/hang.pids" ] && break; sleep 0.1; done
  [ -s "$T/hang.pids" ] || { kill -KILL $pid; fail "$name: the plugin did not start"; }
  sleep 0.3
  kill -"$sig" $pid
  wait $pid || rc=$?
  sane "$name"
  expect_eq "$rc" $((128 + $(kill -l "$sig"))) "$name: exit ($(cat "$T/$name.err"))"
  [ ! -s "$T/$name.out" ] || fail "$name: output: $(cat "$T/$name.out")"
  ended "$name"
  echo "ok   $name: exit $rc, plugin ended"
}
signal INT int-single ok-a
signal TERM term-single ok-a
signal INT int-named ok-a ok-b
signal TERM term-selector -l case=ok
echo "PASS ($SECONDS s)"
