#!/usr/bin/env bash
# Benchmark 1 (issue 10): latency of a 4-endpoint domain at a realistic round trip, against the
# floor of one `openssl s_client -starttls smtp` session plus the two DNS round trips every
# prober must add (MX, then A/AAAA).
#
# World: bench/world.sh. lat.bench.test has 4 MX hosts (IPv4 only: the zone has no AAAA, so the
# AAAA lookups come back empty) on delayed addresses; the exporter's DNS goes through the relay
# too. The exporter runs the default module (only ca_file and ehlo_name set; MTA-STS stays
# enabled, and the domain publishes no _mta-sts record, so its cost is one TXT lookup in
# parallel). One warm-up scrape fills the slow-fact caches (no-SNI, versions, key types), then
# RUNS pairs of (one scrape, one s_client session) alternate; medians of each.
#
#   bash bench/latency.sh            RTT_MS=50 RUNS=9 OUT=bench/results/latency.md
# Needs root (network namespaces), a built tree (see bench/README.md), postfix, nsd, openssl,
# curl, python3. Target (issue 10): median scrape <= 1.25 x floor.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/world.sh"
if [[ -z ${MXB_IN_CLIENT:-} ]]; then
  require_bench_tools exporter
  world_main "$0" "$@"
fi
. "$MXB_WORLD/world.env"
RTT_MS=${RTT_MS:-50}
RUNS=${RUNS:-9}
OUT=${OUT:-$repo/bench/results/latency.md}
make_tmp mxb-latency

relay_start "$RTT_MS"
log "relay: RTT ${RTT_MS} ms for 10.88.0.0/16 (SMTP and DNS)"

mkdir -p "$T/ex"
{
  world_exporter_config "$WORLD_DNS_DELAYED"
  cat <<EOF
targets:
  - domain: lat.bench.test
EOF
} >"$T/ex/config.yml"
exporter_in_world "$T/ex" info
scrape_timeout=20

one_scrape() { # wall seconds of one /probe scrape; the body in $T/scrape.txt
  curl -s -o "$T/scrape.txt" -w '%{time_total}' --max-time 30 \
    -H "X-Prometheus-Scrape-Timeout-Seconds: $scrape_timeout" "$ex_base/probe?target=lat.bench.test"
}
one_s_client() { # wall seconds of one s_client STARTTLS session to its exit (stdin at EOF: it
  # closes with close_notify at once after the handshake)
  local t0 t1
  t0=$(now_s)
  openssl s_client -starttls smtp -connect 10.88.1.1:25 -servername lat-mx1.bench.test \
    -verify_hostname lat-mx1.bench.test -verify_return_error -CAfile "$WORLD_ROOT_PEM" \
    </dev/null >"$T/s_client.txt" 2>&1 || die "s_client failed: $(tail -5 "$T/s_client.txt")"
  t1=$(now_s)
  grep -q 'Verify return code: 0 (ok)' "$T/s_client.txt" || die "s_client did not verify"
  elapsed "$t0" "$t1"
}
check_scrape() {
  grep -q '^probe_success 1$' "$T/scrape.txt" || die "probe failed: $(grep -v '^#' "$T/scrape.txt" | head -40)"
  local n
  n=$(grep -c '^mxtls_cert_verified{.*} 1$' "$T/scrape.txt" || true)
  ((n == 4)) || die "expected 4 verified endpoints, got $n"
}

warm=$(one_scrape)
check_scrape
log "warm-up scrape: ${warm}s (slow facts: no-SNI, versions, key types)"
cp "$T/scrape.txt" "$T/warmup.txt"

: >"$T/scrapes"
: >"$T/floors"
reused=0
for ((i = 1; i <= RUNS; i++)); do
  if ((i % 2)); then
    w=$(one_scrape); check_scrape; f=$(one_s_client)
  else
    f=$(one_s_client); w=$(one_scrape); check_scrape
  fi
  echo "$w" >>"$T/scrapes"
  echo "$f" >>"$T/floors"
  r=$(grep -c '^mxtls_endpoint_session_reused{.*} 1$' "$T/scrape.txt" || true)
  reused=$((reused + r))
  log "run $i: scrape ${w}s, s_client ${f}s, reused sessions $r"
done
cp "$T/scrape.txt" "$T/last.txt"
curl -s "$ex_base/probe?target=lat.bench.test&debug=true" -H "X-Prometheus-Scrape-Timeout-Seconds: 20" >"$T/debug.txt" || true
cpu=$(cpu_seconds "$ex_pid")
hwm=$(status_kib "$ex_pid" VmHWM)

scrape_med=$(median <"$T/scrapes")
s_med=$(median <"$T/floors")
floor=$(awk -v s="$s_med" -v r="$RTT_MS" 'BEGIN { printf "%.4f", s + 2 * r / 1000 }')
ratio=$(awk -v a="$scrape_med" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.25 ? "PASS" : "FAIL") }')
sessions=$(awk '/^mxtls_endpoint_smtp_sessions\{/ { s += $NF } END { print s + 0 }' "$T/last.txt")
pd=$(awk '/^probe_duration_seconds / { print $2 }' "$T/last.txt")

{
  echo
  echo "## Benchmark 1: latency, 4-endpoint domain at ${RTT_MS} ms RTT ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Revision $(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown); Postfix $WORLD_POSTFIX_VERSION, $WORLD_OPENSSL_VERSION;"
  echo "relay RTT ${RTT_MS} ms on SMTP and DNS; default module (MTA-STS on, no policy published; IPv4 endpoints only);"
  echo "$RUNS runs alternating one scrape and one s_client session, after one warm-up scrape (${warm} s)."
  echo
  echo "| measure | median (s) | all runs (s) |"
  echo "| --- | --- | --- |"
  echo "| mxtls scrape of lat.bench.test (curl time_total) | $scrape_med | $(paste -sd' ' "$T/scrapes") |"
  echo "| openssl s_client -starttls smtp, one session to its exit | $s_med | $(paste -sd' ' "$T/floors") |"
  echo "| floor = s_client + 2 x RTT (DNS) | $floor | |"
  echo
  echo "- ratio scrape / floor: **$ratio** (target <= 1.25): **$verdict**"
  echo "- probe_duration_seconds of the last scrape: $pd; SMTP sessions it opened: $sessions (4 endpoints)"
  echo "- endpoint sessions reused across the measured scrapes: $reused (expected 0: a domain's own next probe opens fresh sessions)"
  echo "- exporter CPU over the whole run: ${cpu} s; peak RSS (VmHWM): ${hwm} KiB"
  echo "- reproduce: \`sudo bash bench/latency.sh\` (RTT_MS=$RTT_MS RUNS=$RUNS)"
} | report "$OUT"
cp "$T/debug.txt" "$repo/bench/results/latency-debug.txt" 2>/dev/null || true
((reused == 0)) || log "WARNING: some endpoint sessions were reused between scrapes of the same domain"
