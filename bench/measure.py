"""measure: processes and podmux-sim for bench/harness.py.

Sim starts one podmux-sim and talks to its REST/stats endpoints; Measure spawns client
processes under GNU time and records wall, CPU (wait4 of the whole tree), peak RSS (summed over
the tree from /proc) and the sim's own CPU and RSS over the same interval.
"""
import base64
import json
import os
import select
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request

import yaml

TICK = os.sysconf("SC_CLK_TCK")
# Cores for the clients and for podmux-sim (taskset -c), set by the harness: each client on one
# core and the sim on the other, so a client's figures are not its share of a core it fights
# the server for. None: not pinned.
PIN = {"client": None, "sim": None}
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


# ---- /proc helpers ---------------------------------------------------------------------------

def proc_stat(pid):
    """Fields of /proc/PID/stat after the command name, indexed so that f[k] is field k+3."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def proc_rss_kib(pid):
    try:
        return int(proc_stat(pid)[21]) * PAGE_KIB
    except (OSError, ValueError, IndexError):
        return 0


def proc_children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def tree_rss_kib(roots):
    """Summed RSS of all descendants of roots (the roots are GNU time wrappers)."""
    seen, stack, total = set(roots), [c for r in roots for c in proc_children(r)], 0
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += proc_rss_kib(pid)
        stack.extend(proc_children(pid))
    return total


def proc_cpu_ticks(pid):
    f = proc_stat(pid)
    return int(f[11]) + int(f[12]), int(f[13]) + int(f[14])  # self, reaped children


# ---- podmux-sim --------------------------------------------------------------------------------

class Sim:
    """One podmux-sim process with N pods (all labelled app=web), on a free loopback port."""

    def __init__(self, binary, pods, workdir, name, extra=()):
        """extra: more podmux-sim flags (the remote-cluster model: --exec-model remote ...)."""
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.errlog = open(os.path.join(self.dir, "sim.log"), "w")
        pin = ["taskset", "-c", PIN["sim"]] if PIN["sim"] is not None else []
        self.p = subprocess.Popen(
            pin + [binary, "--listen", "127.0.0.1:0", "--pods", str(pods), "--kubeconfig-out",
                   self.kubeconfig, "--state-dir", os.path.join(self.dir, "state")] + list(extra),
            stdout=subprocess.PIPE, stderr=self.errlog, stdin=subprocess.DEVNULL)
        self.pid = self.p.pid
        r, _, _ = select.select([self.p.stdout], [], [], 60)
        line = self.p.stdout.readline().decode() if r else ""
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError("podmux-sim did not start: %r (see %s)" % (line, self.dir))
        self.url = line.split()[1]
        cfg = yaml.safe_load(open(self.kubeconfig))
        cl = cfg["clusters"][0]["cluster"]
        self.token = next(u["user"]["token"] for u in cfg["users"] if "token" in u["user"])
        ca = base64.b64decode(cl["certificate-authority-data"]).decode()
        self.ssl = ssl.create_default_context(cadata=ca)

    def get(self, path):
        req = urllib.request.Request(self.url + path,
                                     headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, context=self.ssl, timeout=30) as r:
            return json.loads(r.read().decode())

    def pods(self, selector="app=web"):
        items = self.get("/api/v1/namespaces/default/pods?labelSelector=" + selector)["items"]
        return [p["metadata"]["name"] for p in items]

    def stats(self):
        return self.get("/podmux-sim/stats")

    def alive(self):
        return self.p.poll() is None

    def wait_sessions(self, n, timeout):
        """Waits until the sim holds n open sessions; returns the last stats seen."""
        deadline, st = time.monotonic() + timeout, {}
        while time.monotonic() < deadline and self.alive():
            try:
                st = self.stats()
            except OSError:  # a sim busy with a thousand handshakes may answer late
                continue
            if st.get("sessionsActive", 0) >= n:
                return st
            time.sleep(0.2)
        return st

    def wait_idle(self, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            try:
                if self.stats().get("sessionsActive", 0) == 0:
                    return
            except OSError:
                pass
            time.sleep(0.1)

    def stop(self):
        # The "pod" processes are session leaders: they outlive the sim (as exec'd processes
        # outlive a dropped stream on a real kubelet), so end them first.
        leftovers = descendants(self.pid) if self.p.poll() is None else []
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.errlog.close()


# ---- measuring client processes ---------------------------------------------------------------

class Measure:
    """Spawns client processes and measures them (and the sim) until finish()."""

    def __init__(self, sim, interval=0.05):
        self.sim, self.interval = sim, interval
        self.roots, self.procs = [], []
        self.cpu_user = self.cpu_sys = 0.0
        self.maxrss_single = 0
        self.peak_tree = self.peak_sim = 0
        self.sim_cpu0 = proc_cpu_ticks(sim.pid) if sim else (0, 0)
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.t0 = time.monotonic()
        self.t_end = None
        self.thread.start()

    def _poll(self):
        while not self.stop_ev.wait(self.interval):
            self.sample()

    def sample(self):
        with self.lock:
            roots = list(self.roots)
        rss = tree_rss_kib(roots)
        srss = proc_rss_kib(self.sim.pid) if self.sim else 0
        with self.lock:
            self.peak_tree = max(self.peak_tree, rss)
            self.peak_sim = max(self.peak_sim, srss)
        return rss, srss

    def spawn(self, cmd, env, **kw):
        """Starts cmd under GNU time, whose %M is the largest single process's peak RSS: our own
        wait4's ru_maxrss would count the Python parent's memory copied by fork."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        tf = tempfile.NamedTemporaryFile(prefix="time.", delete=False)
        tf.close()
        pin = ["taskset", "-c", PIN["client"]] if PIN["client"] is not None else []
        p = subprocess.Popen(["/usr/bin/time", "-q", "-f", "%M", "-o", tf.name] + pin + cmd,
                             env=env, start_new_session=True, **kw)
        p.time_file = tf.name
        with self.lock:
            self.roots.append(p.pid)
            self.procs.append(p)
        return p

    def wait(self, p, timeout):
        """Reaps p with wait4 (its rusage includes all the descendants it waited for)."""
        timer = threading.Timer(timeout, lambda: kill_group(p, signal.SIGKILL))
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        self.t_end = time.monotonic()
        p.returncode = os.waitstatus_to_exitcode(status)
        try:
            with open(p.time_file) as f:
                lines = [x for x in f.read().split() if x.isdigit()]
            os.unlink(p.time_file)
            maxrss = int(lines[-1]) if lines else 0
        except OSError:
            maxrss = 0
        with self.lock:
            self.roots.remove(p.pid)
            self.cpu_user += ru.ru_utime
            self.cpu_sys += ru.ru_stime
            self.maxrss_single = max(self.maxrss_single, maxrss)
        return p.returncode

    def finish(self):
        self.stop_ev.set()
        self.thread.join()
        end = self.t_end or time.monotonic()
        s1 = proc_cpu_ticks(self.sim.pid) if self.sim else (0, 0)
        return {"wall_s": end - self.t0, "cpu_s": self.cpu_user + self.cpu_sys,
                "cpu_user_s": self.cpu_user, "cpu_sys_s": self.cpu_sys,
                "peak_rss_kib": max(self.peak_tree, self.maxrss_single),
                "sim_cpu_s": (s1[0] - self.sim_cpu0[0]) / TICK,
                "sim_children_cpu_s": (s1[1] - self.sim_cpu0[1]) / TICK,
                "sim_peak_rss_kib": self.peak_sim}


def stop_client(p, sig=signal.SIGTERM):
    """Signals every process under the GNU time wrapper, so time still reaps them and its
    rusage (and so ours) includes their CPU."""
    for pid in descendants(p.pid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def descendants(pid):
    out, stack = [], proc_children(pid)
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(proc_children(c))
    return out


def still_running(pid):
    """True while pid has not exited (does not reap it: our wait4 must)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


def kill_group(p, sig):
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_one(sim, cmd, env, timeout=600, discard=False, **kw):
    """Runs one client command to completion; returns (metrics, stdout text). discard: stdout
    goes to /dev/null (a throughput run: writing the bytes to a file is the kernel's cost, not
    the client's, and libpodmux and the TLS ceiling drop them too)."""
    out = open(os.devnull, "w+b") if discard else tempfile.TemporaryFile()
    m = Measure(sim)
    p = m.spawn(cmd, env, stdout=out, **kw)
    rc = m.wait(p, timeout)
    res = m.finish()
    res["rc"] = rc
    out.seek(0)
    return res, out.read().decode(errors="replace")


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON result in output: %r" % text[-300:])


def tree_threads(pid):
    """Threads of every process under pid (the GNU time wrapper itself excluded)."""
    return sum(proc_threads(d) for d in descendants(pid))


def proc_threads(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 0
