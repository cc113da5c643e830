#!/usr/bin/python3
"""report: turns bench/harness.py's results.json into RESULTS.md (tables, targets met / not met)
and PNG plots (Debian's python3-matplotlib). bench/findings.md, written by hand after looking at
a run (profiles of missed targets), is included verbatim.

  report.py RESULTS.json OUTDIR
"""
import json
import os
import sys

PLOTS = []


def fmt(v, nd=2):
    if v is None or v == "":
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return ("%%.%df" % nd) % v


def rows(doc, scenario, client=None):
    return [r for r in doc["results"] if r["scenario"] == scenario and
            (client is None or r["client"] == client) and not r.get("error")]


def one(doc, scenario, client, param=None):
    rs = [r for r in rows(doc, scenario, client) if param is None or r["param"] == param]
    return rs[-1] if rs else None


def podmux_client(doc, scenario):
    """The CLI when it ran, else the library driver (the report says which)."""
    return "podmux" if rows(doc, scenario, "podmux") else "libpodmux"


def table(head, body):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(out) + "\n"


def errors_table(doc):
    errs = [r for r in doc["results"] if r.get("error")]
    if not errs:
        return ""
    return "\n**Failed runs** (excluded from the tables above):\n\n" + table(
        ["scenario", "client", "param", "error"],
        [[r["scenario"], r["client"], r["param"], r["error"].replace("|", "/")[:160]]
         for r in errs])


# ---- targets ---------------------------------------------------------------------------------

def per_pod(r):
    return r["wall_s"] / r["pods"], r["cpu_s"] / r["pods"]


def remote_targets(doc, out):
    """Issue 15: fan-out on the modelled remote cluster, wall and client CPU, and CPU per
    session, at 500 pods (or the largest size run)."""
    ns = sorted({r["param"] for r in rows(doc, "remote")})
    if not ns:
        out.append(["fan-out on the modelled remote cluster", "not run", "-", "not measured"])
        return
    n = 500 if 500 in ns else ns[-1]
    pc = podmux_client(doc, "remote")
    p = one(doc, "remote", pc, n)
    if not p:
        out.append(["fan-out %d pods (remote model)" % n, "no podmux run", "-", "not measured"])
        return
    pw, pcpu = per_pod(p)
    for name, what, want in (("kubectl", "wall", 100), ("python", "wall", 10),
                             ("kubectl", "CPU", 1000), ("python", "CPU", 25)):
        # kubectl (one process per exec) may have run at a smaller size only: per pod then
        ref = one(doc, "remote", name, n) or (rows(doc, "remote", name) or [None])[-1]
        label = "fan-out %d pods, remote model, -P 64: %s %s %s >= %dx %s" % (
            n, pc, what, name, want, "faster" if what == "wall" else "less")
        if not ref:
            out.append([label, "-", "%dx" % want, "not measured"])
            continue
        rw, rcpu = per_pod(ref)
        ratio = (rw / pw) if what == "wall" else (rcpu / pcpu if pcpu else float("inf"))
        basis = "" if ref["pods"] == n else " (per pod; %s ran %d pods)" % (name, ref["pods"])
        out.append([label, "%.0fx%s" % (ratio, basis), "%dx" % want, met(ratio >= want)])
    pu = one(doc, "remote-unlimited", pc, n)
    pyu = one(doc, "remote-unlimited", "python", n)
    if pu and pyu:
        ratio = per_pod(pyu)[0] / per_pod(pu)[0]
        out.append(["fan-out %d pods, remote model, unlimited: %s wall python >= 10x faster"
                    % (n, pc), "%.0fx" % ratio, "10x", met(ratio >= 10)])
    for c in ("podmux", "libpodmux"):
        r = one(doc, "remote", c, n)
        if r:
            ms = 1e3 * r["cpu_s"] / r["pods"]
            out.append(["client CPU per session, %s, %d pods, -P 64 (whole process / pods)"
                        % (c, n), "%.3f ms" % ms, "<= 0.15 ms", met(ms <= 0.15)])


def marginal_cpu(doc, scenario="remote"):
    """CPU per added session between the smallest and the largest fan-out: the process's fixed
    costs (start, kubeconfig, the first full TLS handshake) cancel out."""
    ns = sorted({r["param"] for r in rows(doc, scenario)})
    body = []
    for c in ("podmux", "libpodmux", "python", "kubectl"):
        a, b = one(doc, scenario, c, ns[0]) if ns else None, one(doc, scenario, c, ns[-1]) if ns else None
        if a and b and b["pods"] > a["pods"]:
            body.append([c, "%d -> %d" % (a["pods"], b["pods"]),
                         "%.3f" % (1e3 * (b["cpu_s"] - a["cpu_s"]) / (b["pods"] - a["pods"]))])
    if not body:
        return ""
    return ("\nMarginal client CPU per session (CPU of the larger fan-out minus the smaller one's, "
            "per added pod):\n\n" + table(["client", "pods", "ms per added session"], body))


def met(ok):
    return "**met**" if ok else "**NOT met**"


def idle_targets(doc, out):
    ns = sorted({r["param"] for r in rows(doc, "idle", "libpodmux")})
    for client in ("podmux", "libpodmux"):
        r = one(doc, "idle", client, ns[-1]) if ns else None
        if not r:
            continue
        per = r["rss_per_session_b"] / 1024
        marg = r.get("marginal_per_session_b")
        text = "%.1f KiB (total RSS / %d sessions)" % (per, r["sessions"])
        if marg:
            text += "; marginal %.1f KiB" % (marg / 1024)
        out.append(["idle: %s, %s sessions at <= 48 KiB each, one thread" % (
            client, "{:,}".format(r["param"])), text + ", %s thread(s)" % r.get("threads"),
            "<= 48 KiB, 1 thread", met(per <= 48 and r["sessions"] >= r["param"] and
                                       r.get("threads") == 1)])


def throughput_targets(doc, out):
    c = one(doc, "stdout", "tls-ceiling")
    for pc in ("podmux", "libpodmux"):
        p = one(doc, "stdout", pc)
        if p and c:
            ratio = p["mb_s"] / c["mb_s"]
            # Faster than plain TLS alone is impossible on a quiet machine: the rounds were noise.
            out.append(["stdout: %s vs the plain mbedTLS ceiling" % pc, "%.0f%% (%.0f vs %.0f MB/s)"
                        % (100 * ratio, p["mb_s"], c["mb_s"]), ">= 90%",
                        "**unreliable** (above the ceiling: load)" if ratio > 1.1
                        else met(ratio >= 0.9)])
    p, lib = one(doc, "stdout", "podmux"), one(doc, "stdout", "libpodmux")
    if p and lib and lib.get("cpu_s_per_gb"):
        ratio = p["cpu_s_per_gb"] / lib["cpu_s_per_gb"]
        out.append(["stdout: podmux CLI CPU/GB within 10% of libpodmux", "%.2f vs %.2f s/GB (+%.0f%%)"
                    % (p["cpu_s_per_gb"], lib["cpu_s_per_gb"], 100 * (ratio - 1)), "<= +10%",
                    met(ratio <= 1.1)])


def keys_targets(doc, out):
    k = one(doc, "keys", "kubectl")
    for client in ("podmux", "libpodmux"):
        p = one(doc, "keys", client)
        if p and k:
            out.append(["keystroke echo: %s p99 <= kubectl p50" % client, "%.0f us vs %.0f us" % (
                p["p99_us"], k["p50_us"]), "<=", met(p["p99_us"] <= k["p50_us"])])


def cold_targets(doc, out):
    p = one(doc, "cold", "podmux")
    for ref in ("kubectl", "kubectl-nocache"):
        k = one(doc, "cold", ref)
        if p and k:
            ratio = p["wall_s"] / k["wall_s"]
            out.append(["cold `exec true`: podmux <= 1/5 of %s" % ref, "%.2f (%.0f vs %.0f ms)" % (
                ratio, 1e3 * p["wall_s"], 1e3 * k["wall_s"]), "<= 0.20", met(ratio <= 0.2)])
    if not p:
        out.append(["cold `exec true` <= 1/5 of kubectl", "no podmux CLI run", "<= 0.20",
                    "not measured"])


# ---- scenario tables ---------------------------------------------------------------------------

def sim_util(r):
    return r.get("sim_cpu_s", 0) / r["wall_s"] if r.get("wall_s") else 0


def fanout_section(doc, scenario="fanout"):
    body = []
    for r in sorted(rows(doc, scenario), key=lambda r: (r["param"], r["client"])):
        w, c = per_pod(r)
        body.append([r["param"], r["client"], r["pods"], fmt(r["wall_s"], 3), fmt(1e3 * w, 2),
                     fmt(r["cpu_s"], 3), fmt(1e3 * c, 2), fmt(r["peak_rss_kib"] / 1024, 1),
                     fmt(r["sim_cpu_s"], 2), fmt(r["sim_children_cpu_s"], 2),
                     "%s/%s" % (r.get("tls_full", "-"), r.get("tls_resumed", "-"))])
    s = table(["pods", "client", "pods run", "wall s", "wall/pod ms", "client CPU s",
               "CPU/pod ms", "peak RSS MiB", "sim CPU s", "pod procs CPU s",
               "TLS full/resumed"], body)
    # ratios at each size, per pod
    ratio_rows = []
    for n in sorted({r["param"] for r in rows(doc, scenario)}):
        p = one(doc, scenario, podmux_client(doc, scenario), n)
        if not p:
            continue
        pw, pc = per_pod(p)
        line = [n]
        for ref in ("kubectl", "python"):
            rr = one(doc, scenario, ref, n)
            if rr:
                rw, rc = per_pod(rr)
                line += ["%.0fx" % (rw / pw), "%.0fx" % (rc / pc if pc else 0)]
            else:
                line += ["-", "-"]
        ratio_rows.append(line)
    s += "\nRatios per pod (%s as the base):\n\n" % podmux_client(doc, scenario)
    s += table(["pods", "kubectl wall", "kubectl CPU", "python wall", "python CPU"], ratio_rows)
    return s


def idle_section(doc):
    body = []
    for r in sorted(rows(doc, "idle"), key=lambda r: (r["param"], r["client"])):
        body.append([r["param"], r["client"], r["sessions"], fmt(r["rss_kib"] / 1024, 1),
                     fmt(r["rss_per_session_b"] / 1024, 1),
                     fmt((r.get("marginal_per_session_b") or 0) / 1024, 1)
                     if r.get("marginal_per_session_b") else "-",
                     r.get("threads", "-"), fmt(r.get("open_wall_s"), 1), fmt(r["cpu_s"], 2),
                     fmt(1e3 * r["cpu_s"] / max(1, r["sessions"]), 2),
                     fmt(r["sim_rss_per_session_b"] / 1024, 1), fmt(r["sim_cpu_s"], 2),
                     fmt(r["sim_peak_rss_kib"] / 1024, 0)])
    return table(["N", "client", "open", "client RSS MiB", "RSS/session KiB",
                  "marginal KiB/session", "threads", "time to open all s", "client CPU s",
                  "client CPU/session ms", "sim RSS/session KiB", "sim CPU s",
                  "sim peak RSS MiB"], body)


def throughput_section(doc):
    body = []
    c = one(doc, "stdout", "tls-ceiling")
    for sc in ("stdout", "stdin"):
        for r in rows(doc, sc):
            body.append([sc, r["client"], fmt(r["bytes"] / 2 ** 20, 0), fmt(r["wall_s"], 2),
                         fmt(r["mb_s"], 1), "%.0f%%" % (100 * r["mb_s"] / c["mb_s"]) if c else "-",
                         fmt(r.get("inner_mb_s"), 1), fmt(r["cpu_s"], 2),
                         fmt(r.get("cpu_s_per_gb"), 2), fmt(r["peak_rss_kib"] / 1024, 1),
                         fmt(r["sim_cpu_s"], 2), fmt(sim_util(r), 2),
                         " / ".join("%.0f" % v for v in r.get("mb_s_rounds", []))])
    return table(["direction", "client", "MiB", "wall s", "MB/s", "of ceiling", "MB/s (in-process)",
                  "client CPU s", "CPU s/GB", "peak RSS MiB", "server CPU s",
                  "server CPU/wall", "MB/s of each round"], body)


def keys_section(doc):
    body = [[r["client"], r["keys"], fmt(r["p50_us"], 0), fmt(r["p99_us"], 0),
             fmt(r["mean_us"], 0), fmt(r["max_us"], 0), fmt(r["cpu_s"], 3),
             fmt(r["sim_cpu_s"], 3)] for r in rows(doc, "keys")]
    return table(["client", "keys", "p50 us", "p99 us", "mean us", "max us", "client CPU s",
                  "sim CPU s"], body)


def cold_section(doc):
    body = [[r["client"], r.get("reps", 1), fmt(1e3 * r["wall_s"], 1),
             fmt(1e3 * r.get("wall_min_s", 0), 1), fmt(1e3 * r.get("wall_max_s", 0), 1),
             fmt(1e3 * r["cpu_s"], 1), fmt(r["peak_rss_kib"] / 1024, 1),
             fmt(1e3 * r["sim_cpu_s"], 1)] for r in rows(doc, "cold")]
    return table(["client", "runs", "median wall ms", "min ms", "max ms", "CPU ms",
                  "peak RSS MiB", "sim CPU ms"], body)


def sim_section(doc):
    body = []
    for r in doc["results"]:
        if r.get("error") or r["client"] == "tls-ceiling" or not r.get("wall_s"):
            continue
        u = sim_util(r)
        body.append([r["scenario"], r["client"], r["param"], fmt(r["sim_cpu_s"], 2),
                     fmt(r["cpu_s"], 2), fmt(u, 2), fmt(r["sim_peak_rss_kib"] / 1024, 1),
                     "server-bound" if u >= 0.85 else ""])
    return table(["scenario", "client", "param", "sim CPU s", "client CPU s",
                  "sim CPU / wall", "sim peak RSS MiB", "limit"], body)


# ---- plots -----------------------------------------------------------------------------------

def plots(doc, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "python3-matplotlib is not installed: no plots (deps/install.sh installs it).\n"
    clients = ["podmux", "libpodmux", "kubectl", "python"]

    def save(fig, name, title):
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, name), dpi=90)
        plt.close(fig)
        PLOTS.append((name, title))

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for c in clients:
        rs = sorted(rows(doc, "remote", c), key=lambda r: r["pods"])
        if rs:
            axes[0].plot([r["param"] for r in rs], [r["wall_s"] for r in rs], "o-", label=c)
            axes[1].plot([r["param"] for r in rs], [1e3 * r["cpu_s"] / r["pods"] for r in rs],
                         "o-", label=c)
        rs = sorted(rows(doc, "fanout", c), key=lambda r: r["pods"])
        if rs:
            axes[2].plot([r["param"] for r in rs], [r["wall_s"] for r in rs], "o-", label=c)
    for ax, t in zip(axes, ("remote model: wall time (s)", "remote model: client CPU per "
                            "session (ms)", "real processes: wall time (s)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("pods (exec true, -P 64)")
        ax.set_title(t)
        ax.legend()
    save(fig, "fanout.png", "Fan-out of `true`: the modelled remote cluster and real processes")

    fig, ax = plt.subplots(figsize=(6, 4))
    for c in clients:
        rs = sorted(rows(doc, "idle", c), key=lambda r: r["param"])
        if rs:
            ax.plot([r["param"] for r in rs], [r["rss_per_session_b"] / 1024 for r in rs], "o-",
                    label=c)
    ax.axhline(48, color="grey", linestyle="--", label="48 KiB target")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent idle sessions")
    ax.set_ylabel("client RSS per session (KiB)")
    ax.legend()
    save(fig, "idle.png", "Idle sessions: resident memory per session")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, sc in zip(axes, ("stdout", "stdin")):
        rs = rows(doc, sc)
        ax.bar([r["client"] for r in rs], [r["mb_s"] for r in rs], color="tab:blue")
        ax.set_title("%s MB/s" % sc)
        ax.tick_params(axis="x", rotation=30)
    save(fig, "throughput.png", "Throughput through one session")

    rs = rows(doc, "keys")
    if rs:
        fig, ax = plt.subplots(figsize=(6, 4))
        x = range(len(rs))
        ax.bar([i - 0.2 for i in x], [r["p50_us"] for r in rs], 0.4, label="p50")
        ax.bar([i + 0.2 for i in x], [r["p99_us"] for r in rs], 0.4, label="p99")
        ax.set_xticks(list(x))
        ax.set_xticklabels([r["client"] for r in rs])
        ax.set_yscale("log")
        ax.set_ylabel("keystroke echo (us)")
        ax.legend()
        save(fig, "keys.png", "Interactive latency: keystroke to echo")

    rs = rows(doc, "cold")
    if rs:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar([r["client"] for r in rs], [1e3 * r["wall_s"] for r in rs])
        ax.set_ylabel("median wall (ms)")
        ax.tick_params(axis="x", rotation=20)
        save(fig, "cold.png", "Cold start: one `exec true`")
    return ""


# ---- document --------------------------------------------------------------------------------

def main():
    doc = json.load(open(sys.argv[1]))
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    plot_note = plots(doc, outdir)
    targets = []
    remote_targets(doc, targets)
    idle_targets(doc, targets)
    throughput_targets(doc, targets)
    keys_targets(doc, targets)
    cold_targets(doc, targets)
    m = doc["machine"]
    p = doc["params"]
    pin = doc.get("pin") or {}
    md = ["# podmux benchmark results\n",
          "Generated by `bash bench/run.sh%s` on %s, measuring commit %s (profile **%s**, "
          "suite wall %.0f s). "
          "Do not edit by hand: edit `bench/findings.md` and re-run `bench/report.py`.\n" % (
              "" if doc["profile"] == "full" else " --" + doc["profile"], doc["date"],
              doc.get("rev", "?"),
              doc["profile"], doc["suite_wall_s"]) + "\n",
          "Machine: %s, %s cores, Linux %s. kubectl: `%s` (through /usr/bin/kubectl, the "
          "dispatcher). Python client: python3-kubernetes %s. Everything ran in one run against "
          "the same podmux-sim Release build; absolute times on this shared machine drift, "
          "ratios within the run hold.\n" % (m["cpu"], m["cores"], m["kernel"],
                                             doc.get("kubectl_version", "?"),
                                             doc.get("python_client_version", "?")) + "\n",
          ("**Pinning:** every client ran on core %s and podmux-sim on core %s (`taskset -c`); "
           "the plain-TLS ceiling's reader on core %s and its writer on core %s. A client's "
           "CPU is therefore its own, not a share of a core it fought the server for. "
           "The two cores of this VM are not equally fast, and not always the same one: the "
           "same Python loop took %s s on core 0 and %s s on core 1 at the start of the run "
           "(%s and %s at the end); the clients went on the faster.\n\n"
           % (pin["client"], pin["sim"], pin["client"], pin["sim"],
              *[(doc.get(k) or {}).get(c, "?") for k in ("core_loop_s_start", "core_loop_s_end")
                for c in ("0", "1")])) if pin.get("client")
          else "**Pinning:** none (fewer than 2 cores or --no-pin).\n\n",
          "**Load:** other engineers build and test on these 2 cores. `uptime` at the start: "
          "`%s`; at the end: `%s`. Absolute figures are noisy; ratios against kubectl and "
          "Python measured in the same run remain meaningful.\n\n" % (
              doc.get("uptime_start", "?"), doc.get("uptime_end", "?")),
          "**The modelled remote cluster** (`podmux-sim --exec-model remote`): in a real "
          "cluster the pods and the API server run on other machines, so the commands the "
          "benchmarks use (`true`, `sleep`, `head -c N /dev/zero`, `cat`, a tty `cat`) are "
          "served inside the sim with no process, over the same protocol byte for byte "
          "(tests/integration/test_sim_remote.sh diffs it against real processes). Fan-out "
          "wall times add a %d ms exec start per exec (`--exec-start-ms`, a kubelet/runc exec) "
          "and a %d ms network round trip (`--rtt-ms`: a relay in the sim delays each "
          "direction by half; this kernel has no netem). Idle, throughput, keystroke and "
          "cold-start runs use the model with no delays. Section 3 repeats the fan-out with "
          "real processes.\n\n" % (p.get("exec_start_ms", 0), p.get("rtt_ms", 0)),
          "Concurrency %d for every fan-out client (podmux `-P 64`, `xargs -P 64`, a 64-thread "
          "pool) unless the table says unlimited (podmux `-P 0`, pmx_bench no limit, a thread "
          "per pod). kubectl ran with a warm discovery cache (one unmeasured exec first) unless "
          "the row says `nocache`.\n\n" % doc["concurrency"]]
    if doc["notes"]:
        md.append("Notes from the run:\n\n" + "".join("- %s\n" % n for n in doc["notes"]))
    md.append("\n## Targets\n\n")
    md.append(table(["target", "measured", "wanted", "result"], targets))
    md.append("\n## 1. Fan-out `true` on the modelled remote cluster, -P 64 (%s pods)\n\n"
              "Client CPU per session is the `CPU/pod ms` column.\n\n"
              % ", ".join(map(str, p.get("remote", []))))
    md.append(fanout_section(doc, "remote"))
    md.append(marginal_cpu(doc))
    md.append("\n## 2. Fan-out `true` on the modelled remote cluster, unlimited concurrency "
              "(%s pods)\n\n" % p.get("remote_unlimited", "-"))
    md.append(fanout_section(doc, "remote-unlimited"))
    md.append("\n## 3. Fan-out `true` with real processes (%s pods)\n\n"
              "Every pod's `true` is a process on these two cores (about 4 ms of CPU each), "
              "spawned by podmux-sim on the sim's core: the pods, not the clients, set the wall "
              "time here.\n\n" % ", ".join(map(str, p["fanout"])))
    md.append(fanout_section(doc, "fanout"))
    md.append("\n## 4. Idle `sleep` sessions (%s)\n\n" % ", ".join(map(str, p["idle"])))
    md.append("RSS/session = the client's whole resident memory (all processes summed) divided "
              "by the open sessions; marginal = (RSS with N open - RSS before the first) / N, "
              "measured inside the process.\n\n")
    md.append(idle_section(doc))
    md.append("\n## 5. Throughput (stdout %d MiB `head -c`, stdin %d MiB into `cat >/dev/null`)\n\n"
              % (p["stdout_bytes"] >> 20, p["stdin_bytes"] >> 20))
    md.append("MB/s is bytes / process wall time (start to exit); in-process MB/s excludes "
              "process start and connection setup. For tls-ceiling, server = the writing "
              "process. Every client ran once per round (%d rounds, interleaved); each row is "
              "its median round by wall time.\n\n"
              "The floor under every client: mbedTLS's ChaCha20-Poly1305 is portable C, about "
              "330 MB/s per core on this machine (OpenSSL's assembly does about 3.7 GB/s). The "
              "tls-ceiling row is that cost alone (two mbedTLS ends, no WebSocket); what a "
              "client loses against it is its own, the cipher is not counted as podmux's "
              "loss.\n\n" % p.get("tp_rounds", 1))
    md.append(throughput_section(doc))
    md.append("\n## 6. Keystroke echo over a tty (`cat`, %d keys)\n\n" % p["keys"])
    md.append(keys_section(doc))
    md.append("\n## 7. Cold start: one `exec true` (median of %d)\n\n" % p["cold_reps"])
    md.append(cold_section(doc))
    md.append("\n## 8. podmux-sim's own cost\n\nsim CPU / wall near 1 means the single-threaded "
              "server, not the client, set the pace.\n\n")
    md.append(sim_section(doc))
    md.append(errors_table(doc))
    md.append("\n## Plots\n\n" + plot_note)
    md += ["![%s](%s)\n\n" % (t, n) for n, t in PLOTS]
    here = os.path.dirname(os.path.abspath(__file__))
    cp = os.path.join(here, "cp_results.md")  # bench/cp_bench.py's report, when it ran
    if os.path.exists(cp):
        md.append("\n## podmux cp (bench/cp_results.md, included verbatim)\n\n")
        md.append(open(cp).read().rstrip("\n") + "\n")
    findings = os.path.join(here, "findings.md")
    if os.path.exists(findings):
        md.append("\n" + open(findings).read())
    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write("".join(md))


if __name__ == "__main__":
    main()
