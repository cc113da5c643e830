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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
