#!/usr/bin/env bash
# Benchmark 3 (issue 10): throughput. DOMAINS domains (tp1..tpN.bench.test) with 4 MX hosts
# each, every host its own delayed address: 4 x DOMAINS distinct endpoints at RTT_MS round trip
# (SMTP and DNS through the relay). Every domain is scraped once through /probe by a concurrent
# load generator (CONCURRENCY scrapes in flight, X-Prometheus-Scrape-Timeout-Seconds
# SCRAPE_TIMEOUT), twice:
#   cold: the exporter just started, so every endpoint also gets its slow-fact sessions
#         (no-SNI, TLS 1.2, TLS 1.0/1.1 together, the other key type; the bench's Postfix, at
#         Debian's defaults, picks TLS 1.1 from the 1.0/1.1 offer, so a session offering
#         exactly TLS 1.0 follows: 6 sessions per endpoint with the main one);
#   warm: right after, the same domains again (one main session per endpoint).
# Measured: wall time of each pass, the exporter's CPU and peak RSS (VmHWM), sessions opened
# (counted by the relay: accepted connections), probe results, the CPU of the relay and of
# the servers (every process in the server namespace, with the smtpd processes that exited).
# RUNS runs, each with a freshly started exporter (so each has a cold pass); the verdicts are
# on the medians.
# Servers: one Postfix (default_process_limit = POSTFIX_PROCS) and nsd on the same 2 cores: the
# servers' CPU (forks, RSA signatures) competes with the exporter's; a real fleet does not.
# Before the cold pass the Postfix processes are started by an unmeasured floor_client run on the
# direct addresses, so that the cold pass does not also pay for forking smtpd processes.
#
#   sudo bash bench/throughput.sh    DOMAINS=1250 RTT_MS=100 CONCURRENCY=100 SCRAPE_TIMEOUT=60 RUNS=3
#       MAX_SESSIONS= (engine.max_sessions; empty: the default, 1000)
#                                    POSTFIX_PROCS=1100 OUT=bench/results/throughput.md
# Targets (issue 10): 5,000 endpoints within 60 s on 2 cores, peak RSS < 200 MB.
set -euo pipefail
DOMAINS=${DOMAINS:-1250}
POSTFIX_PROCS=${POSTFIX_PROCS:-1100}
export WORLD_TP_DOMAINS=$DOMAINS WORLD_PROCESS_LIMIT=$POSTFIX_PROCS
. "$(dirname "${BASH_SOURCE[0]}")/world.sh"
if [[ -z ${MXB_IN_CLIENT:-} ]]; then
  require_bench_tools exporter floor
  world_main "$0" "$@"
fi
. "$MXB_WORLD/world.env"
RTT_MS=${RTT_MS:-100}
CONCURRENCY=${CONCURRENCY:-100}
SCRAPE_TIMEOUT=${SCRAPE_TIMEOUT:-60}
MAX_SESSIONS=${MAX_SESSIONS:-} # engine.max_sessions (empty: the default, 1000)
RUNS=${RUNS:-3}
OUT=${OUT:-$repo/bench/results/throughput.md}
make_tmp mxb-throughput

relay_start "$RTT_MS"
log "relay: RTT ${RTT_MS} ms; $DOMAINS domains, $((DOMAINS * 4)) endpoints"

# Start Postfix's smtpd processes (unmeasured): many short sessions at once on direct addresses.
eps=()
for ((n = 1; n <= DOMAINS && ${#eps[@]} < 1000; n++)); do
  for k in 1 2 3 4; do eps+=("tp$n-mx$k.bench.test@$(world_tp_address 10.77 "$n" "$k"):25"); done
done
prespawn=$((POSTFIX_PROCS * 9 / 10))
"$FLOOR_CLIENT" --ca="$WORLD_ROOT_PEM" --sessions=$((prespawn * 2)) --threads="$prespawn" "${eps[@]}" \
  >"$T/prespawn.out" 2>&1 || log "pre-spawn: $(cat "$T/prespawn.out")"
log "Postfix processes started: $(cat "$T/prespawn.out")"

mkdir -p "$T/ex"
engine_line=""
[[ -n $MAX_SESSIONS ]] && engine_line="engine: {max_sessions: $MAX_SESSIONS}"
{
  world_exporter_config "$WORLD_DNS_DELAYED"
  echo "$engine_line"
  echo "targets:"
  for ((n = 1; n <= DOMAINS; n++)); do echo "  - domain: tp$n.bench.test"; done
} >"$T/ex/config.yml"
for ((n = 1; n <= DOMAINS; n++)); do echo "tp$n.bench.test"; done >"$T/targets"

relay_sessions() { awk '{ s += $2 } END { print s + 0 }' "$1"; }
pass() { # RUN NAME: one scrape of every domain; appends a row to $T/passes
  local run=$1 name=$2 c0 c1 r0 r1 t0 t1
  relay_counts "$T/counts0"
  local d0c d0s d1c d1s
  d0c=$(udp_drops $MXB_CLI); d0s=$(udp_drops $MXB_SRV)
  c0=$(cpu_seconds "$ex_pid")
  rc0=$(cpu_seconds "$relay_pid")
  sc0=$(netns_cpu_seconds $MXB_SRV)
  t0=$(now_s)
  python3 "$bench_dir/load.py" --url "$ex_base/probe?target={target}" --targets "$T/targets" \
    --requests "$DOMAINS" --concurrency "$CONCURRENCY" --scrape-timeout "$SCRAPE_TIMEOUT" \
    --require '^probe_success 1$' --failure-sample "$T/failure-$name.txt" >"$T/load-$name.json" ||
    die "load.py failed"
  t1=$(now_s)
  c1=$(cpu_seconds "$ex_pid")
  rc1=$(cpu_seconds "$relay_pid")
  sc1=$(netns_cpu_seconds $MXB_SRV)
  relay_counts "$T/counts1"
  d1c=$(udp_drops $MXB_CLI); d1s=$(udp_drops $MXB_SRV)
  # Which UDP sockets dropped datagrams (skmem d<N>), for the record.
  ss -uanmp >"$repo/bench/results/throughput-udp-$name.txt" 2>/dev/null || true
  local wall cpu sessions ok p50 p99 hwm rss
  wall=$(elapsed "$t0" "$t1")
  cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
  rcpu=$(awk -v a="$rc0" -v b="$rc1" 'BEGIN { printf "%.2f", b - a }')
  scpu=$(awk -v a="$sc0" -v b="$sc1" 'BEGIN { printf "%.2f", b - a }')
  sessions=$(($(relay_sessions "$T/counts1") - $(relay_sessions "$T/counts0")))
  read -r ok p50 p99 fails < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["successes"], round(r["latency_ms"]["p50"]), round(r["latency_ms"]["p99"]), json.dumps(r["failures"]).replace(" ", ""))' "$T/load-$name.json")
  hwm=$(status_kib "$ex_pid" VmHWM)
  rss=$(status_kib "$ex_pid" VmRSS)
  fails="$fails,udp_drops_cli=$((d1c - d0c)),udp_drops_srv=$((d1s - d0s))"
  echo "$name $wall $cpu $sessions $ok $p50 $p99 $hwm $rss $rcpu $fails $run $scpu" >>"$T/passes"
  log "run $run, $name: ${wall} s wall, ${cpu} s exporter CPU, $sessions sessions, $ok/$DOMAINS probes succeeded (p50 ${p50} ms, p99 ${p99} ms), VmHWM $hwm KiB, relay CPU ${rcpu} s, servers CPU ${scpu} s, failures $fails"
}
: >"$T/passes"
for ((run = 1; run <= RUNS; run++)); do
  exporter_in_world "$T/ex" info --web.handler-threads=$((CONCURRENCY + 16))
  rss0=$(status_kib "$ex_pid" VmRSS)
  pass "$run" cold
  pass "$run" warm
  curl -s "$ex_base/metrics" >"$T/metrics.txt"
  cp "$T/failure-cold.txt" "$repo/bench/results/throughput-failure-cold.txt" 2>/dev/null || true
  kill "$ex_pid"
  wait "$ex_pid" 2>/dev/null || true
done

# Medians over the runs of column C of pass NAME.
med() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$T/passes" | median; }
# A pass counts only if every probe of every run succeeded.
all_ok() { awk -v n="$1" -v d="$DOMAINS" '$1 == n && $5 != d { bad = 1 } END { print bad ? 0 : 1 }' "$T/passes"; }
verdict_wall() { awk -v w="$(med "$1" 2)" -v ok="$(all_ok "$1")" 'BEGIN { print (w <= 60 && ok ? "PASS" : "FAIL") }'; }
hwm_final=$(med warm 8)
verdict_rss=$(awk -v h="$hwm_final" 'BEGIN { print (h < 204800 ? "PASS" : "FAIL") }')
{
  echo
  echo "## Benchmark 3: throughput, $((DOMAINS * 4)) endpoints ($DOMAINS domains x 4 MX) at ${RTT_MS} ms RTT ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Revision $(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown); Postfix $WORLD_POSTFIX_VERSION (default_process_limit $POSTFIX_PROCS, on the same machine), $WORLD_OPENSSL_VERSION;"
  echo "$(nproc) CPUs; default module (engine limits: ${MAX_SESSIONS:-1000 (default)} sessions, 4 per address); $CONCURRENCY scrapes in flight, scrape timeout ${SCRAPE_TIMEOUT} s."
  echo
  echo "| run | pass | wall (s) | exporter CPU (s) | sessions (relay) | probes ok | p50 / p99 scrape (ms) | VmHWM after (KiB) | relay CPU (s) | servers CPU (s) | failures |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  awk -v d="$DOMAINS" '{ printf "| %s | %s | %s | %s | %s | %s/%s | %s / %s | %s | %s | %s | %s |\n", $12, $1, $2, $3, $4, $5, d, $6, $7, $8, $10, $13, $11 }' "$T/passes"
  for p in cold warm; do
    echo "| median | $p | $(med $p 2) | $(med $p 3) | $(med $p 4) | | | $(med $p 8) | $(med $p 10) | $(med $p 13) | |"
  done
  echo
  echo "- cold pass <= 60 s (median of $RUNS runs) with every probe ok: **$(verdict_wall cold)**; warm pass: **$(verdict_wall warm)**"
  echo "- peak RSS (VmHWM, median of $RUNS runs) < 200 MiB: **$verdict_rss** ($hwm_final KiB; $rss0 KiB before the last run's first pass)"
  echo "- endpoint cache: $(grep '^mxtls_exporter_endpoint_cache_requests_total' "$T/metrics.txt" | tr '\n' ' ')"
  echo "- reproduce: \`sudo bash bench/throughput.sh\` (DOMAINS=$DOMAINS RTT_MS=$RTT_MS CONCURRENCY=$CONCURRENCY RUNS=$RUNS)"
} | report "$OUT"
