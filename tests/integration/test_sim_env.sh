#!/usr/bin/env bash
# podmux-sim (issue 14.9): a container's `env` from the cluster YAML reaches exec'd commands and
# the attached main process (a name given there replaces the sim's own), and a cluster file
# that cannot be read is named once in the error.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
cat >"$T/cluster.yaml" <<'YAML'
namespaces: [default]
objects:
  - kind: Pod
    metadata: {name: envy}
    spec:
      containers:
        - name: main
          command: [sh, -c, 'echo "main sees $GREETING"; sleep infinity']
          env: [{name: GREETING, value: "hello world"}, {name: POD_NAME, value: renamed},
                {name: EMPTY}]
        - name: plain
          command: [sleep, infinity]
YAML
start_sim --cluster "$T/cluster.yaml"

out=$(timeout 20 "$PODMUX" exec envy -c main -- sh -c 'echo "$GREETING|$POD_NAME|${EMPTY-unset}|$HOSTNAME"')
expect_eq "$out" "hello world|renamed||envy" "exec env"
out=$(timeout 20 "$PODMUX" exec envy -c plain -- sh -c 'echo "${GREETING-unset}|$POD_NAME"')
expect_eq "$out" "unset|envy" "another container's env"
# The main process (attach) got it too: its first line.
out=$(timeout 10 "$PODMUX" attach envy -c main --timeout 2s 2>/dev/null | head -1 || true)
expect_eq "$out" "main sees hello world" "main process env"

# A missing file: its path said once.
set +e
err=$("$PODMUX_SIM" --listen 127.0.0.1:0 --kubeconfig-out "$T/kc2" --state-dir "$T/state2" \
  --cluster "$T/nosuch.yaml" 2>&1 >/dev/null); rc=$?
set -e
[ $rc -ne 0 ] || fail "podmux-sim started without its cluster file"
expect_eq "$err" "podmux-sim: $T/nosuch.yaml: No such file or directory" "missing cluster file"
echo ok
