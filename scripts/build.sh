#!/usr/bin/env bash
# Installs what is missing and builds the mxtls_exporter binary: the one build recipe that
# scripts/run.sh and the Dockerfile's build stage share.
#
#   bash scripts/build.sh [--build-dir=DIR] [--build-type=TYPE]
#
#   --build-dir=DIR    build directory, relative to the repository (default build)
#   --build-type=TYPE  CMAKE_BUILD_TYPE (default RelWithDebInfo)
#
# Every cache option the build depends on is set on each run, so the result does not depend on
# which script configured DIR before (scripts/test.sh turns the tests on, bench/run.sh the
# benchmark tools; a production binary is never a sanitizer build). The binary is
# DIR/mxtls_exporter.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
build_type=RelWithDebInfo
for arg in "$@"; do
  case "$arg" in
    --build-dir=*) build_dir=${arg#*=} ;;
    --build-type=*) build_type=${arg#*=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DMXTLS_SANITIZE=OFF -DMXTLS_TSAN=OFF \
  -DMXTLS_BUILD_TESTS=OFF -DMXTLS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target mxtls_exporter
