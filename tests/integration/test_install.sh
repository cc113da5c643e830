#!/usr/bin/env bash
# cmake --install puts the library, header, pkg-config file, CMake package, man page and
# completions in a prefix; the examples then build against that installed copy both ways.
. "$(dirname "$0")/lib.sh"
P="$T/prefix"
cmake --install "$PMX_BUILD" --prefix "$P" >/dev/null
for f in include/podmux.h lib/libpodmux.a bin/podmux bin/kubectl-podmux bin/podmux-sim \
         share/man/man1/podmux.1 share/bash-completion/completions/podmux; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
ls "$P"/lib/libpodmux.so* >/dev/null || fail "no shared library"
# An instrumented build's library needs the same instrumentation at link time.
CC=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$PMX_BUILD/CMakeCache.txt")
SAN=""
grep -q '^PMX_SANITIZE:BOOL=ON' "$PMX_BUILD/CMakeCache.txt" && SAN="-fsanitize=address,undefined"
grep -q '^PMX_FUZZ:BOOL=ON' "$PMX_BUILD/CMakeCache.txt" && SAN="$SAN -fsanitize=fuzzer-no-link"
# CMake package
CC=$CC cmake -S "$PMX_SRC/examples" -B "$T/ex" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="$SAN" >/dev/null
cmake --build "$T/ex" >/dev/null
# pkg-config, with the shared library
PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --exists podmux || fail "pkg-config cannot find podmux"
$CC -o "$T/exec_pc" "$PMX_SRC/examples/exec_minimal.c" \
  $(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs podmux) -Wl,-rpath,"$P/lib" $SAN
start_sim --pods 2
POD=$(pod_names app=web | head -1)
expect_eq "$("$T/ex/exec_minimal" "$POD" echo installed-cmake)" installed-cmake "example built with the CMake package"
expect_eq "$("$T/exec_pc" "$POD" echo installed-pc)" installed-pc "example built with pkg-config"
echo "install: all checks passed"
