#!/usr/bin/env bash
# Installs what is missing (apt and npm), builds everything with AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --test
cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
cmake --build build/sanitize -j"$(nproc)"
cd build/sanitize
ctest --output-on-failure -j2 "$@"
