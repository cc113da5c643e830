#!/usr/bin/env bash
# kubectl 1.32 against a cluster that changes: pods created, started and deleted on a timeline
# (sim.podmux.io/create-after, running-after, delete-after), seen through the pod watch.
# kubectl exec deploy/X lists, then watches until a pod is added (docs/PROTOCOL.md §3.2).
. "$(dirname "$0")/lib.sh"
command -v kubectl >/dev/null || { echo "no kubectl"; exit 77; }

cat >"$T/cluster.yaml" <<'EOF'
nodes: [sim-node-1, sim-node-2]
objects:
  - kind: Deployment
    metadata: {name: late, labels: {app: late}}
    spec:
      replicas: 1
      template:
        metadata:
          labels: {app: late}
          annotations: {sim.podmux.io/create-after: 8s}
        spec: {containers: [{name: main, command: [sleep, infinity]}]}
  - kind: Deployment
    metadata: {name: blink, labels: {app: blink}}
    spec:
      replicas: 1
      template:
        metadata:
          labels: {app: blink}
          annotations:
            sim.podmux.io/create-after: 8s
            sim.podmux.io/running-after: 2s
            sim.podmux.io/delete-after: 4s
        spec: {containers: [{name: main, command: [sleep, infinity]}]}
  - kind: Deployment
    metadata: {name: never}
    spec:
      replicas: 0
      template:
        metadata: {labels: {app: never}}
        spec: {containers: [{name: main}]}
  - kind: DaemonSet
    metadata: {name: agent}
    spec:
      template:
        metadata: {labels: {app: agent}}
        spec: {containers: [{name: main, image: fluentd:1.17, command: [sleep, infinity]}]}
  - kind: Job
    metadata: {name: once}
    spec:
      completions: 2
      template:
        metadata:
          labels: {app: once}
          annotations: {sim.podmux.io/pod-phase: Succeeded}
        spec: {containers: [{name: main, command: ["true"]}]}
EOF
start_sim --cluster "$T/cluster.yaml"

# The clients start at once: the pods appear 8 s after the sim, kubectl must list before that.
timeout 60 kubectl -v=6 exec deploy/late -- hostname >"$T/late.out" 2>"$T/late.err" &
exec_pid=$!
timeout 60 kubectl get pods -l app=blink -w --output-watch-events >"$T/watch.out" 2>&1 &
watch_pid=$!
timeout 60 kubectl get deploy late -w >"$T/deploy.out" 2>&1 &
deploy_pid=$!
timeout 60 kubectl rollout status deploy/late >"$T/rollout.out" 2>&1 &
rollout_pid=$!
never_start=$(date +%s%N)
timeout 30 kubectl exec --pod-running-timeout=2s deploy/never -- true 2>"$T/never.err" &
never_pid=$!
# python-kubernetes' Watch (a second client we did not write), from its list's resourceVersion.
py_pid=""
if /usr/bin/python3 -c 'import kubernetes' 2>/dev/null; then
  timeout 60 /usr/bin/python3 - >"$T/py.out" 2>&1 <<'PY' &
from kubernetes import client, config, watch
config.load_kube_config()
v1 = client.CoreV1Api()
lst = v1.list_namespaced_pod("default", label_selector="app=blink")
# Python may start after the pod was created or started (a loaded machine): the list plus the
# events must still tell the whole story, each event newer than the list.
story = ["ADDED Pending", "MODIFIED Running", "DELETED Running"]
seen = {0: 0, "Pending": 1, "Running": 2}[lst.items[0].status.phase if lst.items else 0]
for ev in watch.Watch().stream(v1.list_namespaced_pod, "default", label_selector="app=blink",
                               resource_version=lst.metadata.resource_version, timeout_seconds=30):
    o = ev["object"]
    got = "%s %s" % (ev["type"], o.status.phase)
    assert got == story[seen], (got, story, seen)
    assert int(o.metadata.resource_version) > int(lst.metadata.resource_version)
    assert o.metadata.name.startswith("blink-"), o.metadata.name
    seen += 1
    if seen == 3:
        break
print("ok", seen)
PY
  py_pid=$!
fi

# Without server.c's hook a watch is refused with 405: nothing below can work then. (With it,
# this bad resourceVersion is a quick 400.)
if { sim_get "/api/v1/namespaces/default/pods?watch=1&resourceVersion=x" || true; } |
  grep -q sim_watch_handle; then
  kill $exec_pid $watch_pid $deploy_pid $rollout_pid $never_pid $py_pid 2>/dev/null || true
  wait $exec_pid $watch_pid $deploy_pid $rollout_pid $never_pid $py_pid 2>/dev/null || true
  echo "podmux-sim serves no watches (server.c does not call sim_watch_handle): skipped"
  exit 77
fi

echo "== kubectl exec deploy/late waits for the pod, kubectl get -w sees it come and go"
set +e
wait $exec_pid; rc=$?
set -e
expect_eq "$rc" 0 "kubectl exec deploy/late ($(tail -3 "$T/late.err"))"
expect_eq "$(cat "$T/late.out")" "$(pod_names app=late)" "ran in late's pod"
grep -q 'pods?labelSelector=app%3Dlate&resourceVersion=[0-9]*&watch=true 200 OK' "$T/late.err" ||
  fail "kubectl did not watch: $(grep -i 'GET ' "$T/late.err")"
kubectl get deploy late never >"$T/get"
expect_eq "$(tail -n +2 "$T/get" | tr -s ' ' | cut -d' ' -f1-4)" "$(printf 'late 1/1 1 1\nnever 0/0 0 0')" \
  "deployments count the new pod"
for _ in $(seq 300); do grep -q '^DELETED' "$T/watch.out" && break; sleep 0.1; done
kill $watch_pid 2>/dev/null || true
wait $watch_pid 2>/dev/null || true
blink=$(awk '$1 == "ADDED" {print $2}' "$T/watch.out")
echo "$blink" | grep -Eq '^blink-[a-z0-9]{10}-[a-z0-9]{5}$' || fail "no ADDED row: $(cat "$T/watch.out")"
expect_eq "$(head -1 "$T/watch.out" | tr -s ' ')" "EVENT NAME READY STATUS RESTARTS AGE" "header"
expect_eq "$(awk '{print $1, $2, $3, $4}' "$T/watch.out" | tail -n +2)" \
  "$(printf 'ADDED %s 0/1 ContainerCreating\nMODIFIED %s 1/1 Running\nDELETED %s 1/1 Running' \
    "$blink" "$blink" "$blink")" "watch events"
[ -z "$(pod_names app=blink)" ] || fail "blink's pod is still listed"

echo "== kubectl get deploy late -w: READY goes 0/1 -> 1/1 (a MODIFIED per pod step)"
for _ in $(seq 100); do grep -q ' 1/1 ' "$T/deploy.out" && break; sleep 0.1; done
kill $deploy_pid 2>/dev/null || true
wait $deploy_pid 2>/dev/null || true
expect_eq "$(tr -s ' ' <"$T/deploy.out" | cut -d' ' -f1-4)" \
  "$(printf 'NAME READY UP-TO-DATE AVAILABLE\nlate 0/1 0 0\nlate 1/1 1 1')" "deploy watch"

echo "== kubectl rollout status deploy/late waits for it"
wait $rollout_pid || fail "rollout status: $(cat "$T/rollout.out")"
expect_eq "$(cat "$T/rollout.out")" "$(printf '%s\n%s' \
  'Waiting for deployment "late" rollout to finish: 0 out of 1 new replicas have been updated...' \
  'deployment "late" successfully rolled out')" "rollout status"

if [ -n "$py_pid" ]; then
  echo "== python-kubernetes' watch saw the same"
  wait $py_pid || fail "python watch: $(cat "$T/py.out")"
  expect_eq "$(cat "$T/py.out")" "ok 3" "python watch"
fi

echo "== no pod ever: kubectl's own timeout (started with the others)"
set +e
wait $never_pid; rc=$?
set -e
ms=$(( ($(date +%s%N) - never_start) / 1000000 ))
expect_eq "$rc" 1 "exit code"
expect_eq "$(cat "$T/never.err")" "error: timed out waiting for the condition" "timeout message"
[ "$ms" -ge 1900 ] || fail "gave up after $ms ms, before --pod-running-timeout"

echo "== the watch on the wire: chunked JSON lines, timeoutSeconds, resourceVersion"
/usr/bin/python3 - "$T/raw" <<'PY'
import base64, http.client, json, os, ssl, sys, urllib.parse, yaml
cfg = yaml.safe_load(open(os.environ["KUBECONFIG"]))
cl = cfg["clusters"][0]["cluster"]; tok = cfg["users"][0]["user"]["token"]
ctx = ssl.create_default_context(cadata=base64.b64decode(cl["certificate-authority-data"]).decode())
u = urllib.parse.urlparse(cl["server"])
def watch(q):
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=20)
    c.request("GET", "/api/v1/namespaces/default/pods?" + q, headers={"Authorization": "Bearer " + tok})
    r = c.getresponse()
    body = r.read().decode()  # the stream ends at timeoutSeconds
    return r, body
r, body = watch("watch=1&labelSelector=app%3Dagent&timeoutSeconds=1")
assert r.status == 200, r.status
assert r.getheader("Transfer-Encoding") == "chunked", r.getheaders()
assert r.getheader("Content-Type") == "application/json", r.getheaders()
lines = body.split("\n")
assert lines[-1] == "", "not newline-terminated: %r" % body[-50:]
ev = [json.loads(l) for l in lines[:-1]]
assert [e["type"] for e in ev] == ["ADDED", "ADDED"], [e["type"] for e in ev]
assert all(e["object"]["kind"] == "Pod" and e["object"]["metadata"]["labels"]["app"] == "agent" for e in ev)
r, body = watch("watch=true&resourceVersion=1&timeoutSeconds=5")
e = json.loads(body)
assert e["type"] == "ERROR" and e["object"]["code"] == 410 and e["object"]["reason"] == "Expired", e
print("ok")
PY

echo "== kubectl get for daemonsets and jobs"
kubectl get ds >"$T/get"
expect_eq "$(head -1 "$T/get" | tr -s ' ')" "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE" "ds header"
expect_eq "$(sed -n 2p "$T/get" | tr -s ' ' | cut -d' ' -f1-7)" "agent 2 2 2 2 2 <none>" "ds row"
kubectl get jobs -o wide >"$T/get"
expect_eq "$(head -1 "$T/get" | tr -s ' ')" "NAME STATUS COMPLETIONS DURATION AGE CONTAINERS IMAGES SELECTOR" "job header"
sed -n 2p "$T/get" | tr -s ' ' | grep -Eq '^once Complete 2/2 29s [0-9a-z]+ main busybox:1.36 batch.kubernetes.io/controller-uid=[0-9a-f-]{36}$' ||
  fail "job row: $(sed -n 2p "$T/get")"
echo "kubectl watch: all checks passed"
