#!/usr/bin/env bash
# The main job, end to end on a fresh Debian 12 machine (as root):
# installs the dependencies, builds podmux, starts podmux-sim with a demo cluster, fans a command
# out over every pod of a deployment and shows the prefixed output and the summary, then stops
# the sim.  Usage: bash examples/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash deps/install.sh
# The build is quiet when it works; when it fails, its output is shown (the last 60 lines).
mkdir -p build
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPMX_TESTS=OFF &&
       cmake --build build -j"$(nproc)"; } >build/demo-build.log 2>&1; then
  echo "demo: the build failed; its output (all of it in build/demo-build.log):" >&2
  tail -n 60 build/demo-build.log >&2
  exit 1
fi
echo "built: $(./build/podmux version)"

work=$(mktemp -d /tmp/podmux-demo.XXXXXX)
sim_pid=""
stop() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap stop EXIT
mkfifo "$work/ready"
./build/podmux-sim --cluster examples/demo-cluster.yaml --kubeconfig-out "$work/kubeconfig" \
  --state-dir "$work/state" >"$work/ready" 2>"$work/sim.log" &
sim_pid=$!
read -r line <"$work/ready"
echo "podmux-sim: $line"
export KUBECONFIG="$work/kubeconfig"

echo
# The deployment's 24 pods, plus a pod whose upgrade the sim refuses and one not scheduled.
echo "\$ podmux exec -l 'app in (web,broken,pending)' -- sh -c 'echo \"hello from \$HOSTNAME\"'"
set +e
./build/podmux exec -l 'app in (web,broken,pending)' -- sh -c 'echo "hello from $HOSTNAME"'
rc=$?
set -e
echo "(podmux exit status $rc: 0 all ok, 1 some command failed, 255 some could not run)"
