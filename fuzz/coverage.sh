#!/usr/bin/env bash
# Line and branch coverage of the parsers reached by the fuzz corpora: builds the targets with
# clang's source-based coverage into <repo>/build-fuzz-cov, runs every input of
# build-fuzz/corpus/<target> (grown by run.sh) and fuzz/corpus/<target> once, and prints an
# llvm-cov report for the source files under test.
#   bash fuzz/coverage.sh            # report
#   bash fuzz/coverage.sh --html     # also writes build-fuzz-cov/html/index.html
# Environment: CXX (default clang++-14), MXTLS_FUZZ_BUILD (the corpora, default build-fuzz).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-fuzz-cov
corpora=${MXTLS_FUZZ_BUILD:-$root/build-fuzz}/corpus
cxx=${CXX:-clang++-14}
version=${cxx##*-}  # llvm tools of the same version as the compiler
profdata=$(command -v "llvm-profdata-$version" || command -v llvm-profdata)
cov=$(command -v "llvm-cov-$version" || command -v llvm-cov)
targets=(smtp_reply dns_message http_head mta_sts_policy tlsrpt certificate config_yaml)
sources=(probes/judgement/smtp_reply.cc probes/judgement/dns_message.cc probes/https_fetch.cc probes/judgement/mta_sts.cc
         probes/judgement/tlsrpt.cc probes/judgement/txt_record_syntax.cc probes/judgement/dns_names.cc probes/judgement/cert_checks.cc
         config/config.cc)

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DMXTLS_FUZZ_COVERAGE=ON >/dev/null
fi
cmake --build "$build" -j "${JOBS:-$(nproc)}" >/dev/null

rm -rf "$build/profiles"
mkdir -p "$build/profiles"
objects=()
for t in "${targets[@]}"; do
  dirs=("$root/fuzz/corpus/$t")
  [[ -d $corpora/$t ]] && dirs+=("$corpora/$t")
  # Semantic checks off: a known finding in the corpus must not end the run early.
  MXTLS_FUZZ_SKIP=smtp_reason_stable,san_match_diff \
    LLVM_PROFILE_FILE="$build/profiles/$t.profraw" "$build/${t}_fuzzer" -runs=0 \
    -rss_limit_mb=2048 -artifact_prefix="$build/profiles/" "${dirs[@]}" >"$build/profiles/$t.log" 2>&1 </dev/null ||
    echo "coverage.sh: $t failed on its corpus (see $build/profiles/$t.log)" >&2
  objects+=(-object "$build/${t}_fuzzer")
done
"$profdata" merge -sparse "$build"/profiles/*.profraw -o "$build/fuzz.profdata"

paths=()
for s in "${sources[@]}"; do paths+=("$root/$s"); done
# objects[0] is "-object"; llvm-cov wants the first binary bare.
"$cov" report "${objects[1]}" "${objects[@]:2}" -instr-profile="$build/fuzz.profdata" \
  "${paths[@]}"
if [[ ${1:-} == --html ]]; then
  "$cov" show "${objects[1]}" "${objects[@]:2}" -instr-profile="$build/fuzz.profdata" \
    -format=html -output-dir="$build/html" "${paths[@]}"
  echo "coverage.sh: $build/html/index.html"
fi
