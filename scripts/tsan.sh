#!/usr/bin/env bash
# ThreadSanitizer run of the engine tests: probes_tests (resolver, SMTP/TLS sessions, HTTPS
# fetch, watchdog, fixture servers) and exporter_tests (the engine behind /probe, the HTTP
# front, the status store, and the binary run as a subprocess), built in their own directory
# build-tsan with MXTLS_TSAN=ON. Not part of scripts/test.sh or CI: see README.md
# ("ThreadSanitizer").
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

# halt_on_error: a race ends the process that saw it with a non-zero exit code.
# second_deadlock_stack: lock-order reports show where both locks were taken.
# history_size=4 keeps the stack of the older access in more reports (longer tests).
# log_path: the exporter binary that exporter_tests run as a child has its stderr read by the
# test, so every process writes its reports to files instead, and this script fails on any.
logs=build-tsan/tsan-reports
rm -rf "$logs" && mkdir -p "$logs"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 suppressions=$PWD/tests/tsan.supp log_path=$PWD/$logs/report ${TSAN_OPTIONS:-}"

status=0
echo "== probes_tests under ThreadSanitizer"
./build-tsan/tests/probes_tests --order rand --warn NoAssertions || status=1
echo "== exporter_tests under ThreadSanitizer"
# "~[.]" keeps the hidden tests (run by the e2e scripts) hidden, as without a filter.
# [timing]: the few assertions on wall time (parallelism, deadlines under load), which
# measure TSan's own slowdown (5 to 15 times) rather than the code; the default suite runs them.
./build-tsan/tests/exporter_tests --order rand --warn NoAssertions "~[timing]~[.]" || status=1

if compgen -G "$logs/report.*" >/dev/null; then
  echo "== ThreadSanitizer reports (one file per process, in $logs):"
  for f in "$logs"/report.*; do echo "--- $f"; cat "$f"; done
  exit 1
fi
if ((status != 0)); then
  echo "== a test failed under ThreadSanitizer (no race report)"
  exit 1
fi
echo "== ThreadSanitizer: no reports"
