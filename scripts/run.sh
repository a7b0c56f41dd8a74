#!/usr/bin/env bash
# Installs what is missing, builds mxtls_exporter, and starts it with the example config on
# :10465. Extra arguments are passed to the exporter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXTLS_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mxtls_exporter
exec ./build/mxtls_exporter --config.file=config/examples/mxtls_exporter.yml "$@"
