#!/usr/bin/env bash
# Conformance: Debian's python3-kubernetes (kubernetes.stream, v4.channel.k8s.io) against
# podmux-sim over TLS.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || { echo "no python3-kubernetes"; exit 77; }
start_sim --pods 2
POD=$(pod_names app=web | head -1)
/usr/bin/python3 - "$POD" <<'PY'
import sys
from kubernetes import client, config
from kubernetes.stream import stream

pod = sys.argv[1]
config.load_kube_config()
api = client.CoreV1Api()

def run(cmd, stdin=None):
    r = stream(api.connect_get_namespaced_pod_exec, pod, "default", command=cmd,
               stderr=True, stdin=stdin is not None, stdout=True, tty=False,
               _preload_content=False)
    if stdin is not None:
        r.write_stdin(stdin)
    r.run_forever(timeout=20)
    out, err = r.read_stdout(timeout=1), r.read_stderr(timeout=1)
    return out, err, r.returncode

for code in (0, 1, 3, 42):
    out, err, rc = run(["sh", "-c", "echo out; echo err >&2; exit %d" % code])
    assert out == "out\n", repr(out)
    assert err == "err\n", repr(err)
    assert rc == code, (rc, code)
    print("exit", code, "ok")

p = api.read_namespaced_pod(pod, "default")
assert p.status.phase == "Running", p.status.phase
pods = api.list_namespaced_pod("default", label_selector="app=web")
assert len(pods.items) == 2, len(pods.items)
out = stream(api.connect_get_namespaced_pod_exec, pod, "default", command=["hostname"],
             stderr=True, stdin=False, stdout=True, tty=False)
assert out.strip() == pod, out
print("python3-kubernetes conformance: all checks passed")
PY
