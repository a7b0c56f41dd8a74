#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt, a standalone clang project) into a build
# directory, default <repo>/build-fuzz (ignored by git). Incremental after the first build.
#   bash fuzz/build.sh [build-dir]
# Environment: CXX (default clang++-14), JOBS (default: number of CPUs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-fuzz}
cxx=${CXX:-clang++-14}
jobs=${JOBS:-$(nproc)}

if ! command -v "$cxx" >/dev/null; then
  echo "build.sh: $cxx not found; apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 2
fi
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
fi
cmake --build "$build" -j "$jobs"
