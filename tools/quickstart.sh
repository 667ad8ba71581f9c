#!/usr/bin/env bash
# Installs what is missing, builds pipit (Release) and runs it on its embedded
# default configuration. Extra arguments go to pipit.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPIPIT_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)"
exec build/release/pipit "$@"
