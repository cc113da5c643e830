#!/usr/bin/env bash
# Debian packages (issue 14.10): `cpack -G DEB` in a build directory of its own (no tests, with
# PMX_STATIC_CLI; -O0, since only the packaging is under test and CI's time is short) makes libpodmux0, libpodmux-dev, podmux and podmux-sim; their
# names, sections, dependencies and contents are what a Debian user expects. They are unpacked
# into a scratch root (dpkg -x): `podmux version` runs from there, the static podmux needs none
# of the archived libraries, and an embedder compiles against the unpacked header and library
# and runs an exec against podmux-sim.
. "$PMX_SRC/tests/integration/lib.sh"
for t in dpkg-deb dpkg-shlibdeps cpack; do
  command -v $t >/dev/null || { echo "no $t: skipped"; exit 77; }
done
B="$T/build"
CC=${CC:-cc} cmake -S "$PMX_SRC" -B "$B" -DCMAKE_BUILD_TYPE= -DCMAKE_C_FLAGS=-O0 -DPMX_TESTS=OFF \
  -DPMX_BENCH=OFF -DPMX_STATIC_CLI=ON >"$T/cfg.log" 2>&1 || { cat "$T/cfg.log"; fail "configure"; }
# What the packages hold (not the examples).
cmake --build "$B" -j2 --target podmux podmux-sim podmux_shared podmux_static pmx_man_gz \
  >"$T/build.log" 2>&1 || { tail -40 "$T/build.log"; fail "build"; }
(cd "$B" && cpack -G DEB >"$T/cpack.log" 2>&1) || { tail -40 "$T/cpack.log"; fail "cpack"; }
V=$(sed -n 's/^project(podmux VERSION \([0-9.]*\).*/\1/p' "$PMX_SRC/CMakeLists.txt")
A=$(dpkg --print-architecture)
for p in libpodmux0 libpodmux-dev podmux podmux-sim; do
  [ -f "$B/${p}_${V}-1_${A}.deb" ] || { ls "$B"/*.deb; fail "no package $p"; }
done
field() { dpkg-deb -f "$B/${1}_${V}-1_${A}.deb" "$2"; }
expect_eq "$(field libpodmux0 Section)" libs "libpodmux0 section"
expect_eq "$(field libpodmux-dev Section)" libdevel "libpodmux-dev section"
field libpodmux-dev Depends | grep -q "libpodmux0 (= $V-1)" || fail "dev: $(field libpodmux-dev Depends)"
field libpodmux-dev Depends | grep -q "libuv1-dev" || fail "dev needs libuv1-dev"
field libpodmux0 Depends | grep -q "libuv1" || fail "lib: $(field libpodmux0 Depends)"
field podmux Depends | grep -q "libc6" || fail "podmux: $(field podmux Depends)"
field podmux Depends | grep -q "libuv1\|libmbedtls" && fail "static podmux depends on $(field podmux Depends)"
field podmux-sim Depends | grep -q "libuv1" || fail "sim: $(field podmux-sim Depends)"

# Contents.
contents() { dpkg-deb -c "$B/${1}_${V}-1_${A}.deb" | awk '{print $6}' | sed 's|^\./|/|'; }
want() {  # PACKAGE PATH...
  local p=$1; shift
  for f in "$@"; do contents "$p" | grep -qx "$f" || { contents "$p"; fail "$p lacks $f"; }; done
}
want libpodmux0 /usr/lib/libpodmux.so.0 /usr/lib/libpodmux.so.$V
want libpodmux-dev /usr/include/podmux.h /usr/lib/libpodmux.so /usr/lib/libpodmux.a \
  /usr/lib/pkgconfig/podmux.pc /usr/lib/cmake/podmux/podmuxConfig.cmake \
  /usr/lib/cmake/podmux/podmuxTargets.cmake
want podmux /usr/bin/podmux /usr/bin/kubectl-podmux /usr/share/man/man1/podmux.1.gz \
  /usr/share/bash-completion/completions/podmux /usr/share/zsh/vendor-completions/_podmux
want podmux-sim /usr/bin/podmux-sim /usr/share/man/man1/podmux-sim.1.gz
contents libpodmux0 | grep -q 'include\|\.a$\|bin/' && fail "libpodmux0 carries more than the library"
contents podmux | grep -q 'lib/' && fail "podmux carries library files"

# Unpacked into a scratch root.
R="$T/root"
for p in libpodmux0 libpodmux-dev podmux podmux-sim; do dpkg -x "$B/${p}_${V}-1_${A}.deb" "$R"; done
"$R/usr/bin/podmux" version | grep -q "^podmux $V " || fail "podmux version: $("$R/usr/bin/podmux" version)"
"$R/usr/bin/kubectl-podmux" help | grep -q 'kubectl podmux exec' || fail "kubectl-podmux help"
ldd "$R/usr/bin/podmux" | grep -E 'libuv|libmbed|libyaml|libhttp_parser|libvterm' &&
  fail "the static podmux still needs those"
# An embedder: the header and library from the root, through its pkg-config file.
export PKG_CONFIG_PATH="$R/usr/lib/pkgconfig"
pkg-config --exists podmux || fail "pkg-config does not find the unpacked podmux.pc"
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Werror -o "$T/embed" "$PMX_SRC/examples/exec_minimal.c" \
  $(pkg-config --cflags --libs podmux) -Wl,-rpath,"$R/usr/lib" || fail "embedder does not compile"
# (ldd to a file first: under pipefail, grep -q closing the pipe early fails the pipeline)
ldd "$T/embed" >"$T/embed.ldd"
grep -q "libpodmux.so.0 => $R/usr/lib/libpodmux.so.0" "$T/embed.ldd" ||
  fail "embedder not linked to the unpacked library: $(cat "$T/embed.ldd")"
"$R/usr/bin/podmux-sim" --help | grep -q 'usage: podmux-sim' || fail "podmux-sim --help"
PODMUX_SIM="$R/usr/bin/podmux-sim" start_sim --pods 1
POD=$(pod_names app=web | head -1)
expect_eq "$("$T/embed" "$POD" echo from-the-package)" from-the-package "embedder's exec"
expect_eq "$("$R/usr/bin/podmux" exec "$POD" -- echo static)" static "static podmux's exec"
echo ok
