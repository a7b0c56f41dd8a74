#!/usr/bin/env bash
# ThreadSanitizer run of the engine tests: probes_tests (resolver, SMTP/TLS sessions, HTTPS
# fetch, watchdog, fixture servers) and exporter_tests (the engine behind /probe, the HTTP
# front, the status store, and the binary run as a subprocess), built in their own directory
# build-tsan with MXTLS_TSAN=ON. Not part of scripts/test.sh: see README.md ("ThreadSanitizer").
# Any report fails the run (halt_on_error=1). tests/tsan.supp holds only proven false positives
# in uninstrumented system libraries, each with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test  # exporter_tests needs python3-jsonschema, openssl, ...
jobs=$(nproc)

echo "== build (ThreadSanitizer) in build-tsan"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXTLS_TSAN=ON -DMXTLS_SANITIZE=OFF \
      -DMXTLS_BUILD_TESTS=ON -DMXTLS_BUILD_BENCH=OFF >/dev/null
# exporter_tests depends on mxtls_exporter (its tests run the binary as a subprocess).
cmake --build build-tsan -j"$jobs" --target probes_tests exporter_tests mxtls_exporter

# halt_on_error: the first race fails the run (its exit code is non-zero), so none is missed in
# a long log. second_deadlock_stack: lock-order reports show where both locks were taken.
# history_size=4 keeps the stack of the older access in more reports (longer tests).
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 suppressions=$PWD/tests/tsan.supp ${TSAN_OPTIONS:-}"

echo "== probes_tests under ThreadSanitizer"
./build-tsan/tests/probes_tests --order rand --warn NoAssertions
echo "== exporter_tests under ThreadSanitizer"
./build-tsan/tests/exporter_tests --order rand --warn NoAssertions
echo "== ThreadSanitizer: no reports"
