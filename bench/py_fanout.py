#!/usr/bin/python3
"""py_fanout: the Python client (Debian python3-kubernetes) driven the way people use it, for
bench/harness.py. Prints one JSON object on stdout.

  py_fanout.py fanout -l SELECTOR [-P 64] -- CMD...   CMD in every selected pod, thread pool
  py_fanout.py idle -l SELECTOR -n N [-P 64]           N open `sleep` sessions, held until stdin
                                                       closes (the harness samples RSS meanwhile)
  py_fanout.py single --pod POD -- CMD...              one exec (cold start)

KUBECONFIG selects the cluster. kubernetes.stream.stream swaps ApiClient.request for the
duration of a call, so a shared ApiClient is not thread-safe: each worker thread gets its own
(threading.local), which is what a correct thread-pool program does.
"""
import argparse
import concurrent.futures
import json
import resource
import sys
import threading
import time

T_START = time.monotonic()
from kubernetes import client, config  # noqa: E402  (import time is part of a cold start)
from kubernetes.stream import stream  # noqa: E402

_local = threading.local()


def api():
    if not hasattr(_local, "api"):
        _local.api = client.CoreV1Api(client.ApiClient())
    return _local.api


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def exec_once(pod, ns, cmd):
    """Runs cmd to completion; returns the exit code (None if unknown)."""
    r = stream(api().connect_get_namespaced_pod_exec, pod, ns, command=cmd, stderr=True,
               stdin=False, stdout=True, tty=False, _preload_content=False)
    r.run_forever(timeout=600)
    rc = r.returncode
    r.close()
    return rc


def open_idle(pod, ns):
    """Opens a `sleep` session and returns the open WSClient (kept by the caller)."""
    return stream(api().connect_get_namespaced_pod_exec, pod, ns, command=["sleep", "3600"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)


def list_pods(ns, selector):
    return [p.metadata.name for p in api().list_namespaced_pod(ns, label_selector=selector).items]


def cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def fanout(args, ns):
    pods = list_pods(ns, args.selector)
    t0 = time.monotonic()
    ok = nonzero = failed = 0
    first_err = ""
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.P) as ex:
        futs = [ex.submit(exec_once, p, ns, args.cmd) for p in pods]
        for f in concurrent.futures.as_completed(futs):
            try:
                rc = f.result()
                if rc == 0:
                    ok += 1
                else:
                    nonzero += 1
            except Exception as e:  # a failed exec is counted, not fatal
                failed += 1
                first_err = first_err or repr(e)[:200]
    wall = time.monotonic() - t0
    return {"mode": "fanout", "pods": len(pods), "ok": ok, "nonzero": nonzero,
            "failed": failed, "wall_s": wall, "cpu_s": cpu_s(), "error": first_err}


def idle(args, ns):
    pods = list_pods(ns, args.selector)
    base = rss_kib()
    t0 = time.monotonic()
    names = [pods[i % len(pods)] for i in range(args.n)]
    held, failed, first_err = [], 0, ""
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.P) as ex:
        for f in [ex.submit(open_idle, p, ns) for p in names]:
            try:
                held.append(f.result())
            except Exception as e:
                failed += 1
                first_err = first_err or repr(e)[:200]
    time.sleep(0.5)
    rss = rss_kib()
    out = {"mode": "idle", "n": args.n, "open": len(held), "failed": failed,
           "open_wall_s": time.monotonic() - t0, "rss_base_kib": base, "rss_kib": rss,
           "threads": threading.active_count(),
           "bytes_per_session": (rss - base) * 1024.0 / max(1, len(held)),
           "cpu_s": cpu_s(), "error": first_err}
    print(json.dumps(out), flush=True)
    sys.stdin.read()  # hold until the harness closes our stdin
    for w in held:
        try:
            w.close()
        except Exception:
            pass
    return None


def single(args, ns):
    rc = exec_once(args.pod, ns, args.cmd)
    return {"mode": "single", "exit": rc, "wall_s": time.monotonic() - T_START, "cpu_s": cpu_s()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["fanout", "idle", "single"])
    ap.add_argument("-l", dest="selector")
    ap.add_argument("-P", type=int, default=64)
    ap.add_argument("-n", type=int, default=0)
    ap.add_argument("--pod")
    ap.add_argument("--namespace", dest="ns", default=None)
    argv = sys.argv[1:]
    cmd = argv[argv.index("--") + 1:] if "--" in argv else []
    args = ap.parse_args(argv[:len(argv) - len(cmd) - (1 if "--" in argv else 0)])
    args.cmd = cmd
    config.load_kube_config()
    ns = args.ns
    if ns is None:
        try:
            ns = config.list_kube_config_contexts()[1]["context"].get("namespace") or "default"
        except Exception:
            ns = "default"
    res = {"fanout": fanout, "idle": idle, "single": single}[args.mode](args, ns)
    if res is not None:
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
