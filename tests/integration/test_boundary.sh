#!/usr/bin/env bash
# The library's boundary, as an embedder sees it:
#  (a) libpodmux.a and libpodmux.so define no global symbol outside pmx_ (internals are
#      localized or hidden, so they cannot collide with an embedder's own names);
#  (b) the library alone configures and builds without libvterm (PMX_CLI=OFF), and a static
#      embedder that defines its own buf_init, ws_new, stream_write and auth_new links against
#      that libpodmux.a and still runs a command in a pod;
#  (c) no test #includes a .c file, the CLI includes only podmux.h, its own headers and util/,
#      and no file refers to the shared notes outside the repo.
. "$(dirname "$0")/lib.sh"

# ---- (a) exported symbols -------------------------------------------------------------------
# nm types in upper case (and 'u', GNU unique) are global; lower case ones are local.
globals_outside_pmx() { awk 'NF == 3 && ($2 ~ /^[A-Z]$/ || $2 == "u") && $3 !~ /^pmx_/ {print "  " $2 " " $3}'; }
A="$PMX_BUILD/libpodmux.a"
[ -f "$A" ] || fail "no $A (build podmux_static first)"
nm -g --defined-only "$A" >"$T/nm.a" || fail "nm failed on $A"
grep -q ' T pmx_session_start$' "$T/nm.a" || fail "libpodmux.a does not define pmx_session_start"
globals_outside_pmx <"$T/nm.a" >"$T/bad.a"
[ -s "$T/bad.a" ] && fail "libpodmux.a defines $(wc -l <"$T/bad.a") global symbols outside pmx_:
$(head -40 "$T/bad.a")"
echo "ok   libpodmux.a: $(grep -c ' T pmx_' "$T/nm.a") pmx_ functions, no other global symbol"

SO=$(find "$PMX_BUILD" -maxdepth 1 -name "libpodmux.so.*.*.*" | head -1)
[ -n "$SO" ] || fail "no shared library libpodmux.so.X.Y.Z in $PMX_BUILD"
nm -D --defined-only "$SO" >"$T/nm.so" || fail "nm -D failed on $SO"
grep -q ' T pmx_session_start$' "$T/nm.so" || fail "$SO does not export pmx_session_start"
globals_outside_pmx <"$T/nm.so" >"$T/bad.so"
[ -s "$T/bad.so" ] && fail "$(basename "$SO") exports $(wc -l <"$T/bad.so") dynamic symbols outside pmx_:
$(head -40 "$T/bad.so")"
echo "ok   $(basename "$SO"): $(grep -c ' T pmx_' "$T/nm.so") pmx_ functions, no other dynamic symbol"

# ---- (b) the library alone, without libvterm --------------------------------------------------
# pkg-config as CMake runs it, except that it knows no vterm: a configure that still asked for
# libvterm would fail here even on a machine that has it.
cat >"$T/pkg-config" <<'EOF'
#!/bin/sh
for a in "$@"; do case "$a" in *vterm*) echo "vterm: hidden by test_boundary" >&2; exit 1;; esac; done
exec /usr/bin/pkg-config "$@"
EOF
chmod +x "$T/pkg-config"
CC=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$PMX_BUILD/CMakeCache.txt")
CC=${CC:-cc}
LB="$T/libonly"
if ! CC=$CC cmake -S "$PMX_SRC" -B "$LB" -DPMX_CLI=OFF -DPMX_TESTS=OFF -DPMX_BENCH=OFF \
      -DCMAKE_BUILD_TYPE=Debug -DPKG_CONFIG_EXECUTABLE="$T/pkg-config" >"$T/cfg.log" 2>&1; then
  fail "library-only configure failed: $(tail -20 "$T/cfg.log")"
fi
grep -v '^//' "$LB/CMakeCache.txt" | grep -i 'vterm' >"$T/vterm" || true
[ -s "$T/vterm" ] && fail "library-only configure looked for libvterm: $(cat "$T/vterm")"
if ! cmake --build "$LB" -j2 --target podmux_static >"$T/build.log" 2>&1; then
  fail "library-only build of podmux_static failed: $(grep -m5 -i 'error' "$T/build.log")"
fi
[ -f "$LB/libpodmux.a" ] || fail "library-only build made no libpodmux.a"
echo "ok   library-only configure and build (PMX_CLI=OFF, no libvterm): libpodmux.a"

# A static embedder with names the library also uses inside. Each of its functions aborts when
# called a second time: the first call is its own (below), a second would be the library's
# calls landing in the embedder's function.
cat >"$T/embedder_names.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
static int n_buf, n_ws, n_stream, n_auth;
static void once(int *n, const char *what)
{
    if (++*n > 1) {
        fprintf(stderr, "embedder's %s called by someone else\n", what);
        abort();
    }
}
void buf_init(void) { once(&n_buf, "buf_init"); }
int ws_new(void) { once(&n_ws, "ws_new"); return 7; }
long stream_write(const char *s) { once(&n_stream, "stream_write"); return (long)s[0]; }
void *auth_new(void) { once(&n_auth, "auth_new"); return &n_auth; }
__attribute__((constructor)) static void use_them(void)
{
    buf_init();
    if (ws_new() != 7 || stream_write("x") != 'x' || auth_new() != &n_auth) abort();
}
EOF
DEPS="$(pkg-config --libs libuv yaml-0.1 libcjson) -lwslay -lmbedtls -lmbedx509 -lmbedcrypto -lhttp_parser"
# shellcheck disable=SC2086,SC2046 # flag lists split on purpose
if ! $CC -o "$T/exec_static" -I"$PMX_SRC/include" $(pkg-config --cflags libuv) \
      "$PMX_SRC/examples/exec_minimal.c" "$T/embedder_names.c" "$LB/libpodmux.a" $DEPS >"$T/link.log" 2>&1; then
  fail "static embedder defining buf_init/ws_new/stream_write/auth_new does not link: $(head -20 "$T/link.log")"
fi
echo "ok   static embedder with its own buf_init, ws_new, stream_write, auth_new links"
start_sim --pods 2
POD=$(pod_names app=web | head -1)
set +e
"$T/exec_static" "$POD" sh -c 'echo boundary; exit 3' >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_eq "$rc" 3 "static embedder: exit code (stderr: $(head -5 "$T/err"))"
expect_eq "$(cat "$T/out")" boundary "static embedder: stdout"
echo "ok   static embedder ran a command in $POD"

# ---- (c) the sources ------------------------------------------------------------------------
cd "$PMX_SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files --cached --others --exclude-standard >"$T/files"
else
  find . -path ./build\* -prune -o -type f -print | sed 's|^\./||' >"$T/files"
fi
grep -E '^tests/' "$T/files" | grep -E '\.(c|h)$' | xargs -r -d '\n' grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^">]*\.c[">]' >"$T/inc" || true
[ -s "$T/inc" ] && fail "tests #include .c files (link the CMake library instead):
$(cat "$T/inc")"
# The CLI is an embedder: of the library it includes podmux.h only, plus its own headers and its
# own copy of src/util, never by a path that climbs out of src/cli.
grep -E '^src/cli/[^/]*\.(c|h)$' "$T/files" | xargs -r -d '\n' grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' |
  grep -vE '#[[:space:]]*include[[:space:]]*"(podmux\.h|util/[a-z_]+\.h|[a-z_]+\.h)"' >"$T/cli_inc" || true
[ -s "$T/cli_inc" ] && fail "the CLI includes library internals or climbs out of src/cli:
$(cat "$T/cli_inc")"
SHARED='..''/shared' # spelled in two pieces so that this file does not match itself
xargs -r -d '\n' grep -nIF "$SHARED" <"$T/files" >"$T/shared" || true
[ -s "$T/shared" ] && fail "files refer to $SHARED (outside the repo):
$(cat "$T/shared")"
echo "ok   no test includes a .c file; the CLI includes podmux.h, util/ and its own; no file refers to $SHARED ($(wc -l <"$T/files") files)"
echo "boundary: all checks passed"
