#!/usr/bin/env bash
# Benchmark 4 (issue 10): the hosting shape, scraped by a real Prometheus.
#
# DOMAINS customer domains cN.hosting.bench.test (N = 1..DOMAINS), each with 2 MX records that
# name 2 of the provider's HOSTS shared mail hosts provider-mx1..provider-mxHOSTS.bench.test
# (domain N: the pair p = (N-1) mod (HOSTS/2), MX 10 provider-mx(2p+1), MX 20 provider-mx(2p+2)),
# each host name on its own delayed address 10.88.8.K: HOSTS endpoints (MX name, address) in
# all, every one shared by 2 x DOMAINS / HOSTS domains. The names are one label under
# bench.test, so the world's one wildcard leaf (*.bench.test) covers them, as a provider's own
# certificate covers its mail hosts. One real Postfix answers all of them (bench/world.sh).
#
# The exporter (default module: tls.ca_file = the world's private root, smtp.ehlo_name set;
# MTA-STS on, but no domain publishes a policy: one TXT lookup each) lists every domain as a
# target. A real Prometheus (Debian's) scrapes every domain once per SCRAPE_INTERVAL through
# /probe (instance = the domain, scrape_timeout SCRAPE_TIMEOUT) and the exporter's /metrics
# every 15 s. It runs MINUTES scrape intervals from its start (the first is the cold one:
# Prometheus spreads each target's first scrape over it); a snapshot after each interval records
# TLS handshakes at the server (Postfix "TLS connection established" lines), accepted
# connections per dialled address at the relay, the exporter's CPU, memory, threads and
# /metrics, and Prometheus' own /metrics and memory. At the end Prometheus' data is queried for
# up, scrape_duration_seconds, probe_success and probe_duration_seconds of every target over
# the run, and bench/hosting_report.py writes the Markdown section.
#
#   sudo nice -n 5 bash bench/hosting.sh   DOMAINS=10000 HOSTS=20 RTT_MS=50 MINUTES=5
#       SCRAPE_INTERVAL=60 SCRAPE_TIMEOUT=10 REUSE_WINDOW= (empty: the module's default, 30s;
#       "0s" turns session sharing across domains off) PERF_SECONDS=0 (> 0: perf profile of the
#       exporter for that long, early in interval 3: bench/results/hosting-raw/perf.txt)
#       OUT=bench/results/hosting.md
# Target (issue 10): no scrape timing out; TLS handshakes per minute proportional to the HOSTS
# addresses, not to the domains.
set -euo pipefail
DOMAINS=${DOMAINS:-10000}
HOSTS=${HOSTS:-20}
((HOSTS >= 2 && HOSTS % 2 == 0 && HOSTS <= 250)) || { echo "HOSTS must be even, 2..250" >&2; exit 2; }
export WORLD_PROCESS_LIMIT=${POSTFIX_PROCS:-300}

# The provider's mail hosts and the customer domains, added to the world's bench.test zone.
hosting_zone() {
  local k n p
  for ((k = 1; k <= HOSTS; k++)); do echo "provider-mx$k A 10.88.8.$k"; done
  for ((n = 1; n <= DOMAINS; n++)); do
    p=$(((n - 1) % (HOSTS / 2)))
    echo "c$n.hosting MX 10 provider-mx$((2 * p + 1))"
    echo "c$n.hosting MX 20 provider-mx$((2 * p + 2))"
  done
}

if [[ -z ${MXB_IN_CLIENT:-} ]]; then
  WORLD_ZONE_EXTRA=$(mktemp /tmp/mxb-hosting-zone.XXXXXX)
  export WORLD_ZONE_EXTRA
  hosting_zone >"$WORLD_ZONE_EXTRA"
fi
. "$(dirname "${BASH_SOURCE[0]}")/world.sh"
if [[ -z ${MXB_IN_CLIENT:-} ]]; then
  require_bench_tools exporter
  require_commands "apt-get install prometheus" prometheus promtool
  world_main "$0" "$@"
fi
rm -f "${WORLD_ZONE_EXTRA:-}" # nsd has its own copy of the zone now
. "$MXB_WORLD/world.env"
RTT_MS=${RTT_MS:-50}
MINUTES=${MINUTES:-5}
SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-60}
SCRAPE_TIMEOUT=${SCRAPE_TIMEOUT:-10}
REUSE_WINDOW=${REUSE_WINDOW:-}
PROM_PORT=${PROM_PORT:-9090} # in mxb-cli: below its ephemeral range (10000-65000)
PERF_SECONDS=${PERF_SECONDS:-0} # > 0: perf record of the exporter for that long in interval 3
OUT=${OUT:-$repo/bench/results/hosting.md}
make_tmp mxb-hosting
maillog=$WORLD_POSTFIX_DIR/maillog

relay_start "$RTT_MS"
log "relay: RTT ${RTT_MS} ms; $DOMAINS domains on $HOSTS shared MX hosts (10.88.8.1-$HOSTS)"

mkdir -p "$T/ex"
{
  world_exporter_config "$WORLD_DNS_DELAYED"
  [[ -n $REUSE_WINDOW ]] && echo "    endpoint_reuse_window: $REUSE_WINDOW"
  echo "targets:"
  for ((n = 1; n <= DOMAINS; n++)); do echo "  - domain: c$n.hosting.bench.test"; done
} >"$T/ex/config.yml"
exporter_in_world "$T/ex" info
ex_hostport=${ex_base#http://}

# One check before Prometheus starts (unmeasured: it is not in the first snapshot's window
# either, so it is subtracted from nothing): the world answers as expected.
scrape_timeout=$SCRAPE_TIMEOUT scrape c1.hosting.bench.test
grep -q '^probe_success 1$' "$ex_dir/c1.hosting.bench.test.txt" ||
  die "c1.hosting.bench.test: no probe_success 1: $(grep -E '^(probe_success|mxtls_endpoint_failure|mxtls_cert_verified)' "$ex_dir/c1.hosting.bench.test.txt" | head)"
log "c1.hosting.bench.test probed: $(grep -c '^mxtls_' "$ex_dir/c1.hosting.bench.test.txt") mxtls_ series"

# Prometheus: README "Alerts" scrape pattern (instance = the domain), targets from a file.
mkdir -p "$T/prom"
python3 - "$T/prom/targets.json" "$DOMAINS" <<'EOF'
import json, sys
json.dump([{"targets": [f"c{n}.hosting.bench.test" for n in range(1, int(sys.argv[2]) + 1)]}],
          open(sys.argv[1], "w"))
EOF
cat >"$T/prom/prometheus.yml" <<EOF
global:
  scrape_interval: ${SCRAPE_INTERVAL}s
scrape_configs:
  - job_name: mxtls
    metrics_path: /probe
    scrape_interval: ${SCRAPE_INTERVAL}s
    scrape_timeout: ${SCRAPE_TIMEOUT}s
    file_sd_configs:
      - files: [$T/prom/targets.json]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: $ex_hostport
  - job_name: mxtls_exporter
    scrape_interval: 15s
    static_configs:
      - targets: ["$ex_hostport"]
EOF

# A snapshot: what the servers, the exporter and Prometheus say now (directory $T/snap/M).
snapshot() { # M
  local d=$T/snap/$1
  mkdir -p "$d"
  relay_counts "$d/relay_counts"
  grep -c 'TLS connection established from' "$maillog" >"$d/postfix_tls" 2>/dev/null || echo 0 >"$d/postfix_tls"
  {
    echo "time $(now_s)"
    echo "exporter_cpu $(cpu_seconds "$ex_pid")"
    echo "exporter_rss_kib $(status_kib "$ex_pid" VmRSS)"
    echo "exporter_hwm_kib $(status_kib "$ex_pid" VmHWM)"
    echo "exporter_threads $(status_kib "$ex_pid" Threads)"
    echo "relay_cpu $(cpu_seconds "$relay_pid")"
    if [[ -n ${prom_pid:-} ]]; then
      echo "prom_cpu $(cpu_seconds "$prom_pid")"
      echo "prom_rss_kib $(status_kib "$prom_pid" VmRSS)"
      echo "prom_hwm_kib $(status_kib "$prom_pid" VmHWM)"
    fi
    echo "udp_drops_cli $(udp_drops $MXB_CLI)"
    echo "loadavg $(cut -d' ' -f1 /proc/loadavg)"
  } >"$d/proc"
  curl -s --max-time 20 "$ex_base/metrics" >"$d/exporter_metrics" || true
  [[ -n ${prom_pid:-} ]] && { curl -s --max-time 20 "$prom_url/metrics" >"$d/prom_metrics" || true; }
  return 0
}

snapshot 0
t_start=$(date +%s)
run_prometheus "$T/prom" "$PROM_PORT" 60 --storage.tsdb.retention.time=1d
log "Prometheus $(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }') on $prom_url: $DOMAINS targets every ${SCRAPE_INTERVAL} s (timeout ${SCRAPE_TIMEOUT} s), $MINUTES intervals"
for ((m = 1; m <= MINUTES; m++)); do
  while (($(date +%s) < t_start + m * SCRAPE_INTERVAL)); do
    prom_alive
    kill -0 "$ex_pid" 2>/dev/null || die "exporter exited: $(tail -n 5 "$ex_dir/stderr.log")"
    sleep 1
  done
  snapshot "$m"
  if ((m == 2 && PERF_SECONDS > 0)); then # a CPU profile of the exporter in the steady state
    (
      set +e +o pipefail
      perf record -F 499 -p "$ex_pid" -o "$T/perf.data" -- sleep "$PERF_SECONDS" >"$T/perf.log" 2>&1
      perf report -i "$T/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep '%' | grep -v '^#' | head -60 >"$T/perf.txt"
    ) &
    perf_job=$!
  fi
  log "interval $m: $(($(cat "$T/snap/$m/postfix_tls") - $(cat "$T/snap/$((m - 1))/postfix_tls"))) TLS handshakes at Postfix, exporter CPU $(awk '$1 == "exporter_cpu" { print $2 }' "$T/snap/$m/proc") s, Prometheus RSS $(awk '$1 == "prom_rss_kib" { print $2 }' "$T/snap/$m/proc") KiB"
done
t_end=$(date +%s)

# Prometheus' view of the run: every sample of the probe job's targets.
query() { # NAME PROMQL
  curl -s --max-time 120 -G "$prom_url/api/v1/query" --data-urlencode "query=$2" \
    --data-urlencode "time=$t_end" >"$T/q_$1.json" || die "query $2 failed"
}
range="$((t_end - t_start + 5))s"
query up "up{job=\"mxtls\"}[$range]"
query scrape_duration "scrape_duration_seconds{job=\"mxtls\"}[$range]"
query probe_success "probe_success{job=\"mxtls\"}[$range]"
query probe_duration "probe_duration_seconds{job=\"mxtls\"}[$range]"
query targets_active "count(up{job=\"mxtls\"})"
curl -s --max-time 60 "$prom_url/api/v1/targets?state=active" | python3 -c '
import json, sys, collections
t = json.load(sys.stdin)["data"]["activeTargets"]
import re
c = collections.Counter((x["scrapePool"], x["health"], re.sub(r"^Get \S+: ", "", x["lastError"])[:60]) for x in t)
for k, v in c.most_common(): print(v, *k, sep="\t")' >"$T/targets_health.txt" || true
grep -c '' "$ex_dir/stderr.log" >"$T/exporter_log_lines" || true
grep -o 'level=[a-z]*' "$ex_dir/stderr.log" | sort | uniq -c >"$T/exporter_log_levels" || true

python3 "$bench_dir/hosting_report.py" --dir "$T" --domains "$DOMAINS" --hosts "$HOSTS" \
  --rtt-ms "$RTT_MS" --interval "$SCRAPE_INTERVAL" --timeout "$SCRAPE_TIMEOUT" --minutes "$MINUTES" \
  --reuse-window "${REUSE_WINDOW:-default (30s)}" \
  --revision "$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
  --versions "Postfix $WORLD_POSTFIX_VERSION, $WORLD_NSD_VERSION, $WORLD_OPENSSL_VERSION, Prometheus $(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }')" |
  report "$OUT"
mkdir -p "$repo/bench/results/hosting-raw"
[[ -n ${perf_job:-} ]] && { wait "$perf_job" || true; }
cp -r "$T/snap" "$T"/q_*.json "$T"/perf.txt "$T/targets_health.txt" "$T/exporter_log_levels" "$T/prom/prometheus.yml" \
  "$repo/bench/results/hosting-raw/" 2>/dev/null || true
