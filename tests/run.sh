#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds with clang + ASan/UBSan (and the libFuzzer
# targets), and runs every test through CTest. Usage: bash tests/run.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash deps/install.sh
BUILD=${PMX_TEST_BUILD:-build-test}
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DPMX_SANITIZE=ON -DPMX_WERROR=ON \
  -DPMX_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure -j2 "$@"
