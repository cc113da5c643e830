#!/usr/bin/env bash
# Smoke run of the benchmark harness (bench/run.sh --smoke) with this build's programs: the
# suite itself takes minutes and is not part of the tests; this keeps it from rotting. Fails when
# the harness, a driver or the report breaks; says nothing about speed.
set -euo pipefail
: "${PMX_BUILD:?run through ctest (PMX_BUILD unset)}"
SRC=${PMX_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
for p in podmux-sim bench/pmx_bench bench/tls_ceiling; do
  [ -x "$PMX_BUILD/$p" ] || { echo "skip: $p not built"; exit 77; }
done
OUT=$(mktemp -d /tmp/pmx-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
# Leak reports from the drivers would be noise here; their own tests cover leaks.
export ASAN_OPTIONS=detect_leaks=0
timeout 120 bash "$SRC/bench/run.sh" --smoke --no-build --build-dir "$PMX_BUILD" --out "$OUT"

/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
doc = json.load(open(os.path.join(out, "results.json")))
rows = doc["results"]
errors = [r for r in rows if r.get("error")]
for r in errors:
    print("FAIL: %s/%s/%s: %s" % (r["scenario"], r["client"], r["param"], r["error"]))
have = {(r["scenario"], r["client"]) for r in rows if not r.get("error")}
need = [("remote", "libpodmux"), ("remote-unlimited", "libpodmux"),
        ("fanout", "libpodmux"), ("idle", "libpodmux"), ("stdout", "libpodmux"),
        ("stdin", "libpodmux"), ("keys", "libpodmux"), ("stdout", "tls-ceiling")]
if os.access(os.path.join(os.environ["PMX_BUILD"], "podmux"), os.X_OK):
    need += [("remote", "podmux"), ("fanout", "podmux"), ("idle", "podmux"), ("keys", "podmux"),
             ("cold", "podmux")]
missing = [n for n in need if n not in have]
for n in missing:
    print("FAIL: no result for %s/%s" % n)
for sc in ("remote", "remote-unlimited", "fanout"):
    fan = [r for r in rows if r["scenario"] == sc and r["client"] == "libpodmux"]
    if fan and (fan[0]["ok"] != fan[0]["pods"] or fan[0]["wall_s"] <= 0):
        print("FAIL: %s result looks wrong: %r" % (sc, fan[0])); errors.append(1)
# The model and the pinning were in force: the sims ran with --exec-model remote.
if doc.get("model") != ["--exec-model", "remote"]:
    print("FAIL: no remote-cluster model recorded: %r" % doc.get("model")); errors.append(1)
idle = [r for r in rows if r["scenario"] == "idle" and r["client"] == "libpodmux"]
if idle and idle[0]["sessions"] != idle[0]["param"]:
    print("FAIL: idle sessions %r" % idle[0]); errors.append(1)
md = open(os.path.join(out, "RESULTS.md")).read()
for heading in ("## Targets", "## 1. Fan-out `true` on the modelled remote cluster",
                "## 2. Fan-out", "## 3. Fan-out `true` with real processes", "## 4. Idle",
                "## 5. Throughput", "## 6. Keystroke", "## 7. Cold start", "## 8. podmux-sim",
                "**Pinning:**", "**Load:**"):
    if heading not in md:
        print("FAIL: RESULTS.md lacks %r" % heading); errors.append(1)
try:
    import matplotlib  # noqa: F401
    for png in ("fanout.png", "idle.png", "throughput.png", "keys.png"):
        if not os.path.getsize(os.path.join(out, png)):
            print("FAIL: empty plot %s" % png); errors.append(1)
except ImportError:
    print("note: no python3-matplotlib, plots not checked")
sys.exit(1 if errors or missing else 0)
PY
echo "bench smoke: harness, drivers and report work"
