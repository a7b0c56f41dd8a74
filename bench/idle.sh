#!/usr/bin/env bash
# Benchmark 5 (issue 10): the exporter's memory at rest with many configured targets.
# The exporter starts with TARGETS configured domains (default module) and no probe is made;
# VmRSS is read SETTLE seconds after it listens, then after one /metrics scrape and after one
# /status page (which lists every target). RUNS separate starts; medians.
# No network world is needed: loopback only, and the resolver is a closed port on 127.0.0.1
# (the start-up DNSSEC check of the resolver fails at once, as it would with no network).
#
#   bash bench/idle.sh          TARGETS=1000 RUNS=3 SETTLE=2 OUT=bench/results/idle.md
# Target (issue 10): VmRSS < 20 MB, checked as 20 MiB (20480 KiB) after the /metrics scrape.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/world.sh"
TARGETS=${TARGETS:-1000}
RUNS=${RUNS:-3}
SETTLE=${SETTLE:-2}
OUT=${OUT:-$repo/bench/results/idle.md}
require_bench_tools exporter
require_commands "apt-get install curl" curl
make_tmp mxb-idle

: >"$T/rows"
for ((r = 1; r <= RUNS; r++)); do
  mkdir -p "$T/ex$r"
  {
    echo 'dns:'
    echo '  resolvers: ["127.0.0.1:9"]'
    echo 'targets:'
    for ((i = 1; i <= TARGETS; i++)); do echo "  - domain: customer$i.example"; done
  } >"$T/ex$r/config.yml"
  exporter_in_world "$T/ex$r" info
  sleep "$SETTLE"
  start_rss=$(status_kib "$ex_pid" VmRSS)
  curl -sf -o "$T/metrics.txt" "$ex_base/metrics" || die "/metrics failed"
  sleep 0.5
  metrics_rss=$(status_kib "$ex_pid" VmRSS)
  curl -sf -o "$T/status.html" "$ex_base/status" || die "/status failed"
  sleep 0.5
  status_rss=$(status_kib "$ex_pid" VmRSS)
  hwm=$(status_kib "$ex_pid" VmHWM)
  threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$ex_pid/status")
  echo "$start_rss $metrics_rss $status_rss $hwm $threads" >>"$T/rows"
  log "run $r: VmRSS ${start_rss} KiB after start, ${metrics_rss} after /metrics, ${status_rss} after /status (VmHWM $hwm, $threads threads)"
  kill -TERM "$ex_pid"
  wait "$ex_pid" 2>/dev/null || true
done

med() { awk -v c="$1" '{ print $c }' "$T/rows" | median; }
s=$(med 1); m=$(med 2); st=$(med 3); h=$(med 4); th=$(med 5)
verdict=$(awk -v a="$m" 'BEGIN { print (a < 20480 ? "PASS" : "FAIL") }')
{
  echo
  echo "## Benchmark 5: idle memory with $TARGETS configured targets ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Revision $(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown); $RUNS starts, medians; no probe made."
  echo
  echo "| moment | VmRSS (KiB) |"
  echo "| --- | --- |"
  echo "| ${SETTLE} s after it listens | $s |"
  echo "| after one /metrics scrape | $m |"
  echo "| after one /status page | $st |"
  echo "| VmHWM at the end | $h |"
  echo
  echo "- threads: $th"
  echo "- VmRSS after /metrics < 20 MiB (20480 KiB): **$verdict**"
  echo "- reproduce: \`bash bench/idle.sh\` (TARGETS=$TARGETS RUNS=$RUNS)"
} | report "$OUT"
