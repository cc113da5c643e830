#!/usr/bin/env bash
# podmux cp from pods whose `tar` is hostile (podmux-sim puts STATE_DIR/bin first on the pods'
# PATH; our tar there answers `tar cf -` with a crafted stream): absolute names, "..", symlinks
# and hard links leading outside, a write through a symlink, devices, a fifo, setuid bits. Nothing
# is written outside the destination, the safe entries arrive, setuid is dropped, the pod is
# reported failed with what was refused; --max-entries and --max-bytes stop a flood.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
start_sim --pods 3
mapfile -t PODS < <(pod_names app=web | sort)
REAL_TAR=$(command -v tar)

/usr/bin/python3 - "$T/hostile.tar" "$T/flood.tar" <<'PY'
import io, sys, tarfile
def add(t, name, type=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    i = tarfile.TarInfo(name); i.type = type; i.mode = mode; i.linkname = link
    if type == tarfile.REGTYPE: i.size = len(data)
    if type in (tarfile.CHRTYPE, tarfile.BLKTYPE): i.devmajor, i.devminor = 1, 3
    t.addfile(i, io.BytesIO(data) if data else None)
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "x", tarfile.DIRTYPE, mode=0o755)
    add(t, "x/ok.txt", data=b"safe\n")
    add(t, "x/../../../../escape-dotdot", data=b"evil\n")
    add(t, "x/sub/../../../escape-dotdot2", data=b"evil\n")
    add(t, "/tmp/pmx-cp-escape-abs", data=b"evil\n")
    add(t, "other/escape-prefix", data=b"evil\n")
    add(t, "x/abs-link", tarfile.SYMTYPE, link="/")
    add(t, "x/abs-link/tmp/pmx-cp-escape-through", data=b"evil\n")
    add(t, "x/up-link", tarfile.SYMTYPE, link="../../..")
    add(t, "x/up-link/escape-through-up", data=b"evil\n")
    add(t, "x/a/b/l", tarfile.SYMTYPE, link="../..")
    add(t, "x/sneaky", tarfile.SYMTYPE, link="a/b/l/..")
    add(t, "x/in-link", tarfile.SYMTYPE, link="ok.txt")
    add(t, "x/dir-link", tarfile.SYMTYPE, link="a")
    add(t, "x/dir-link/through-inside-link", data=b"evil\n")
    add(t, "x/hard-out", tarfile.LNKTYPE, link="../../etc/passwd")
    add(t, "x/hard-abs", tarfile.LNKTYPE, link="/etc/passwd")
    add(t, "x/hard-in", tarfile.LNKTYPE, link="x/ok.txt")
    add(t, "x/chardev", tarfile.CHRTYPE)
    add(t, "x/blockdev", tarfile.BLKTYPE)
    add(t, "x/fifo", tarfile.FIFOTYPE)
    add(t, "x/suid", data=b"#!/bin/sh\n", mode=0o6755)
with tarfile.open(sys.argv[2], "w", format=tarfile.GNU_FORMAT) as t:
    for i in range(300):
        add(t, "x/f%d" % i, data=b"z" * 1000)
PY

mkdir -p "$T/state/bin"
cat >"$T/state/bin/tar" <<SH
#!/bin/sh
if [ "\$1" = cf ]; then
  case "\$POD_NAME" in
    ${PODS[0]}) exec cat "$T/hostile.tar" ;;
    ${PODS[1]}) exec cat "$T/flood.tar" ;;
  esac
fi
exec "$REAL_TAR" "\$@"
SH
chmod 755 "$T/state/bin/tar"
rm -f /tmp/pmx-cp-escape-abs /tmp/pmx-cp-escape-through

# Everything happens under BOX: anything outside BOX/dest is an escape.
mkdir -p "$T/box/dest" "$T/state/pods/default/${PODS[2]}/main/x"
echo fine >"$T/state/pods/default/${PODS[2]}/main/x/ok.txt"
set +e
(cd "$T/box" && timeout 60 "$PODMUX" cp -l app=web --max-entries 200 :x dest) >"$T/o" 2>"$T/e"
rc=$?
set -e
cat "$T/e"
expect_eq "$rc" 255 "exit status with a failed pod"
find "$T/box" -mindepth 1 >"$T/all"
grep -v "^$T/box/dest" "$T/all" && fail "written outside dest"
for f in /tmp/pmx-cp-escape-abs /tmp/pmx-cp-escape-through "$T/escape-dotdot" \
         "$T/escape-dotdot2" "$T/box/escape-dotdot" "$T/escape-through-up"; do
  [ ! -e "$f" ] || fail "escaped to $f"
done
H="$T/box/dest/${PODS[0]}"
expect_eq "$(cat "$H/ok.txt")" "safe" "safe entry kept"
expect_eq "$(readlink "$H/in-link")" "ok.txt" "inside symlink kept"
[ ! -L "$H/abs-link" ] || fail "absolute symlink created"
[ ! -L "$H/up-link" ] || fail "symlink leading outside created"
[ ! -L "$H/sneaky" ] || fail "symlink through a symlink created"
[ ! -e "$H/a/through-inside-link" ] || fail "written through a symlink"
[ ! -e "$H/chardev" ] && [ ! -e "$H/blockdev" ] && [ ! -e "$H/fifo" ] || fail "device or fifo created"
[ ! -e "$H/hard-out" ] && [ ! -e "$H/hard-abs" ] || fail "hard link to outside created"
[ -e "$H/hard-in" ] || fail "hard link inside missing"
mode=$(stat -c %a "$H/suid")
expect_eq "$mode" 755 "setuid/setgid dropped"
grep -q "${PODS[0]}: refused [0-9]* unsafe tar entries" "$T/e" || fail "hostile pod not reported"
grep -q "${PODS[1]}: more than 200 entries (--max-entries)" "$T/e" || fail "flood not stopped"
expect_eq "$(cat "$T/box/dest/${PODS[2]}/ok.txt")" "fine" "the honest pod still copied"
grep -q "1 ok, 0 non-zero, 2 failed, 0 skipped (3 pods)" "$T/e" || fail "summary"

# --max-bytes: the flood is 300 KB of data.
set +e
(cd "$T/box" && timeout 60 "$PODMUX" cp "${PODS[1]}:x" --max-bytes 100Ki d2) 2>"$T/e"; rc=$?
set -e
expect_eq "$rc" 255 "--max-bytes exit"
grep -q "more than 102400 bytes (--max-bytes)" "$T/e" || fail "--max-bytes message: $(cat "$T/e")"
echo ok
