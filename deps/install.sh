#!/usr/bin/env bash
# Installs every Debian package podmux needs to build, test and benchmark.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libuv1-dev libwslay-dev libmbedtls-dev libcjson-dev libyaml-dev libhttp-parser-dev
  libcmocka-dev clang libclang-rt-14-dev clang-format
  tmux openssl python3-kubernetes procps coreutils libvterm-dev
  python3-matplotlib python3-yaml time
  libarchive-dev
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Another package manager (unattended-upgrades, a colleague's apt) may hold the dpkg or apt
# lists lock. Wait for it, bounded: PMX_APT_LOCK_WAIT seconds in all (default 600). apt waits
# for the dpkg lock itself with DPkg::Lock::Timeout; the lists lock of `apt-get update` is
# retried here while apt says it could not get a lock.
LOCK_WAIT=${PMX_APT_LOCK_WAIT:-600}
case "$LOCK_WAIT" in ''|*[!0-9]*) echo "deps: PMX_APT_LOCK_WAIT must be a number of seconds" >&2; exit 2;; esac
deadline=$(( $(date +%s) + LOCK_WAIT ))
apt_locked() { # apt_locked CMD...: runs CMD; 0 ok, 1 failed, 2 failed on a lock (output kept)
  local log rc=0 left=$(( deadline - $(date +%s) ))
  [ "$left" -gt 0 ] || left=0
  log=$(mktemp)
  "$@" -o DPkg::Lock::Timeout="$left" >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ] && grep -qiE 'could not get lock|unable to acquire|is another process using it' "$log"; then
    rc=2
  fi
  if [ $rc -eq 1 ] || [ $rc -gt 2 ] || { [ $rc -eq 2 ] && [ "$(date +%s)" -ge "$deadline" ]; }; then
    cat "$log" >&2
  fi
  rm -f "$log"
  [ $rc -eq 0 ] && return 0
  [ $rc -eq 2 ] && return 2
  return 1
}
apt_retry() { # apt_retry CMD...: CMD, again every 5 s while a lock is held, until the deadline
  local rc said=0
  while :; do
    rc=0; apt_locked "$@" || rc=$?
    [ $rc -ne 2 ] && return $rc
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "deps: another package manager still holds the apt/dpkg lock after ${LOCK_WAIT}s" \
        "(PMX_APT_LOCK_WAIT); try again when it is done" >&2
      return 1
    fi
    [ $said -eq 1 ] || echo "deps: waiting (at most ${LOCK_WAIT}s) for another package manager's lock"
    said=1
    sleep "${PMX_APT_LOCK_POLL:-5}"
  done
}
apt_retry $SUDO apt-get update -qq
apt_retry $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
