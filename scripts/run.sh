#!/usr/bin/env bash
# Installs what is missing, builds mxtls_exporter (scripts/build.sh, in build/), and starts it
# with the example config on :10465. Extra arguments are passed to the exporter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh --build-dir=build
exec ./build/mxtls_exporter --config.file=config/examples/mxtls_exporter.yml "$@"
