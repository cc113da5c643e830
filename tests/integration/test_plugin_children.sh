#!/usr/bin/env bash
# test_plugin_children.sh: issue 13 item 9, credential plugins that leave children behind.
# - A plugin that prints a valid credential, exits 0 and leaves a child holding its stdout: the
#   credential is used once the plugin has exited (after a short grace for the pipe), not thrown
#   away when the 60 s plugin timeout fires.
# - A plugin that hangs after starting children (one holding stdout, one not): on timeout its
#   whole process group is killed, so no grandchild outlives podmux.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99"
TOKEN=plugin-children-token-51c2
start_sim --token "$TOKEN"
POD=$(pod_names | head -1)
[ -n "$POD" ] || fail "no pod"
CRED="{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"$TOKEN\"}}"

# alive PIDFILE: the pids in PIDFILE still running (zombies count as gone).
alive() {
  local p out=""
  for p in $(cat "$1" 2>/dev/null); do
    case "$(ps -o stat= -p "$p" 2>/dev/null)" in "" | Z*) ;; *) out="$out $p" ;; esac
  done
  echo "$out"
}
sane() { if grep -Eq 'Sanitizer|runtime error:' "$1"; then fail "$(head -30 "$1")"; fi; }

# ---- exits 0, a child keeps stdout open: the credential is used -----------------------------
cat >"$T/leave.sh" <<SH
#!/bin/sh
echo '$CRED'
sleep 300 &
echo \$! >>"$T/leave.pids"
exit 0
SH
chmod +x "$T/leave.sh"
plugin_kubeconfig "$T/leave.sh" "$T/leave.kubeconfig"
rc=0
timeout 120 "$PODMUX" --kubeconfig "$T/leave.kubeconfig" exec "$POD" -- echo ran \
  </dev/null >"$T/leave.out" 2>"$T/leave.err" || rc=$?
sane "$T/leave.err"
kids=$(alive "$T/leave.pids")
[ -z "$kids" ] || kill $kids 2>/dev/null || true
expect_eq "$rc/$(cat "$T/leave.out")" "0/ran" "child holds stdout: exit/output ($(cat "$T/leave.err"))"
[ ! -s "$T/leave.err" ] || fail "child holds stdout: stderr: $(cat "$T/leave.err")"
[ -s "$T/leave.pids" ] || fail "child holds stdout: the plugin never ran"
echo "ok   plugin exited 0, child held stdout: credential used"

# the same with a fan-out (one plugin run shared by every session)
rc=0
timeout 120 "$PODMUX" --kubeconfig "$T/leave.kubeconfig" -l app=web exec -q -- echo ran \
  </dev/null >"$T/leave2.out" 2>"$T/leave2.err" || rc=$?
sane "$T/leave2.err"
kids=$(alive "$T/leave.pids")
[ -z "$kids" ] || kill $kids 2>/dev/null || true
expect_eq "$rc" 0 "fan-out, child holds stdout: exit ($(cat "$T/leave2.err"))"
expect_eq "$(grep -c ran "$T/leave2.out")" "$(pod_names app=web | wc -l)" "fan-out: pods that ran"
echo "ok   fan-out: credential used"

# ---- hangs after starting children: the whole group dies on timeout -------------------------
cat >"$T/hang.sh" <<SH
#!/bin/sh
sleep 300 &
echo \$! >>"$T/hang.pids"
sleep 300 >/dev/null 2>&1 </dev/null &
echo \$! >>"$T/hang.pids"
echo \$\$ >>"$T/hang.pids"
exec sleep 300
SH
chmod +x "$T/hang.sh"
plugin_kubeconfig "$T/hang.sh" "$T/hang.kubeconfig"
rc=0
timeout 120 "$PODMUX" --kubeconfig "$T/hang.kubeconfig" --request-timeout 1s exec "$POD" -- echo ran \
  </dev/null >"$T/hang.out" 2>"$T/hang.err" || rc=$?
sane "$T/hang.err"
expect_eq "$rc" 255 "hanging plugin: exit"
expect_eq "$(cat "$T/hang.err")" "podmux: exec plugin \"$T/hang.sh\" timed out after 1000 ms" "hanging plugin: line"
[ ! -s "$T/hang.out" ] || fail "hanging plugin: output $(cat "$T/hang.out")"
expect_eq "$(wc -l <"$T/hang.pids")" 3 "hanging plugin: pids recorded"
left=""
for _ in $(seq 50); do left=$(alive "$T/hang.pids"); [ -z "$left" ] && break; sleep 0.1; done
[ -z "$left" ] || { kill $left 2>/dev/null || true; fail "hanging plugin: still running:$left"; }
echo "ok   hanging plugin: it and both children ended"
echo "PASS ($SECONDS s)"
