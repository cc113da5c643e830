#!/usr/bin/env bash
# test_impersonation.sh: issue 13 item 3. kubectl and podmux side by side against podmux-sim,
# which enforces impersonation (data/impersonate-cluster.yaml: whom podmux-admin may
# impersonate). Both must succeed where kubectl succeeds and print the same Forbidden text
# where it fails, for --as/--as-group/--as-uid and the kubeconfig's as, as-groups, as-uid,
# as-user-extra (keys with '/' and upper case exercise client-go's header-key escaping). That
# the request ran as the impersonated user shows in RBAC: alice may not use "restricted".
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
command -v kubectl >/dev/null || { echo "no kubectl"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99"
start_sim --cluster "$PMX_SRC/tests/integration/data/impersonate-cluster.yaml"
BASE=$KUBECONFIG

# side NAME KCFG_USER_JSON [args...]: runs `exec p1 -- echo ok` (after args) with kubectl and
# podmux, with the kubeconfig user's fields updated by KCFG_USER_JSON ({} for none). Sets
# K_RC K_OUT K_MSG P_RC P_OUT P_MSG (MSG: stderr without the tool's prefix).
side() {
  local name=$1 json=$2; shift 2
  /usr/bin/python3 - "$BASE" "$json" "$T/$name.kc" <<'PY'
import json, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["users"][0]["user"].update(json.loads(sys.argv[2]))
yaml.safe_dump(c, open(sys.argv[3], "w"))
PY
  K_RC=0 P_RC=0
  KUBECONFIG="$T/$name.kc" timeout 60 kubectl "$@" exec p1 -- echo ok >"$T/$name.kout" 2>"$T/$name.kerr" || K_RC=$?
  KUBECONFIG="$T/$name.kc" timeout 60 "$PODMUX" "$@" exec p1 -- echo ok </dev/null >"$T/$name.pout" 2>"$T/$name.perr" || P_RC=$?
  if grep -Eq 'Sanitizer|runtime error:' "$T/$name.perr"; then fail "$name: $(cat "$T/$name.perr")"; fi
  K_OUT=$(cat "$T/$name.kout") P_OUT=$(cat "$T/$name.pout")
  K_MSG=$(sed -e 's/^Error from server ([A-Za-z]*): //' -e 's/^error: //' "$T/$name.kerr")
  P_MSG=$(sed -e 's/^podmux: //' "$T/$name.perr")
}
ok() { # ok NAME JSON ARGS...: both print "ok" and exit 0
  side "$@"
  expect_eq "$K_RC/$K_OUT" "0/ok" "$1: kubectl ($(cat "$T/$1.kerr"))"
  expect_eq "$P_RC/$P_OUT" "0/ok" "$1: podmux ($(cat "$T/$1.perr"))"
  echo "ok   $1"
}
refused() { # refused NAME WANT_MSG JSON ARGS...: kubectl exits 1, podmux 255, same one line
  local name=$1 want=$2; shift 2
  side "$name" "$@"
  expect_eq "$K_RC" 1 "$name: kubectl exit ($(cat "$T/$name.kerr"))"
  expect_eq "$P_RC" 255 "$name: podmux exit ($(cat "$T/$name.perr"))"
  expect_eq "$K_MSG" "$want" "$name: kubectl says"
  expect_eq "$P_MSG" "$want" "$name: podmux says"
  [ -z "$P_OUT" ] || fail "$name: podmux printed output: $P_OUT"
  echo "ok   $name: $want"
}
F='is forbidden: User "podmux-admin" cannot impersonate resource'
ok as-flag '{}' --as alice
refused as-bob "users \"bob\" $F \"users\" in API group \"\" at the cluster scope" '{}' --as bob
ok as-group-uid '{}' --as alice --as-group dev --as-group system:authenticated --as-uid 1001
refused as-group-ops "groups \"ops\" $F \"groups\" in API group \"\" at the cluster scope" \
  '{}' --as alice --as-group dev --as-group ops
refused as-uid-7 "uids.authentication.k8s.io \"7\" $F \"uids\" in API group \"authentication.k8s.io\" at the cluster scope" \
  '{}' --as alice --as-uid 7
ok as-sa '{}' --as system:serviceaccount:default:robot
refused as-sa-other "serviceaccounts \"other\" $F \"serviceaccounts\" in API group \"\" in the namespace \"default\"" \
  '{}' --as system:serviceaccount:default:other
refused group-without-user "requesting uid, groups or user-extra for podmux-admin without impersonating a user" \
  '{}' --as-group dev

# the kubeconfig's fields, and the flags replacing them
ok kc-all '{"as": "alice", "as-uid": "1001", "as-groups": ["dev"], "as-user-extra": {"scopes": ["view"], "example.com/team": ["a b", "c"]}}'
refused kc-as-bob "users \"bob\" $F \"users\" in API group \"\" at the cluster scope" '{"as": "bob"}'
ok kc-as-bob-flag-alice '{"as": "bob", "as-groups": ["ops"]}' --as alice --as-group dev
refused kc-extra-admin "userextras.authentication.k8s.io \"admin\" $F \"userextras/scopes\" in API group \"authentication.k8s.io\" at the cluster scope" \
  '{"as": "alice", "as-user-extra": {"scopes": ["admin"]}}'
refused kc-extra-escaped "userextras.authentication.k8s.io \"x\" $F \"userextras/example.com/other\" in API group \"authentication.k8s.io\" at the cluster scope" \
  '{"as": "alice", "as-user-extra": {"Example.com/Other": ["x"]}}'
refused kc-groups-only "requesting uid, groups or user-extra for podmux-admin without impersonating a user" \
  '{"as-groups": ["dev"]}'

# the request really runs as alice: she is denied the namespace "restricted" (p1 is not
# there, but RBAC answers first)
side restricted '{}' --as alice -n restricted
want='pods "p1" is forbidden: User "alice" cannot'
case "$K_MSG" in "$want"*) ;; *) fail "restricted: kubectl: $K_MSG" ;; esac
case "$P_MSG" in "$want"*) ;; *) fail "restricted: podmux: $P_MSG" ;; esac
echo "ok   restricted: runs as alice"

# fan-out: the pod list (REST) is impersonated too
rc=0
"$PODMUX" --as alice -l app=p exec -o prefix -- echo ok </dev/null >"$T/fan.out" 2>"$T/fan.err" || rc=$?
expect_eq "$rc/$(sort "$T/fan.out" | tr '\n' ' ')" "0/p1 ok p2 ok " "fan-out as alice ($(cat "$T/fan.err"))"
rc=0
"$PODMUX" --as bob -l app=p exec -- echo ok </dev/null >"$T/fan.out" 2>"$T/fan.err" || rc=$?
expect_eq "$rc" 255 "fan-out as bob: exit"
expect_eq "$(cat "$T/fan.err")" "podmux: users \"bob\" $F \"users\" in API group \"\" at the cluster scope" "fan-out as bob"
echo "ok   fan-out"
# ---- the headers byte for byte ------------------------------------------------------------------
# podmux-sim logs every request's Impersonate-* headers as received. kubectl (GET pod, then the
# upgrade) and podmux (the upgrade) must send the same lines: names compared case-sensitively,
# values in order, the lines stably sorted by name (Go writes header keys sorted).
/usr/bin/python3 - "$BASE" "$T/capkc" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["users"][0]["user"].update({"as": "kc-user", "as-groups": ["kc-group"],
    "as-user-extra": {"Example.com/Team": ["a b", "c"], "scopes": ["view"], "x_y~z.-": ["1"]}})
yaml.safe_dump(c, open(sys.argv[2], "w"))
PY
# captured TOOL OUT: runs TOOL with the flags below; OUT gets its requests' sorted header lines
captured() {
  local tool=$1 out=$2 n rc=0
  n=$(grep -c 'podmux-sim: impersonation:' "$T/sim.log" || true)
  timeout 60 "$tool" --kubeconfig "$T/capkc" --as alice --as-group dev --as-group system:authenticated \
    --as-uid 1001 exec p1 -- echo ok </dev/null >"$T/cap.out" 2>"$T/cap.err" || rc=$?
  expect_eq "$rc/$(cat "$T/cap.out")" "0/ok" "$tool with every kind of header ($(cat "$T/cap.err"))"
  grep 'podmux-sim: impersonation:' "$T/sim.log" | tail -n +$((n + 1)) >"$T/cap.raw"
  /usr/bin/python3 - "$T/cap.raw" >"$out" <<'PY'
import sys
rows = [l.rstrip("\n").split(" | ") for l in open(sys.argv[1])]
blocks = {tuple(sorted(r[1:], key=lambda l: l.split(":", 1)[0])) for r in rows}
paths = [r[0].split(": ", 2)[2] for r in rows]
# every request the tool made carries the same lines; the upgrade is one of them
print("%d distinct, exec %s" % (len(blocks), "GET /api/v1/namespaces/default/pods/p1/exec" in paths))
for b in blocks:
    print("\n".join("  " + l for l in b))
PY
}
captured kubectl "$T/imp.k"
captured "$PODMUX" "$T/imp.p"
want='  Impersonate-Extra-Example.com%2fteam: a b
  Impersonate-Extra-Example.com%2fteam: c
  Impersonate-Extra-Scopes: view
  Impersonate-Extra-X_y~z.-: 1
  Impersonate-Group: dev
  Impersonate-Group: system:authenticated
  Impersonate-Uid: 1001
  Impersonate-User: alice'
expect_eq "$(cat "$T/imp.k")" "1 distinct, exec True
$want" "kubectl's requests"
expect_eq "$(cat "$T/imp.p")" "1 distinct, exec True
$want" "podmux's requests"
echo "ok   headers byte for byte as kubectl's"
echo "PASS ($SECONDS s)"
