#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole default test suite twice: once in a
# normal build and once under AddressSanitizer + UndefinedBehaviorSanitizer.
# Slow tiers (fuzzing, long benchmarks) are separate commands; see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
jobs=$(nproc)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXTLS_BUILD_TESTS=ON -DMXTLS_SANITIZE=OFF -DMXTLS_TSAN=OFF >/dev/null
cmake --build build -j"$jobs"
echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMXTLS_SANITIZE=ON -DMXTLS_TSAN=OFF -DMXTLS_BUILD_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs"

echo "== tests"
(cd build && ctest --output-on-failure --no-tests=error)
echo "== tests under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --no-tests=error)
