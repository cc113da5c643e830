#!/usr/bin/python3
"""harness: runs podmux's benchmark scenarios against podmux-sim and writes results.json.

Called by bench/run.sh (the documented command); bench/report.py turns the JSON into
RESULTS.md and PNG plots. Every client runs in the same run against the same podmux-sim build
on the same machine, so ratios between clients are meaningful even when absolute times drift.

Measured for every client run:
  wall     start of the client process(es) to their exit (wait4)
  cpu      user+sys of every client process, children included (wait4 rusage: xargs waits for
           its kubectls, so their CPU is in it)
  rss      peak of the summed resident memory of the client process tree (polled from /proc
           every 50 ms; never below the largest single process's ru_maxrss)
  sim      podmux-sim's own CPU (utime+stime from /proc/PID/stat before/after), its reaped
           children's CPU (the "pod" processes) and its peak RSS during the run
"""
import argparse
import fcntl
import json
import os
import platform
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

import measure
from measure import (Measure, Sim, last_json, run_one, still_running, stop_client,
                     tree_threads)

CONC = 64

# kubectl runs are capped where a full run would take too long (each kubectl exec is a new Go
# process with its own TLS handshake); ratios are then computed per pod / per session.
# fanout: real processes (issue 8's figures, kept for honesty). remote: the remote-cluster model
# (podmux-sim --exec-model remote, exec start and round trip below), concurrency 64 at each size
# and unlimited at remote_unlimited. idle, throughput, keys and cold use the model with no
# delays: the commands are served in the sim, so only the client and the sim use the cores.
# 20,000 sessions want 20,000 sockets in one client process and as many in the sim, but the
# hard RLIMIT_NOFILE here is 20,000 and cannot be raised (setrlimit: EPERM even as root, no
# CAP_SYS_RESOURCE in this container): 19,900 leaves each process room for its other
# descriptors (loop, signals, stdio, thread pool). raise_fd_limit() goes higher where allowed.
IDLE_MAX = 19900
PROFILES = {
    "full": dict(fanout=[100, 500], fanout_kubectl_cap=20, fanout_python_cap=100,
                 remote=[100, 500, 1000], remote_kubectl_cap=100, remote_python_cap=1000,
                 remote_unlimited=500, exec_start_ms=20, rtt_ms=2,
                 idle=[1000, IDLE_MAX], idle_kubectl_cap=20, idle_python_cap=1000,
                 stdout_bytes=256 << 20, stdin_bytes=64 << 20, keys=3000, cold_reps=5, tp_rounds=3),
    "quick": dict(fanout=[50], fanout_kubectl_cap=20, fanout_python_cap=50,
                  remote=[100, 200], remote_kubectl_cap=100, remote_python_cap=200,
                  remote_unlimited=200, exec_start_ms=20, rtt_ms=2,
                  idle=[100, 2000], idle_kubectl_cap=20, idle_python_cap=100,
                  stdout_bytes=128 << 20, stdin_bytes=32 << 20, keys=1000, cold_reps=5, tp_rounds=2),
    "smoke": dict(fanout=[4], fanout_kubectl_cap=0, fanout_python_cap=0,
                  remote=[4], remote_kubectl_cap=2, remote_python_cap=4,
                  remote_unlimited=4, remote_unlimited_python=False, exec_start_ms=5, rtt_ms=2,
                  idle=[6], idle_kubectl_cap=2, idle_python_cap=2,
                  stdout_bytes=1 << 20, stdin_bytes=1 << 20, keys=10, cold_reps=1, tp_rounds=1),
}
MODEL = ["--exec-model", "remote"]
UNLIMITED = 1 << 20  # podmux -P 0 means unlimited; pmx_bench and the pool take a number


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ---- the suite ------------------------------------------------------------------------------

class Bench:
    def __init__(self, a):
        self.a = a
        self.prof = PROFILES[a.profile]
        self.work = tempfile.mkdtemp(prefix="pmx-bench.")
        self.results = []
        self.notes = []
        b = a.build
        self.podmux = os.path.join(b, "podmux")
        self.simbin = os.path.join(b, "podmux-sim")
        self.pmx_bench = os.path.join(b, "bench", "pmx_bench")
        self.tls_ceiling = os.path.join(b, "bench", "tls_ceiling")
        self.py_fanout = os.path.join(a.src, "bench", "py_fanout.py")
        self.stdin_timeout = 60 if a.profile == "full" else 30
        self.kubectl = a.kubectl if os.access(a.kubectl, os.X_OK) else None
        self.have_python = subprocess.run(
            ["/usr/bin/python3", "-c", "import kubernetes"], capture_output=True).returncode == 0
        self.have_cli = os.access(self.podmux, os.X_OK)
        for name, ok in (("podmux CLI", self.have_cli), ("kubectl", self.kubectl),
                         ("python3-kubernetes", self.have_python)):
            if not ok:
                self.note("%s not available: its rows are missing" % name)

    def note(self, text):
        log("note:", text)
        self.notes.append(text)

    def env(self, sim, home=None):
        e = dict(os.environ)
        e["KUBECONFIG"] = sim.kubeconfig
        e["HOME"] = home or os.path.join(sim.dir, "home")
        os.makedirs(e["HOME"], exist_ok=True)
        e.pop("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", None)
        return e

    def record(self, scenario, client, param, res, **extra):
        r = {"scenario": scenario, "client": client, "param": param}
        r.update(res)
        r.update(extra)
        self.results.append(r)
        log("%-10s %-16s %-8s wall %.3fs cpu %.3fs rss %s KiB sim-cpu %.3fs %s" % (
            scenario, client, param, r.get("wall_s", 0), r.get("cpu_s", 0),
            r.get("peak_rss_kib", "-"), r.get("sim_cpu_s", 0),
            ("ERROR " + r["error"]) if r.get("error") else ""))

    def guarded(self, scenario, client, param, fn):
        """Runs one measurement; a failure becomes an error row instead of ending the suite."""
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported in the table
            self.record(scenario, client, param, {}, error="%s: %s" % (type(e).__name__, e))

    def new_sim(self, pods, name, model=True, delays=False):
        """model: the remote-cluster model (no pod processes); delays: its exec start and
        network round trip too (the fan-out wall-time scenario)."""
        extra = MODEL if model else []
        if model and delays:
            extra = extra + ["--exec-start-ms", str(self.prof["exec_start_ms"]),
                             "--rtt-ms", str(self.prof["rtt_ms"])]
        return Sim(self.simbin, pods, self.work, name, extra)

    def warm_kubectl(self, sim, env, pod):
        """kubectl keeps a discovery cache in $HOME; people running it in a loop have a warm
        one, so one unmeasured exec fills it first."""
        subprocess.run([self.kubectl, "exec", pod, "--", "true"], env=env,
                       capture_output=True, timeout=60)

    # -- 1. fan-out ------------------------------------------------------------------------
    def fanout(self):
        """Real processes: every pod's `true` is a process on these two cores."""
        ran_kubectl = ran_python = 0
        for n in self.prof["fanout"]:
            sim = self.new_sim(n, "fanout-%d" % n, model=False)
            try:
                self.fanout_one(sim, "fanout", n, CONC, ran_kubectl, ran_python,
                                self.prof["fanout_kubectl_cap"], self.prof["fanout_python_cap"])
                ran_kubectl = max(ran_kubectl, min(n, self.prof["fanout_kubectl_cap"]))
                ran_python = max(ran_python, min(n, self.prof["fanout_python_cap"]))
            finally:
                sim.stop()

    def remote(self):
        """The modelled remote cluster: CPU per session at each size (concurrency 64), and wall
        time at 64 and unlimited. Each size gets a fresh sim."""
        ran_kubectl = 0  # kubectl is one process per exec: its CPU per session does not depend
        for n in self.prof["remote"]:  # on the fan-out's size, and 100 of them take minutes here
            sim = self.new_sim(n, "remote-%d" % n, delays=True)
            try:
                self.fanout_one(sim, "remote", n, CONC, ran_kubectl, 0,
                                self.prof["remote_kubectl_cap"], self.prof["remote_python_cap"])
                ran_kubectl = max(ran_kubectl, min(n, self.prof["remote_kubectl_cap"]))
            finally:
                sim.stop()
        n = self.prof["remote_unlimited"]
        sim = self.new_sim(n, "remote-unlimited-%d" % n, delays=True)
        try:
            self.note("remote-unlimited: kubectl has no concurrency of its own (xargs -P 0 would "
                      "start %d kubectl processes of ~50 MiB at once); it is measured at -P 64 "
                      "only" % n)
            self.fanout_one(sim, "remote-unlimited", n, 0, 0, 0, 0,
                            n if self.prof.get("remote_unlimited_python", True) else 0)
        finally:
            sim.stop()

    def fanout_one(self, sim, scenario, n, conc, ran_kubectl, ran_python, kcap, pycap):
        """One fan-out of `true` over n pods by every client; conc 0 is unlimited."""
        env = self.env(sim)
        pods = sim.pods()
        assert len(pods) == n, "sim listed %d pods, expected %d" % (len(pods), n)
        sel = ["-l", "app=web"]

        def cli():
            res, out = run_one(sim, [self.podmux, "exec"] + sel + ["-P", str(conc), "--", "true"],
                               env)
            self.record(scenario, "podmux", n, res, pods=n, conc=conc,
                        error="" if res["rc"] == 0 else "exit %d" % res["rc"])

        def lib():
            res, out = run_one(sim, [self.pmx_bench, "fanout"] + sel +
                               ["-P", str(conc or UNLIMITED), "--", "true"], env)
            j = last_json(out)
            self.record(scenario, "libpodmux", n, res, pods=n, ok=j["ok"], conc=conc,
                        tls_full=j["tls_full"], tls_resumed=j["tls_resumed"],
                        inner_wall_s=j["wall_s"], error=j["error"] or fail_text(j, n))

        def python():
            res, out = run_one(sim, ["/usr/bin/python3", self.py_fanout, "fanout"] + sel +
                               ["-P", str(conc or n), "--", "true"], env)
            j = last_json(out)
            self.record(scenario, "python", n, res, pods=j["pods"], ok=j["ok"], conc=conc,
                        inner_wall_s=j["wall_s"], error=j["error"] or fail_text(j, n))

        def kubectl(k):
            self.warm_kubectl(sim, env, pods[0])
            names = os.path.join(sim.dir, "pods.txt")
            with open(names, "w") as f:
                f.write("\n".join(pods[:k]) + "\n")
            with open(names) as fin:
                res, out = run_one(sim, ["xargs", "-P", str(conc), "-I{}", self.kubectl, "exec",
                                         "{}", "--", "true"], env, stdin=fin)
            self.record(scenario, "kubectl", n, res, pods=k, conc=conc,
                        error="" if res["rc"] == 0 else "xargs exit %d" % res["rc"])

        if self.have_cli:
            self.guarded(scenario, "podmux", n, cli)
        self.guarded(scenario, "libpodmux", n, lib)
        k = min(n, pycap)
        if self.have_python and k > ran_python:
            self.guarded(scenario, "python", n, python)
        k = min(n, kcap)
        if self.kubectl and k > ran_kubectl:
            if k < n:
                self.note("%s %d pods: kubectl ran over the first %d pods only (time)"
                          % (scenario, n, k))
            self.guarded(scenario, "kubectl", n, lambda: kubectl(k))

    # -- 2. idle sessions ------------------------------------------------------------------
    def idle(self):
        """Each client gets its own fresh sim: the sim keeps a dropped session's `sleep` (as a
        kubelet keeps an exec'd process), so sessions from one client would count for the next."""
        ran_kubectl = ran_python = 0
        for n in self.prof["idle"]:
            runs = [("libpodmux", n, self.idle_lib)]
            if self.have_cli:
                runs.append(("podmux", n, self.idle_cli))
            k = min(n, self.prof["idle_python_cap"])
            if self.have_python and k > ran_python:
                runs.append(("python", k, self.idle_python))
                ran_python = k
            k = min(n, self.prof["idle_kubectl_cap"])
            if self.kubectl and k > ran_kubectl:
                runs.append(("kubectl", k, self.idle_kubectl))
                ran_kubectl = k
            for client, k, fn in runs:
                self.guarded("idle", client, k, lambda: self.with_sim(
                    k, "idle-%s-%d" % (client, k), lambda sim: fn(sim, self.env(sim), k)))

    def with_sim(self, pods, name, fn):
        sim = self.new_sim(pods, name)
        try:
            fn(sim)
        finally:
            sim.stop()

    def idle_sample(self, m, sim, n, timeout=300):
        st = sim.wait_sessions(n, timeout)
        self.open_wall = time.monotonic() - m.t0  # to within the 0.2 s of the stats polling
        time.sleep(0.5)  # let the last handshakes' transient buffers go
        rss, srss = m.sample()
        return st, rss, srss

    def idle_row(self, client, n, m, st, rss, srss, **extra):
        res = m.finish()
        active = st.get("sessionsActive", 0)
        res.update(sessions=active, rss_kib=rss, sim_rss_kib=srss,
                   rss_per_session_b=rss * 1024.0 / max(1, active),
                   sim_rss_per_session_b=srss * 1024.0 / max(1, active))
        res.update(extra)
        if active < n and not res.get("error"):
            res["error"] = "only %d of %d sessions open" % (active, n)
        self.record("idle", client, n, res)

    def idle_lib(self, sim, env, n):
        m = Measure(sim)
        p = m.spawn([self.pmx_bench, "idle", "-l", "app=web", "-n", str(n), "-P", "256",
                     "--hold", "800" if self.a.profile == "smoke" else "3000"], env, stdout=subprocess.PIPE)
        line = read_line(p.stdout, 900)
        rss, srss = m.sample()  # now: the driver holds its sessions for --hold ms only
        st = sim.wait_sessions(n, 10)
        j = json.loads(line) if line.startswith("{") else {"error": "no result: %r" % line}
        m.wait(p, 180)
        self.idle_row("libpodmux", n, m, st, rss, srss, threads=j.get("threads"),
                      marginal_per_session_b=j.get("bytes_per_session"),
                      open_wall_s=j.get("open_wall_s"), error=j.get("error", ""))

    def idle_cli(self, sim, env, n):
        m = Measure(sim)
        p = m.spawn([self.podmux, "exec", "-l", "app=web", "-P", str(n), "--", "sleep", "3600"],
                    env)
        st, rss, srss = self.idle_sample(m, sim, n)
        threads = tree_threads(p.pid)
        stop_client(p)
        m.wait(p, 120)
        self.idle_row("podmux", n, m, st, rss, srss, threads=threads, open_wall_s=self.open_wall)

    def idle_python(self, sim, env, n):
        m = Measure(sim)
        p = m.spawn(["/usr/bin/python3", self.py_fanout, "idle", "-l", "app=web", "-n", str(n)],
                    env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = read_line(p.stdout, 600)
        st, rss, srss = self.idle_sample(m, sim, n, 10)
        threads = tree_threads(p.pid)
        j = json.loads(line) if line.startswith("{") else {"error": "no result: %r" % line}
        p.stdin.close()
        m.wait(p, 120)
        self.idle_row("python", n, m, st, rss, srss, threads=threads,
                      marginal_per_session_b=j.get("bytes_per_session"),
                      error=j.get("error", ""))

    def idle_kubectl(self, sim, env, n):
        pods = sim.pods()
        self.warm_kubectl(sim, env, pods[0])
        m = Measure(sim)
        ps = [m.spawn([self.kubectl, "exec", pods[i % len(pods)], "--", "sleep", "3600"], env)
              for i in range(n)]
        st, rss, srss = self.idle_sample(m, sim, n, 300)
        threads = sum(tree_threads(p.pid) for p in ps)
        for p in ps:
            stop_client(p)
        for p in ps:
            m.wait(p, 60)
        self.idle_row("kubectl", n, m, st, rss, srss, threads=threads, processes=n)

    # -- 3. throughput ---------------------------------------------------------------------
    def throughput(self):
        """Every client runs once per round, rounds interleaved, and each row is the client's
        median round by wall time: a burst of other work on the shared cores then hits one
        round of each client instead of every run of one client."""
        rounds = self.prof["tp_rounds"]
        self.tp_samples = {}
        sim = self.new_sim(1, "throughput")
        try:
            env = self.env(sim)
            pod = sim.pods()[0]
            if self.kubectl:
                self.warm_kubectl(sim, env, pod)
            for i in range(rounds):
                log("throughput round %d of %d" % (i + 1, rounds))
                self.throughput_stdout(sim, env, pod)
                self.throughput_stdin(sim, env, pod)
                self.guarded("stdout", "tls-ceiling", self.prof["stdout_bytes"],
                             self.tls_ceiling_run)
        finally:
            sim.stop()
        self.tp_flush()

    def tp_flush(self):
        """One row per client: its first failed round if any failed, else its median round."""
        failed = {(r["scenario"], r["client"]) for r in self.results if r.get("error")}
        for key, samples in self.tp_samples.items():
            if key in failed:
                continue
            bad = [x for x in samples if x[3].get("error")]
            if bad:
                self.record(*bad[0][:3], bad[0][4], **bad[0][3])
                continue
            in_order = [round(x[4]["mb_s"], 1) for x in samples]
            samples.sort(key=lambda x: x[4]["wall_s"])
            sc, client, nbytes, extra, res = samples[len(samples) // 2]
            extra.update(rounds=len(samples), mb_s_rounds=in_order)
            self.record(sc, client, nbytes, res, **extra)

    def tp_row(self, scenario, client, nbytes, res, moved=None, err=""):
        moved = nbytes if moved is None else moved
        wall = res.get("inner_wall_s") or res["wall_s"]
        res.update(bytes=moved, mb_s=moved / 1e6 / res["wall_s"],
                   cpu_s_per_gb=res["cpu_s"] / (moved / 1e9) if moved else None)
        if not err and res.get("rc"):
            err = "exit %d" % res["rc"]
        if not err and moved != nbytes:
            err = "moved %d of %d bytes" % (moved, nbytes)
        log("%-10s %-16s %-8s wall %.3fs cpu %.3fs (one round)" % (
            scenario, client, nbytes, res["wall_s"], res["cpu_s"]))
        self.tp_samples.setdefault((scenario, client), []).append(
            (scenario, client, nbytes, dict(inner_mb_s=moved / 1e6 / wall, error=err), res))

    def throughput_stdout(self, sim, env, pod):
        nb = self.prof["stdout_bytes"]
        cmd = ["--", "head", "-c", str(nb), "/dev/zero"]

        def lib():
            res, out = run_one(sim, [self.pmx_bench, "stdout", "--pod", pod, "--bytes", str(nb)],
                               env)
            j = last_json(out)
            res["inner_wall_s"] = j["wall_s"]
            self.tp_row("stdout", "libpodmux", nb, res, j["bytes"], j["error"])

        def client(name, argv):
            res, _ = run_one(sim, argv + [pod] + cmd, env, discard=True)
            self.tp_row("stdout", name, nb, res)

        self.guarded("stdout", "libpodmux", nb, lib)
        if self.have_cli:
            self.guarded("stdout", "podmux", nb,
                         lambda: client("podmux", [self.podmux, "exec"]))
        if self.kubectl:
            self.guarded("stdout", "kubectl", nb,
                         lambda: client("kubectl", [self.kubectl, "exec"]))

    def throughput_stdin(self, sim, env, pod):
        nb = self.prof["stdin_bytes"]
        data = os.path.join(self.work, "stdin.bin")
        # Zeros written for real, once: the kernel zero-fills a sparse file's holes on every
        # read (perf: a quarter of a client's CPU); written pages come from the page cache.
        if not os.path.exists(data):
            block = bytes(1 << 20)
            with open(data, "wb") as f:
                for _ in range(nb >> 20):
                    f.write(block)
                f.write(bytes(nb & ((1 << 20) - 1)))
        cmd = ["--", "sh", "-c", "cat >/dev/null"]

        def lib(name, poll):
            res, out = run_one(sim, [self.pmx_bench, "stdin", "--pod", pod, "--bytes", str(nb),
                                     "--drain-poll", poll], env, timeout=self.stdin_timeout)
            if res["rc"] == -signal.SIGKILL:
                raise RuntimeError("timed out after %d s" % self.stdin_timeout)
            j = last_json(out)
            res["inner_wall_s"] = j["wall_s"]
            self.tp_row("stdin", name, nb, res, j["bytes"], j["error"])

        def client(name, argv):
            with open(data, "rb") as fin:
                res, _ = run_one(sim, argv + ["-i", pod] + cmd, env, stdin=fin,
                                 timeout=self.stdin_timeout)
            if res["rc"] == -signal.SIGKILL:
                raise RuntimeError("timed out after %d s" % self.stdin_timeout)
            self.tp_row("stdin", name, nb, res)

        self.guarded("stdin", "libpodmux", nb, lambda: lib("libpodmux", "0"))
        self.guarded("stdin", "libpodmux-drainpoll", nb, lambda: lib("libpodmux-drainpoll", "1"))
        if self.have_cli:
            self.guarded("stdin", "podmux", nb, lambda: client("podmux", [self.podmux, "exec"]))
        if self.kubectl:
            self.guarded("stdin", "kubectl", nb,
                         lambda: client("kubectl", [self.kubectl, "exec"]))

    def tls_ceiling_run(self):
        nb = self.prof["stdout_bytes"]
        env = dict(os.environ)
        if measure.PIN["sim"] is not None:  # the writer where the sim would be
            env["PMX_BENCH_WRITER_CPU"] = measure.PIN["sim"]
        res, out = run_one(None, [self.tls_ceiling, "--bytes", str(nb)], env)
        j = last_json(out)
        # Both ends are ours here: client CPU is the reader's, the writer's is the "server".
        res.update(cpu_s=j["client_cpu_s"], sim_cpu_s=j["server_cpu_s"], inner_wall_s=j["wall_s"])
        self.tp_row("stdout", "tls-ceiling", nb, res, j["bytes"], "" if j["ok"] else "not ok")

    # -- 4. keystrokes ---------------------------------------------------------------------
    def keys(self):
        sim = self.new_sim(1, "keys")
        try:
            env = self.env(sim)
            pod = sim.pods()[0]
            n = self.prof["keys"]

            def lib():
                res, out = run_one(sim, [self.pmx_bench, "keys", "--pod", pod, "-n", str(n)], env)
                j = last_json(out)
                self.record("keys", "libpodmux", n, res, keys=j["keys"], p50_us=j["p50_us"],
                            p99_us=j["p99_us"], mean_us=j["mean_us"], max_us=j["max_us"],
                            error=j["error"] or ("" if j["keys"] == n else "short"))

            self.guarded("keys", "libpodmux", n, lib)
            sim.wait_idle()
            if self.have_cli:
                self.guarded("keys", "podmux", n, lambda: self.keys_pty(
                    sim, env, "podmux", [self.podmux, "exec", "-i", "-t", pod, "--", "cat"], n))
                sim.wait_idle()
            if self.kubectl:
                self.warm_kubectl(sim, env, pod)
                self.guarded("keys", "kubectl", n, lambda: self.keys_pty(
                    sim, env, "kubectl", [self.kubectl, "exec", "-i", "-t", pod, "--", "cat"], n))
        finally:
            sim.stop()

    def keys_pty(self, sim, env, client, argv, n):
        """Drives a CLI on a pseudo-terminal like a person typing: one byte, wait for its echo
        (made by the remote tty), next byte. Starts once the CLI has put the local terminal in
        raw mode (else the local line discipline would echo) and the session is open."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        m = Measure(sim)
        errf = tempfile.TemporaryFile()
        p = m.spawn(argv, env, stdin=slave, stdout=slave, stderr=errf)
        os.close(slave)
        try:
            lat = self.type_keys(sim, master, p, n)
        finally:
            os.close(master)
        rc = m.wait(p, 30)
        res = m.finish()
        lat.sort()
        err = "" if len(lat) == n else "only %d of %d echoes" % (len(lat), n)
        errf.seek(0)
        if err:
            err += " (stderr: %s)" % errf.read().decode(errors="replace")[-200:]
        self.record("keys", client, n, res, keys=len(lat), rc=rc,
                    p50_us=pct(lat, 50), p99_us=pct(lat, 99),
                    mean_us=statistics.mean(lat) if lat else 0, max_us=lat[-1] if lat else 0,
                    error=err)

    def type_keys(self, sim, master, p, n):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and still_running(p.pid):
            raw = not (termios.tcgetattr(master)[3] & termios.ECHO)
            if raw and sim.wait_sessions(1, 1).get("sessionsActive", 0) >= 1:
                break
            drain(master, 0.05)
        time.sleep(0.3)
        drain(master, 0.05)
        lat = []
        for i in range(n):
            ch = bytes([ord("a") + i % 26])
            t0 = time.perf_counter_ns()
            os.write(master, ch)
            if not wait_for(master, ch, 5.0):
                break
            lat.append((time.perf_counter_ns() - t0) / 1e3)
        os.write(master, b"\r\x04")  # end the line, then EOF: cat exits
        end = time.monotonic() + 10
        while still_running(p.pid) and time.monotonic() < end:
            if not drain(master, 0.1):
                time.sleep(0.05)
        return lat

    # -- 5. cold start ---------------------------------------------------------------------
    def cold(self):
        sim = self.new_sim(1, "cold")
        try:
            env = self.env(sim)
            pod = sim.pods()[0]
            reps = self.prof["cold_reps"]
            if self.have_cli:
                self.guarded("cold", "podmux", 1, lambda: self.cold_runs(
                    sim, "podmux", [self.podmux, "exec", pod, "--", "true"], env, reps))
            if self.kubectl:
                self.warm_kubectl(sim, env, pod)
                self.guarded("cold", "kubectl", 1, lambda: self.cold_runs(
                    sim, "kubectl", [self.kubectl, "exec", pod, "--", "true"], env, reps))
                self.guarded("cold", "kubectl-nocache", 1, lambda: self.cold_runs(
                    sim, "kubectl-nocache", [self.kubectl, "exec", pod, "--", "true"], env,
                    reps, fresh_home=True))
            if self.have_python:
                self.guarded("cold", "python", 1, lambda: self.cold_runs(
                    sim, "python", ["/usr/bin/python3", self.py_fanout, "single", "--pod", pod,
                                    "--", "true"], env, reps))
        finally:
            sim.stop()

    def cold_runs(self, sim, client, argv, env, reps, fresh_home=False):
        runs = []
        for i in range(reps):
            e = dict(env)
            if fresh_home:
                e["HOME"] = tempfile.mkdtemp(prefix="home.", dir=sim.dir)
            res, _ = run_one(sim, argv, e, timeout=60)
            if res["rc"] != 0:
                raise RuntimeError("exit %d" % res["rc"])
            runs.append(res)
        res = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "rc"}
        res["wall_min_s"] = min(r["wall_s"] for r in runs)
        res["wall_max_s"] = max(r["wall_s"] for r in runs)
        self.record("cold", client, 1, res, reps=reps, error="")

    # -- driver ----------------------------------------------------------------------------
    def run(self, scenarios):
        t0 = time.monotonic()
        for s in scenarios:
            log("=== scenario", s)
            getattr(self, s)()
        return time.monotonic() - t0


def fail_text(j, n):
    bad = j.get("failed", 0) + j.get("nonzero", 0)
    return "%d of %d failed" % (bad, n) if bad else ""


def read_line(f, timeout):
    r, _, _ = select.select([f], [], [], timeout)
    return f.readline().decode(errors="replace").strip() if r else ""


def drain(fd, timeout):
    """Reads what the pty has within timeout; returns the bytes (b"" on timeout or EOF)."""
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""


def wait_for(fd, ch, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            if ch in data:
                return True


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0
    i = min(len(sorted_vals) - 1, (len(sorted_vals) * p) // 100)
    return sorted_vals[i]


def raise_fd_limit():
    """20,000 sessions need a descriptor each in the client and in the sim (more for real
    processes: pipes): raise the soft limit (and the hard one when allowed: root) for us and
    every process we start."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in ((262144, max(hard, 262144)), (65536, max(hard, 65536)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, want)
            return
        except (ValueError, OSError):
            continue


CORE_LOOP = "import time\nt=time.process_time()\nx=0\nfor i in range(3000000): x+=i\nprint(time.process_time()-t)"


def core_speeds(cores):
    """CPU seconds of the same Python loop on each core (best of two, alternating)."""
    best = {c: float("inf") for c in cores}
    for _ in range(2):
        for c in cores:
            out = subprocess.run(["taskset", "-c", str(c), sys.executable, "-c", CORE_LOOP],
                                 capture_output=True, text=True, timeout=60).stdout
            best[c] = min(best[c], round(float(out.strip()), 3))
    log("core speeds (s for the same loop):", best)
    return best


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def machine_info():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import resource
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "python": platform.python_version()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="build dir with podmux, podmux-sim, bench/")
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True, help="results.json path")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--kubectl", default="/usr/bin/kubectl")
    ap.add_argument("--rev", default="?", help="the commit measured (for the report)")
    ap.add_argument("--only", default="remote,fanout,idle,throughput,keys,cold")
    ap.add_argument("--no-pin", action="store_true", help="do not pin clients and sim to cores")
    a = ap.parse_args()
    raise_fd_limit()
    cpus = sorted(os.sched_getaffinity(0))
    speed0 = {}
    if not a.no_pin and len(cpus) >= 2:
        # The cores of this VM are not equally fast (seen: one took 2x as long as the other for
        # the same loop, and which one changes over time). The clients go on the faster one,
        # the sim on the other; both timings are reported, at the start and at the end.
        speed0 = core_speeds(cpus[:2])
        fast, slow = sorted(cpus[:2], key=lambda c: speed0[c])
        measure.PIN.update(client=str(fast), sim=str(slow))
    b = Bench(a)
    load0 = os.getloadavg()
    up0 = uptime()
    wall = b.run(a.only.split(","))
    load1 = os.getloadavg()
    up1 = uptime()
    speed1 = core_speeds(cpus[:2]) if speed0 else {}
    doc = {"profile": a.profile, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "build": a.build, "rev": a.rev, "machine": machine_info(), "suite_wall_s": wall,
           "params": b.prof, "concurrency": CONC,
           "loadavg_start": load0, "loadavg_end": load1, "uptime_start": up0, "uptime_end": up1,
           "pin": dict(measure.PIN), "model": MODEL, "notes": b.notes, "results": b.results,
           "core_loop_s_start": {str(k): v for k, v in speed0.items()},
           "core_loop_s_end": {str(k): v for k, v in speed1.items()}}
    try:
        doc["kubectl_version"] = subprocess.run(
            ["/usr/lib/google-cloud-sdk/bin/kubectl.1.32", "version", "--client"],
            capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        doc["kubectl_version"] = "?"
    try:
        import kubernetes
        doc["python_client_version"] = kubernetes.__version__
    except ImportError:
        doc["python_client_version"] = "-"
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
    errors = [r for r in b.results if r.get("error")]
    log("done in %.0f s; %d rows, %d with errors" % (wall, len(b.results), len(errors)))
    subprocess.run(["rm", "-rf", b.work])
    return 0


if __name__ == "__main__":
    sys.exit(main())
