#!/usr/bin/env bash
# The slow test tier: builds the libFuzzer targets and fuzzes each for a fixed time.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   fuzz (default 60 s, all targets)
#   bash fuzz/run.sh replay [TARGET...]                 run every seed and saved crash once
#
# Exits 0 when no target found anything; 1 when some target found a crash, a leak, a timeout
# (an input slower than FUZZ_TIMEOUT) or an out-of-memory (RSS over 2 GiB or one allocation
# over that); 2 when the build or the arguments fail. Prints one summary line per target.
#
# Environment:
#   MXTLS_FUZZ_BUILD  build directory (default <repo>/build-fuzz, ignored by git)
#   FUZZ_PARALLEL     targets fuzzed at the same time (default 1; each uses one core)
#   FUZZ_TIMEOUT      seconds one input may take before it counts as a hang (default 5)
#   FUZZ_ARGS         extra libFuzzer flags for every target, e.g. "-jobs=4" or "-dict=..."
#   MXTLS_FUZZ_SKIP   comma-separated semantic checks to switch off while a known finding
#                     is unfixed (names in fuzz/README.md), e.g. smtp_reason_stable
#
# Files: the growing corpus of each target is kept in $build/corpus/<target> (the seeds in
# fuzz/corpus/<target> are read, never written), logs in $build/logs/<target>.log, and
# whatever a run finds in $build/findings/<time>/<target>/. See fuzz/README.md for what to
# do with a finding.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MXTLS_FUZZ_BUILD:-$root/build-fuzz}
all_targets=(smtp_reply dns_message http_head mta_sts_policy tlsrpt certificate config_yaml)

# Largest input per target: what the code can be handed in production, plus the control
# bytes some targets read first (3 for smtp_reply and http_head).
declare -A max_len=(
  [smtp_reply]=$((8 * 1024 + 3))        # a few replies; one is capped at ~200 KiB by limits
  [dns_message]=$((4 * 1024))           # an EDNS answer (1232 B) with room to spare
  [http_head]=$((64 * 1024 + 3))        # head (16 KiB cap) + a policy-sized body
  [mta_sts_policy]=$((64 * 1024 + 16))  # kStsMaxPolicyBytes, and just over it
  [tlsrpt]=$((4 * 1024))                # TXT records of one answer
  [certificate]=$((16 * 1024))          # a presented chain
  [config_yaml]=$((16 * 1024))
)

mode=fuzz
seconds=60
if [[ ${1:-} == replay ]]; then
  mode=replay
  shift
elif [[ ${1:-} =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
elif [[ $# -gt 0 && -z ${max_len[${1:-}]+x} ]]; then
  echo "usage: $0 [SECONDS_PER_TARGET | replay] [TARGET...]" >&2
  exit 2
fi
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [[ -z ${max_len[$t]+x} ]]; then
    echo "run.sh: unknown target '$t' (known: ${all_targets[*]})" >&2
    exit 2
  fi
done

mkdir -p "$build"
bash "$root/fuzz/build.sh" "$build" >"$build/build.log" 2>&1 || {
  cat "$build/build.log" >&2
  echo "run.sh: build failed (log above)" >&2
  exit 2
}

# ---- replay: every seed and every saved crash, once ----------------------------------------
if [[ $mode == replay ]]; then
  failed=0
  for t in "${targets[@]}"; do
    files=()
    for dir in "$root/fuzz/corpus/$t" "$root/fuzz/crashes/$t"; do
      [[ -d $dir ]] && while IFS= read -r -d '' f; do files+=("$f"); done \
        < <(find "$dir" -type f ! -name '*.md' -print0 | sort -z)
    done
    log=$build/logs/$t.replay.log
    mkdir -p "$build/logs"
    if "$build/${t}_fuzzer" -rss_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-5}" "${files[@]}" \
        >"$log" 2>&1 </dev/null; then
      printf '%-15s ok      %d inputs\n' "$t" "${#files[@]}"
    else
      failed=1
      printf '%-15s FAILED  %s\n' "$t" "$(grep -m1 -E 'ERROR|FUZZ_CHECK|runtime error' "$log")"
      grep '^Running: ' "$log" | tail -1 | sed 's/^/                /'
    fi
  done
  exit $failed
fi

# ---- fuzz -----------------------------------------------------------------------------------
# A 64 MiB ASan quarantine instead of 256: with the default, the config_yaml target's RSS
# (yaml-cpp allocates a lot, and frees it through the quarantine) kept growing past 1 GiB in
# 3 minutes and would hit -rss_limit_mb in a long run without any leak (with a small
# quarantine it stays flat at ~230 MiB). Use-after-free of recently freed memory, the kind a
# parser bug makes, is still caught. Settings given in ASAN_OPTIONS win (they come last).
export ASAN_OPTIONS="quarantine_size_mb=64:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$build/logs"

fuzz_one() {
  local t=$1
  local corpus=$build/corpus/$t findings=$build/findings/$stamp/$t
  mkdir -p "$corpus" "$findings"
  local args=(
    -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout="${FUZZ_TIMEOUT:-5}"
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/"
    # Grow inputs towards max_len 5x faster than libFuzzer's default, so that a run of a few
    # minutes reaches the sizes where the byte limits and any quadratic cost show.
    -len_control=20
  )
  # shellcheck disable=SC2206  # FUZZ_ARGS is a list of extra libFuzzer flags
  args+=(${FUZZ_ARGS:-})
  [[ -f $root/fuzz/dict/$t.dict ]] && args+=(-dict="$root/fuzz/dict/$t.dict")
  "$build/${t}_fuzzer" "${args[@]}" "$corpus" "$root/fuzz/corpus/$t" \
    >"$build/logs/$t.log" 2>&1 </dev/null
  echo $? >"$build/logs/$t.rc"
}

running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if ((running >= ${FUZZ_PARALLEL:-1})); then
    wait -n
    running=$((running - 1))
  fi
done
wait

stat() {  # stat NAME LOG: a -print_final_stats value
  sed -n "s/^stat::$1: *//p" "$2" | tail -1
}

found=0
echo "fuzz: ${seconds}s per target, build $build"
for t in "${targets[@]}"; do
  log=$build/logs/$t.log
  rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo 99)
  findings=$build/findings/$stamp/$t
  artifacts=$(find "$findings" -type f 2>/dev/null | sort)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  execs=$(stat number_of_executed_units "$log")
  rate=$(stat average_exec_per_sec "$log")
  added=$(stat new_units_added "$log")
  rss=$(stat peak_rss_mb "$log")
  slowest=$(stat slowest_unit_time_sec "$log")
  maxlen=$(grep -oE 'lim: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  if [[ $rc == 0 && -z $artifacts ]]; then
    status=ok
    rmdir "$findings" 2>/dev/null
  else
    status=FOUND
    found=1
  fi
  printf '%-15s %-5s %10s execs %6s exec/s  %s  new %s  len<=%s  slowest %ss  rss %sMB\n' \
    "$t" "$status" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "${added:-?}" "${maxlen:-?}" \
    "${slowest:-?}" "${rss:-?}"
  if [[ $status == FOUND ]]; then
    grep -m1 -E '^==[0-9]+==ERROR|FUZZ_CHECK failed|runtime error|ALARM|out-of-memory|leak' "$log" |
      sed 's/^/                what: /'
    for a in $artifacts; do echo "                input: $a"; done
    echo "                log: $log"
  fi
done
rmdir "$build/findings/$stamp" 2>/dev/null
if ((found)); then
  echo "fuzz: FINDINGS (see fuzz/README.md: reproduce, minimize, save under fuzz/crashes/)"
  exit 1
fi
echo "fuzz: no findings"
exit 0
