#!/usr/bin/env python3
"""cp_bench.py: podmux cp against `kubectl cp` in a loop with `xargs -P`, to and from N pods.

Same podmux-sim, same file, same run: a file of --mb MB (random bytes) goes to every pod of
--pods (default 20, 100 MB), then comes back from each. Each tool's wall time and CPU (user +
sys of the tool and everything it started, from RUSAGE_CHILDREN) are measured, --runs times;
the table gives the median. Every copy is checked (size, and sha256 on the way back).
Writes a markdown section to --out (default bench/cp_results.md).

  python3 bench/cp_bench.py --build build-bench-release [--pods 20] [--mb 100] [--runs 3]
"""
import argparse, hashlib, os, resource, shutil, statistics, subprocess, sys, tempfile, time


def run_measured(cmd, env, shell=False):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, shell=shell, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        sys.exit("cp_bench: %s failed (%d): %s" % (cmd if shell else " ".join(cmd), p.returncode,
                                                   p.stderr[-500:]))
    return wall, cpu


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--pods", type=int, default=20)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "cp_results.md"))
    ap.add_argument("--kubectl", default="/usr/bin/kubectl")
    a = ap.parse_args()
    podmux = os.path.join(a.build, "podmux")
    sim = os.path.join(a.build, "podmux-sim")
    for p in (podmux, sim, a.kubectl):
        if not os.access(p, os.X_OK):
            sys.exit("cp_bench: %s missing" % p)
    tmp = tempfile.mkdtemp(prefix="pmx-cp-bench-")
    simp = None
    try:
        state = os.path.join(tmp, "state")
        kc = os.path.join(tmp, "kubeconfig")
        simp = subprocess.Popen([sim, "--listen", "127.0.0.1:0", "--pods", str(a.pods),
                                 "--state-dir", state, "--kubeconfig-out", kc],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = simp.stdout.readline()
        if not line.startswith("ready "):
            sys.exit("cp_bench: podmux-sim did not start: %r" % line)
        env = dict(os.environ, KUBECONFIG=kc, HOME=tmp)
        pods = subprocess.run([a.kubectl, "get", "pods", "-l", "app=web", "-o", "name"], env=env,
                              check=True, capture_output=True, text=True).stdout.split()
        pods = [p.split("/", 1)[1] for p in pods]
        assert len(pods) == a.pods, pods
        src = os.path.join(tmp, "payload.bin")
        with open(src, "wb") as f:
            for _ in range(a.mb):
                f.write(os.urandom(1 << 20))
        want = sha256(src)
        size = os.path.getsize(src)
        podlist = os.path.join(tmp, "pods.txt")
        with open(podlist, "w") as f:
            f.write("\n".join(pods) + "\n")

        def pod_file(pod, name):
            return os.path.join(state, "pods", "default", pod, "main", name)

        def check_up(name):
            for p in pods:
                got = os.path.getsize(pod_file(p, name))
                if got != size:
                    sys.exit("cp_bench: %s/%s has %d bytes, not %d" % (p, name, got, size))
            for p in pods:
                os.unlink(pod_file(p, name))  # keep the disk use bounded between runs

        def check_down(d, layout):
            for p in pods:
                path = os.path.join(d, p) if layout == "dir" else os.path.join(d, p + ".bin")
                if sha256(path) != want:
                    sys.exit("cp_bench: %s differs" % path)
            shutil.rmtree(d)

        rows = {}
        cases = [
            ("podmux cp, to %d pods" % a.pods, "up",
             lambda: ([podmux, "cp", "-q", "-l", "app=web", src, ":pm.bin"], False), "pm.bin"),
            ("kubectl cp in xargs -P %d, to %d pods" % (a.pods, a.pods), "up",
             lambda: ("xargs -P %d -I{} %s cp %s {}:kc.bin < %s" % (a.pods, a.kubectl, src,
                                                                   podlist), True), "kc.bin"),
        ]
        for r in range(a.runs):
            for label, _, mk, name in cases:
                # The copy back needs a file in the pods: the first upload of each run leaves
                # its copy when the download rows run.
                cmd, sh = mk()
                w, c = run_measured(cmd, env, shell=sh)
                check_up(name)
                rows.setdefault(label, []).append((w, c))
            # Down: one payload per pod, put there once per run by podmux cp.
            run_measured([podmux, "cp", "-q", "-l", "app=web", src, ":down.bin"], env)
            d1 = os.path.join(tmp, "down-podmux")
            w, c = run_measured([podmux, "cp", "-q", "-l", "app=web", ":down.bin", d1], env)
            check_down(d1, "dir")
            rows.setdefault("podmux cp, from %d pods" % a.pods, []).append((w, c))
            d2 = os.path.join(tmp, "down-kubectl")
            os.makedirs(d2)
            w, c = run_measured("xargs -P %d -I{} %s cp {}:down.bin %s/{}.bin < %s" %
                                (a.pods, a.kubectl, d2, podlist), env, shell=True)
            check_down(d2, "file")
            rows.setdefault("kubectl cp in xargs -P %d, from %d pods" % (a.pods, a.pods),
                            []).append((w, c))
            for p in pods:
                os.unlink(pod_file(p, "down.bin"))
            print("cp_bench: run %d/%d done" % (r + 1, a.runs), file=sys.stderr)

        load = os.getloadavg()
        out = []
        out.append("## podmux cp vs kubectl cp (%d MB to and from %d pods)\n" % (a.mb, a.pods))
        out.append("One %d MB file of random bytes to each of %d podmux-sim pods, and back from "
                   "each, over TLS on loopback; podmux with its defaults (one process, one tar "
                   "read once, `-P 64`), kubectl 1.32 one process per pod through "
                   "`xargs -P %d`. Median of %d runs; CPU is user + system of the tool and "
                   "every process it started (not podmux-sim's). Every copy was checked (size "
                   "in the pods, sha256 back).\n" % (a.mb, a.pods, a.pods, a.runs))
        out.append("| case | wall s (median) | CPU s (median) | wall s, each run | CPU s, each run |")
        out.append("|---|---:|---:|---|---|")
        for label, vals in rows.items():
            ws = [v[0] for v in vals]
            cs = [v[1] for v in vals]
            out.append("| %s | %.2f | %.2f | %s | %s |" % (
                label, statistics.median(ws), statistics.median(cs),
                " ".join("%.2f" % x for x in ws), " ".join("%.2f" % x for x in cs)))
        out.append("")
        out.append("The machine is shared (2 cores, other engineers building and testing at the "
                   "same time; load average %.1f %.1f %.1f at the end): the numbers are noisy, "
                   "compare the rows of one run rather than runs of different days. The pods are "
                   "local processes; both tools run `tar` in them the same way." % load)
        text = "\n".join(out) + "\n"
        with open(a.out, "w") as f:
            f.write(text)
        print(text)
    finally:
        if simp:
            simp.terminate()
            try:
                simp.wait(10)
            except subprocess.TimeoutExpired:
                simp.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
