#!/usr/bin/env bash
# Installs what is missing (apt and npm), builds everything with AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs the whole test suite through ctest:
# unit and integration tests (gcc build), checks that the Release build
# compiles, then runs every fuzz target briefly from its seed corpus (clang +
# libFuzzer build). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --test
jobs=$(nproc)

cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
cmake --build build/sanitize -j"$jobs"
(cd build/sanitize && ctest --output-on-failure -j2 -LE fuzz "$@")

# The optimised build (what tools/quickstart.sh runs) sees other warnings.
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPIPIT_TESTS=OFF >/dev/null
cmake --build build/release -j"$jobs"

cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_C_COMPILER=clang -DPIPIT_FUZZ=ON >/dev/null
cmake --build build/fuzz -j"$jobs"
(cd build/fuzz && ctest --output-on-failure -L fuzz "$@")
