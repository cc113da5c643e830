#!/usr/bin/env bash
# bench/run.sh: podmux's benchmark suite, the one documented command (see bench/README.md).
#
#   bash bench/run.sh            full suite (~15 min on 2 cores): writes bench/RESULTS.md,
#                                bench/results.json and bench/*.png
#   bash bench/run.sh --quick    smaller sizes (~3 min), same outputs
#   options: --smoke (seconds; what the test suite runs), --out DIR, --build-dir DIR,
#            --no-build (use the programs already in --build-dir), --only remote,fanout,idle,...,
#            --commit REV (measure that commit, exported with git archive, not the work tree:
#            what the committed RESULTS.md should use while others edit the tree),
#            --cp (also podmux cp vs kubectl cp: 100 MB to and from 20 pods, ~10 min more;
#            writes bench/cp_results.md, included in RESULTS.md)
#
# Builds a Release tree (no sanitizers) in build-bench-release/ so timings mean something.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=full
BUILD="$SRC/build-bench-release"
OUT="$SRC/bench"
NOBUILD=0
ONLY=""
COMMIT=""
CP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) PROFILE=quick ;;
    --smoke) PROFILE=smoke ;;
    --full) PROFILE=full ;;
    --out) OUT=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --no-build) NOBUILD=1 ;;
    --only) ONLY=$2; shift ;;
    --commit) COMMIT=$2; shift ;;
    --cp) CP=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

BSRC="$SRC"
if [ -n "$COMMIT" ]; then
  BSRC="$BUILD-src"
  rm -rf "$BSRC" && mkdir -p "$BSRC"
  git -C "$SRC" archive "$COMMIT" | tar -x -C "$BSRC"
  echo "bench: measuring commit $(git -C "$SRC" rev-parse --short "$COMMIT")" >&2
fi

if [ "$NOBUILD" = 0 ]; then
  echo "bench: building Release programs in $BUILD" >&2
  CC=${CC:-clang} cmake -S "$BSRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPMX_SANITIZE=OFF \
    -DPMX_FUZZ=OFF -DPMX_TESTS=OFF -DPMX_BENCH=ON >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target podmux-sim pmx_bench tls_ceiling >/dev/null
  # The CLI is measured when it builds; the harness says so when it is missing.
  cmake --build "$BUILD" -j"$(nproc)" --target podmux >/dev/null 2>&1 ||
    echo "bench: the podmux CLI did not build; its rows will be missing" >&2
fi

mkdir -p "$OUT"
REV=$(git -C "$SRC" rev-parse --short "${COMMIT:-HEAD}" 2>/dev/null || echo "?")
[ -n "$COMMIT" ] || { git -C "$SRC" diff --quiet HEAD -- src include 2>/dev/null || REV="$REV+dirty"; }
/usr/bin/python3 "$SRC/bench/harness.py" --build "$BUILD" --src "$SRC" --rev "$REV" \
  --out "$OUT/results.json" --profile "$PROFILE" ${ONLY:+--only "$ONLY"}
if [ "$CP" = 1 ]; then
  /usr/bin/python3 "$SRC/bench/cp_bench.py" --build "$BUILD" --out "$OUT/cp_results.md" >&2
fi
/usr/bin/python3 "$SRC/bench/report.py" "$OUT/results.json" "$OUT"
echo "bench: wrote $OUT/RESULTS.md" >&2
