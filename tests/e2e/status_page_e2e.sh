#!/usr/bin/env bash
# The status page in a real headless browser (Debian's chromium) and /sd consumed by a real
# Prometheus (Debian's prometheus), against the exporter and a fixture mail world.
#
#   status_page_e2e.sh --exporter-tests BIN [--artifacts DIR]
#
# The mail world (fixture DNS and SMTP servers, the exporter binary, probes already run) is
# built by the hidden Catch2 case "[.status_e2e]" of BIN (tests/exporter/status_page_test.cc),
# which then calls this script back with --check PORT DIR and fails unless it exits 0. In
# --check mode this script:
#   1. loads /status and /status/hostile.test with `chromium --dump-dom` and asserts the
#      rendered rows (domains, levels, order, escaped hostile names, no injected element) and
#      the CSS mapping of level classes to colours;
#   2. takes screenshots (kept in DIR: status.png, status-hostile.png) and counts the pixels
#      of each level colour with tests/e2e/png_colours.py;
#   3. starts Prometheus with http_sd_configs on /sd and the README's relabelling, and asserts
#      through its API that every discovered target is scraped (up == 1, instance = the
#      domain), that the module reached the exporter as ?module=, and that no series carries
#      the module label.
# Needs chromium, prometheus, promtool, python3 and curl; listens on loopback only.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
E2E_NAME=status_e2e
started=$(date +%s.%N)
# shellcheck source=tests/e2e/e2e_lib.sh
source "$here/e2e_lib.sh"

need() {
  local missing=()
  for c in "$@"; do command -v "$c" >/dev/null || missing+=("$c"); done
  ((${#missing[@]} == 0)) ||
    die "missing commands: ${missing[*]} (apt-get install chromium prometheus python3 curl; or bash scripts/install-deps.sh --test)"
}

if [[ ${1:-} != --check ]]; then
  tests_bin="" artifacts="$PWD/status_page_e2e"
  while (($#)); do
    case $1 in
      --exporter-tests) tests_bin=$2; shift 2 ;;
      --artifacts) artifacts=$2; shift 2 ;;
      *) die "unknown argument $1" ;;
    esac
  done
  [[ -x $tests_bin ]] || die "--exporter-tests BIN: the exporter_tests binary is required"
  need chromium prometheus promtool python3 curl
  mkdir -p "$artifacts"
  export MXTLS_STATUS_E2E_CHECK="bash $here/status_page_e2e.sh --check"
  export MXTLS_STATUS_E2E_ARTIFACTS=$artifacts
  log "mail world from $tests_bin [.status_e2e]; artefacts in $artifacts"
  exec "$tests_bin" "[.status_e2e]"
fi

port=$2
art=$3
url=http://127.0.0.1:$port
T=$(mktemp -d /tmp/status-e2e.XXXXXX)
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

# Everything that would make Chromium talk to anything but the exporter is off; its profile is
# a fresh directory each run.
browser() {
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-features=Translate,MediaRouter,OptimizationHints --hide-scrollbars \
    --user-data-dir="$(mktemp -d "$T/profile.XXXXXX")" "$@" 2>>"$T/chromium.log"
}
check() { # check DESCRIPTION COMMAND...: counts a passed assertion, dies on a failed one
  local what=$1
  shift
  "$@" || die "$what"
  passed=$((passed + 1))
}
contains() { [[ $1 == *"$2"* ]]; }
lacks() { [[ $1 != *"$2"* ]]; }

# --- 1. the rendered DOM ------------------------------------------------------------------
browser --dump-dom "$url/status" >"$art/status.dom.html" || die "chromium --dump-dom failed: $(tail -n 5 "$T/chromium.log")"
dom=$(cat "$art/status.dom.html")
check "the DOM has the targets table" contains "$dom" '<table id="targets">'
# Row order and levels, as the browser built them.
rows=$(grep -o '<tr class="target [^"]*" data-domain="[^"]*" data-level="[^"]*"' <<<"$dom" |
  sed 's/.*data-domain="\([^"]*\)" data-level="\([^"]*\)"/\1=\2/' | tr '\n' ' ')
log "rows: $rows"
# The fixture resolver does not validate DNSSEC, so "dnssec: unknown" (info) is the best a
# fixture domain gets: good.test is info, ranked with info.test by name; green shows in the
# per-level finding counts (passed checks) of every probed row.
check "rows worst first: $rows" [ "$rows" == "hostile.test=critical warn.test=warning good.test=info info.test=info alt.test=not probed yet quiet.test=not probed yet " ]
for level in critical warning info unprobed; do
  check "a level-$level status cell" contains "$dom" "class=\"level level-$level\""
done
check "passed checks counted in green" contains "$dom" '<span class="level-ok" title="ok">'
# The CSS maps each class to its colour (the screenshot below checks the pixels).
declare -A colour=([critical]=c62828 [warning]=ef8f00 [info]=1565c0 [ok]=2e7d32 [unprobed]=9e9e9e)
for level in "${!colour[@]}"; do
  check "CSS maps level-$level to #${colour[$level]}" contains "$dom" ".level-$level { background: #${colour[$level]}; }"
done
check "the sharding note is shown" contains "$dom" "each replica shows only its own share of the targets"
check "no element was injected by a hostile name" [ "$(grep -c '<script\|<img' <<<"$dom")" == 0 ]

browser --dump-dom "$url/status/hostile.test" >"$art/status-hostile.dom.html" || die "chromium --dump-dom failed"
hdom=$(cat "$art/status-hostile.dom.html")
check "drill-down lists a diagnosis" contains "$hdom" '<dl class="diagnosis"><dt>Symptom</dt>'
check "drill-down names name_mismatch" contains "$hdom" '<code>name_mismatch</code>'
check "hostile SAN shown as text" contains "$hdom" '&lt;img src=x onerror=alert(2)&gt;.hostile.test'
check "hostile CN shown as text" contains "$hdom" '&lt;script&gt;alert(1)&lt;/script&gt;'
check "ESC shown visibly" contains "$hdom" 'mail\x1B[31m.hostile.test'
check "hostile TLS-RPT rua shown as text" contains "$hdom" 'mailto:&lt;script&gt;alert(3)&lt;/script&gt;@hostile.test'
check "no element was injected in the drill-down" [ "$(grep -c '<script\|<img' <<<"$hdom")" == 0 ]
log "DOM checks passed ($passed)"

# --- 2. screenshots and their colours -----------------------------------------------------
browser --screenshot="$art/status.png" --window-size=1280,900 "$url/status" >/dev/null ||
  die "chromium --screenshot failed: $(tail -n 5 "$T/chromium.log")"
browser --screenshot="$art/status-hostile.png" --window-size=1280,900 "$url/status/hostile.test" >/dev/null ||
  die "chromium --screenshot failed"
args=()
for level in "${!colour[@]}"; do args+=("$level=${colour[$level]}"); done
python3 "$here/png_colours.py" "$art/status.png" "${args[@]}" >"$art/status.colours.txt"
log "screenshot colours: $(tr '\n' ' ' <"$art/status.colours.txt")"
# Each level's status cell is at least ~80x20 pixels of its colour.
for level in "${!colour[@]}"; do
  n=$(awk -v l="$level" '$1 == l { print $2 }' "$art/status.colours.txt")
  check "screenshot shows level-$level in #${colour[$level]} ($n pixels)" [ "${n:-0}" -ge 800 ]
done
python3 "$here/png_colours.py" "$art/status-hostile.png" "critical=${colour[critical]}" >"$art/status-hostile.colours.txt"
n=$(awk '$1 == "critical" { print $2 }' "$art/status-hostile.colours.txt")
check "drill-down screenshot shows critical red ($n pixels)" [ "${n:-0}" -ge 800 ]

# --- 3. Prometheus with http_sd_configs on /sd ---------------------------------------------
pr=$T/prometheus
mkdir -p "$pr/data"
prom_port=""
free_port prom_port
prom_url=http://127.0.0.1:$prom_port
# The scrape config of README "Service discovery", with test intervals.
cat >"$pr/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
scrape_configs:
  - job_name: mxtls
    metrics_path: /probe
    scrape_timeout: 2s
    http_sd_configs:
      - url: $url/sd
        refresh_interval: 5s
    relabel_configs:
      - source_labels: [__meta_mxtls_module]
        target_label: __param_module
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:$port
EOF
cp "$pr/prometheus.yml" "$art/prometheus.yml"
promtool check config "$pr/prometheus.yml" >"$pr/check.log" 2>&1 || die "promtool check config: $(cat "$pr/check.log")"
prometheus --config.file="$pr/prometheus.yml" --storage.tsdb.path="$pr/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=info >"$pr/log" 2>&1 &
prom_pid=$!
bg_pids+=("$prom_pid")
prom_ready() { kill -0 "$prom_pid" 2>/dev/null && curl -sf --max-time 2 "$prom_url/-/ready" -o /dev/null; }
wait_for 30 Prometheus prom_ready || die "Prometheus not ready: $(tail -n 20 "$pr/log")"

# query EXPR: the result vector as lines "label=value,... value", sorted.
query() {
  curl -sf --max-time 5 "$prom_url/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    m = r["metric"]
    print(",".join(f"{k}={m[k]}" for k in sorted(m)), r["value"][1])' | sort
}
domains=(alt.test good.test hostile.test info.test quiet.test warn.test)
all_up() {
  local up
  up=$(query 'up{job="mxtls"} == 1') || return 1
  for d in "${domains[@]}"; do [[ $up == *"instance=$d,"* ]] || return 1; done
}
wait_for 40 "every discovered target scraped with up == 1" all_up ||
  die "not every target is up: $(query 'up'); targets: $(curl -s "$prom_url/api/v1/targets" | head -c 3000)"
passed=$((passed + 1))
up=$(query 'up{job="mxtls"}')
log "up: $(tr '\n' ';' <<<"$up")"
check "exactly the configured targets were discovered" [ "$(grep -c . <<<"$up")" == "${#domains[@]}" ]
# The module reached the exporter: the scrape URL carries it, and the exporter counted a
# probe under module alt (only alt.test uses it).
targets=$(curl -sf --max-time 5 "$prom_url/api/v1/targets")
scrape_url=$(python3 -c '
import json, sys
for t in json.loads(sys.argv[1])["data"]["activeTargets"]:
    if t["labels"]["instance"] == "alt.test":
        print(t["scrapeUrl"], t["discoveredLabels"].get("__meta_mxtls_module"))' "$targets")
log "alt.test: $scrape_url"
check "alt.test is scraped with module=alt" contains "$scrape_url" "module=alt&target=alt.test alt"
metrics=$(curl -sf --max-time 5 "$url/metrics")
check "the exporter probed under module alt" grep -q '^mxtls_exporter_probes_total{module="alt",result="[a-z]*"} [1-9]' <<<"$metrics"
check "the module lands on no series" [ -z "$(query 'count by (instance) ({job="mxtls",module!=""})')" ]
check "probe_success scraped for every domain" [ "$(query 'probe_success{job="mxtls"}' | grep -c .)" == "${#domains[@]}" ]

# After Prometheus' scrapes, every target has a report: nothing grey any more.
browser --dump-dom "$url/status" >"$art/status-after-prometheus.dom.html" || die "chromium --dump-dom failed"
check "every target probed once Prometheus scraped" [ "$(grep -c 'data-level="not probed yet"' "$art/status-after-prometheus.dom.html")" == 0 ]
browser --screenshot="$art/status-after-prometheus.png" --window-size=1280,900 "$url/status" >/dev/null || true

log "PASS: $passed checks; artefacts in $art"
