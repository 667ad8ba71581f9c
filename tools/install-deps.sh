#!/usr/bin/env bash
# Installs what pipit needs on Debian 12, skipping what is already there.
#   tools/install-deps.sh          build and run dependencies
#   tools/install-deps.sh --test   also what the test suite needs (apt and npm)
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev
  libnghttp2-dev libcurl4-openssl-dev libzstd-dev zlib1g-dev libsnappy-dev libsqlite3-dev
  libyaml-dev libuv1-dev libmicrohttpd-dev libjson-c-dev libgnutls28-dev)
test_pkgs=(libcmocka-dev protobuf-compiler valgrind clang libclang-rt-14-dev curl
  prometheus jq nodejs npm openssl zstd)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node is often installed outside apt (nodesource, nvm): do not replace it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" = "--test" ] && [ -f tests/integration/package.json ]; then
  # Exact versions from package-lock.json; skipped when already installed.
  if [ ! -d tests/integration/node_modules ] || \
     [ tests/integration/package-lock.json -nt tests/integration/node_modules ]; then
    (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
