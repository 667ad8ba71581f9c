#!/usr/bin/env bash
# Installs what is missing (apt and npm), builds everything with AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs the whole test suite through ctest:
# the Release build (integration tests measure memory on it), unit and
# integration tests (gcc build), then runs every fuzz target briefly from its seed corpus (clang +
# libFuzzer build). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --test
jobs=$(nproc)

# The optimised build (what tools/quickstart.sh runs) sees other warnings, and
# integration tests measure memory on it (PIPIT_RELEASE_BIN): build it first.
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPIPIT_TESTS=OFF >/dev/null
cmake --build build/release -j"$jobs"

cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
cmake --build build/sanitize -j"$jobs"
(cd build/sanitize && ctest --output-on-failure -j2 -LE fuzz "$@")

cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_C_COMPILER=clang -DPIPIT_FUZZ=ON >/dev/null
cmake --build build/fuzz -j"$jobs"
(cd build/fuzz && ctest --output-on-failure -L fuzz "$@")
