#!/usr/bin/env bash
# Benchmark: mxtls_exporter against Debian's prometheus-blackbox-exporter on the same STARTTLS
# endpoints, plus a many-MX scale scenario for mxtls. Loopback only (127.0.0.0/8); see
# bench/README.md for what is compared and what is not.
#
# Every parameter is a flag or an environment variable (flag wins):
#   --mxtls=PATH             MXTLS_EXPORTER     build/mxtls_exporter
#   --fixture=PATH           BENCH_FIXTURE      build/bench/mxtls_bench_fixture
#   --blackbox=PATH          BLACKBOX_EXPORTER  prometheus-blackbox-exporter from PATH, else
#                                               /usr/bin/prometheus-blackbox-exporter
#   --exporters=LIST         EXPORTERS          "mxtls blackbox"
#   --servers=N              SERVERS            50     endpoints (one domain each for mxtls)
#   --probes=M               PROBES             2000   measured probes per exporter and round
#   --concurrency=C          CONCURRENCY        50     probes in flight
#   --warmup=W               WARMUP             200    unmeasured probes before each run
#   --greeting-delay-ms=D    GREETING_DELAY_MS  50     delay before the last greeting line
#   --rounds=R               ROUNDS             2      repeat the comparison (order alternates)
#   --scrape-timeout=S       SCRAPE_TIMEOUT     10     X-Prometheus-Scrape-Timeout-Seconds
#   --scale-mx=N             SCALE_MX           20     MX hosts of the scale domain (0: skip)
#   --scale-delay-ms=D       SCALE_DELAY_MS     300    greeting delay of every scale endpoint
#   --scale-probes=N         SCALE_PROBES       5      sequential probes of the scale domain
#   --out=FILE               OUT                bench/results/latest.md
#   --build                  BUILD=1            configure and build both binaries first, in
#                                               BUILD_DIR (build) with the tests and
#                                               -DMXTLS_BUILD_BENCH=ON (RelWithDebInfo)
#   --keep                   KEEP=1             keep the work directory (configs, logs, JSON)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

for arg in "$@"; do
  case "$arg" in
    --mxtls=*) MXTLS_EXPORTER=${arg#*=} ;;
    --fixture=*) BENCH_FIXTURE=${arg#*=} ;;
    --blackbox=*) BLACKBOX_EXPORTER=${arg#*=} ;;
    --exporters=*) EXPORTERS=${arg#*=} ;;
    --servers=*) SERVERS=${arg#*=} ;;
    --probes=*) PROBES=${arg#*=} ;;
    --concurrency=*) CONCURRENCY=${arg#*=} ;;
    --warmup=*) WARMUP=${arg#*=} ;;
    --greeting-delay-ms=*) GREETING_DELAY_MS=${arg#*=} ;;
    --rounds=*) ROUNDS=${arg#*=} ;;
    --scrape-timeout=*) SCRAPE_TIMEOUT=${arg#*=} ;;
    --scale-mx=*) SCALE_MX=${arg#*=} ;;
    --scale-delay-ms=*) SCALE_DELAY_MS=${arg#*=} ;;
    --scale-probes=*) SCALE_PROBES=${arg#*=} ;;
    --out=*) OUT=${arg#*=} ;;
    --build) BUILD=1 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

BUILD_DIR=${BUILD_DIR:-$REPO/build}
MXTLS_EXPORTER=${MXTLS_EXPORTER:-$BUILD_DIR/mxtls_exporter}
BENCH_FIXTURE=${BENCH_FIXTURE:-$BUILD_DIR/bench/mxtls_bench_fixture}
BLACKBOX_EXPORTER=${BLACKBOX_EXPORTER:-$(command -v prometheus-blackbox-exporter ||
                                         echo /usr/bin/prometheus-blackbox-exporter)}
EXPORTERS=${EXPORTERS:-mxtls blackbox}
SERVERS=${SERVERS:-50}
PROBES=${PROBES:-2000}
CONCURRENCY=${CONCURRENCY:-50}
WARMUP=${WARMUP:-200}
GREETING_DELAY_MS=${GREETING_DELAY_MS:-50}
ROUNDS=${ROUNDS:-2}
SCRAPE_TIMEOUT=${SCRAPE_TIMEOUT:-10}
SCALE_MX=${SCALE_MX:-20}
SCALE_DELAY_MS=${SCALE_DELAY_MS:-300}
SCALE_PROBES=${SCALE_PROBES:-5}
OUT=${OUT:-$REPO/bench/results/latest.md}
BUILD=${BUILD:-0}
KEEP=${KEEP:-0}

for v in SERVERS PROBES CONCURRENCY WARMUP GREETING_DELAY_MS ROUNDS SCRAPE_TIMEOUT SCALE_MX \
         SCALE_DELAY_MS SCALE_PROBES; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
((PROBES > 0 && CONCURRENCY > 0 && SERVERS > 0 && ROUNDS > 0 && SCRAPE_TIMEOUT > 0)) ||
  die "PROBES, CONCURRENCY, SERVERS, ROUNDS and SCRAPE_TIMEOUT must be > 0"
for e in $EXPORTERS; do
  [[ $e == mxtls || $e == blackbox ]] || die "unknown exporter '$e' (mxtls, blackbox)"
done

if [[ $BUILD == 1 ]]; then
  grep -q 'add_subdirectory(bench)' "$REPO/CMakeLists.txt" ||
    die "the top-level CMakeLists.txt does not add bench/ (see bench/README.md, Building)"
  log "building mxtls_exporter and mxtls_bench_fixture in $BUILD_DIR"
  # Every option the benchmark depends on, whatever configured BUILD_DIR before (scripts/run.sh
  # turns the tests off; the fixture is built from the test support library): an optimised,
  # unsanitised build with the tests and the bench tools.
  cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXTLS_SANITIZE=OFF -DMXTLS_TSAN=OFF \
    -DMXTLS_BUILD_TESTS=ON -DMXTLS_BUILD_BENCH=ON >&2
  cmake --build "$BUILD_DIR" --target mxtls_exporter mxtls_bench_fixture -j"$(nproc)" >&2
fi

# ---- prerequisites (nothing is installed here; see bench/README.md)
command -v python3 >/dev/null || die "python3 is required (load generator and report)"
command -v curl >/dev/null || die "curl is required"
[[ -x $BENCH_FIXTURE ]] || die "no fixture at $BENCH_FIXTURE (build with --build, or set BENCH_FIXTURE)"
if [[ " $EXPORTERS " == *" mxtls "* || $SCALE_MX -gt 0 ]]; then
  [[ -x $MXTLS_EXPORTER ]] || die "no mxtls_exporter at $MXTLS_EXPORTER (--build, or set MXTLS_EXPORTER)"
fi
if [[ " $EXPORTERS " == *" blackbox "* ]]; then
  [[ -x $BLACKBOX_EXPORTER ]] || die "no blackbox exporter at $BLACKBOX_EXPORTER: install it with
  apt-get install prometheus-blackbox-exporter   (or run with EXPORTERS=mxtls)"
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
WORK=$(mktemp -d /tmp/mxtls-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $KEEP == 1 ]]; then
    echo "run.sh: work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat; the command
# name in field 2 may contain spaces, so count from the closing parenthesis).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
threads_of() { awk '$1 == "Threads:" {print $2}' "/proc/$1/status"; }
CLK_TCK=$(getconf CLK_TCK)

# Stops one process we started: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

wait_http() {  # URL PID LOG
  local i
  for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; die "process exited before serving $1"; }
    sleep 0.1
  done
  cat "$3" >&2
  die "no answer from $1 after 10 s"
}

# Asks the fixture for its session counters; copies them to $1.
fixture_stats() {
  local i
  rm -f "$WORK/fixture/stats.txt"
  kill -USR1 "$FIXTURE_PID"
  for ((i = 0; i < 100; i++)); do
    [[ -f $WORK/fixture/stats.txt ]] && { cp "$WORK/fixture/stats.txt" "$1"; return 0; }
    sleep 0.1
  done
  die "fixture wrote no statistics"
}

# ---- machine information
{
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc=$(nproc)"
  echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "mem_total=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -sr)"
  # shellcheck disable=SC1091
  echo "os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  if [[ -x $MXTLS_EXPORTER ]]; then
    echo "mxtls_version=$("$MXTLS_EXPORTER" --version 2>&1 | head -1)"
  fi
  if [[ -x $BLACKBOX_EXPORTER ]]; then
    echo "blackbox_version=$("$BLACKBOX_EXPORTER" --version 2>&1 | head -1)"
    echo "blackbox_go=$("$BLACKBOX_EXPORTER" --version 2>&1 | awk '/go version/ {print $3}')"
  fi
  echo "openssl=$(openssl version 2>/dev/null || echo unknown)"
  echo "python=$(python3 --version 2>&1)"
  echo "repo_revision=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(
    [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]] && echo ' (tree modified)')"
  echo "servers=$SERVERS"
  echo "probes=$PROBES"
  echo "concurrency=$CONCURRENCY"
  echo "warmup=$WARMUP"
  echo "greeting_delay_ms=$GREETING_DELAY_MS"
  echo "rounds=$ROUNDS"
  echo "scrape_timeout=$SCRAPE_TIMEOUT"
  echo "scale_mx=$SCALE_MX"
  echo "scale_delay_ms=$SCALE_DELAY_MS"
  echo "scale_probes=$SCALE_PROBES"
} >"$WORK/machine.txt"

# ---- the fixture
log "starting the fixture: $SERVERS endpoints, greeting delay ${GREETING_DELAY_MS} ms, scale domain with $SCALE_MX MX"
"$BENCH_FIXTURE" --out="$WORK/fixture" --servers="$SERVERS" --greeting-delay-ms="$GREETING_DELAY_MS" \
  --scale-mx="$SCALE_MX" --scale-delay-ms="$SCALE_DELAY_MS" >"$WORK/fixture.log" 2>&1 &
FIXTURE_PID=$!
PIDS+=("$FIXTURE_PID")
for ((i = 0; i < 300; i++)); do
  [[ -f $WORK/fixture/ready ]] && break
  kill -0 "$FIXTURE_PID" 2>/dev/null || { cat "$WORK/fixture.log" >&2; die "the fixture exited"; }
  sleep 0.1
done
[[ -f $WORK/fixture/ready ]] || die "the fixture was not ready after 30 s"
# shellcheck disable=SC1091
. "$WORK/fixture/fixture.env"
ROOT_PEM=$WORK/fixture/root.pem

# ---- exporter configurations
# mxtls: the fixture's DNS as the only resolver, the fixture's port, the private root, one SMTP
# session per endpoint (no_sni_check off), no MTA-STS, only the bench domains.
mxtls_module() {  # NAME MAX_MX
  cat <<EOF
  $1:
    smtp:
      port: $SMTP_PORT
      ehlo_name: prober.bench.test
    timeout: ${SCRAPE_TIMEOUT}s
    tls:
      ca_file: $ROOT_PEM
      no_sni_check: false
    mta_sts:
      enabled: false
    max_mx_hosts: $2
EOF
}
{
  cat <<EOF
dns:
  resolvers: ["127.0.0.1:$DNS_PORT"]
  timeout: 2s
  attempts: 2
modules:
EOF
  mxtls_module default 10
  ((SCALE_MX > 0)) && mxtls_module scale "$SCALE_MX"
  echo "targets:"
  sed 's/^/  - domain: /' "$WORK/fixture/mxtls_targets.txt"
  ((SCALE_MX > 0)) && printf '  - domain: %s\n    module: scale\n' "$SCALE_DOMAIN"
  echo "allow_unlisted_targets: false"
} >"$WORK/mxtls.yml"
"$MXTLS_EXPORTER" --config.check --config.file="$WORK/mxtls.yml" >/dev/null 2>"$WORK/mxtls-check.log" ||
  { cat "$WORK/mxtls-check.log" >&2; die "mxtls rejected the generated config"; }

# blackbox: the same dialogue per endpoint. "^220 " waits for the last line of a multi-line
# greeting (expect skips non-matching lines); after STARTTLS the leftover EHLO lines are skipped
# by the next expect. The certificate is verified against the private root and the shared name
# every fixture leaf carries (server_name is per module, not per target).
cat >"$WORK/blackbox.yml" <<EOF
modules:
  smtp_starttls:
    prober: tcp
    timeout: ${SCRAPE_TIMEOUT}s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      query_response:
        - expect: "^220 "
        - send: "EHLO prober.bench.test\r"
        - expect: "^250[ -]STARTTLS"
        - send: "STARTTLS\r"
        - expect: "^220 "
        - starttls: true
        - send: "EHLO prober.bench.test\r"
        - expect: "^250 "
        - send: "QUIT\r"
        - expect: "^221 "
      tls_config:
        ca_file: $ROOT_PEM
        server_name: $SERVER_NAME
EOF

start_exporter() {  # NAME -> sets EXP_PID, EXP_URL (probe URL template), EXP_TARGETS
  local port
  port=$(free_port)
  case "$1" in
    mxtls)
      "$MXTLS_EXPORTER" --config.file="$WORK/mxtls.yml" --web.listen-address="127.0.0.1:$port" \
        --web.handler-threads=$((CONCURRENCY + 16 > 128 ? CONCURRENCY + 16 : 128)) \
        --log.level=warn >"$WORK/mxtls.log" 2>&1 &
      EXP_URL="http://127.0.0.1:$port/probe?target={target}"
      EXP_TARGETS=$WORK/fixture/mxtls_targets.txt
      ;;
    blackbox)
      "$BLACKBOX_EXPORTER" --config.file="$WORK/blackbox.yml" --web.listen-address="127.0.0.1:$port" \
        --log.level=warn >"$WORK/blackbox.log" 2>&1 &
      EXP_URL="http://127.0.0.1:$port/probe?target={target}&module=smtp_starttls"
      EXP_TARGETS=$WORK/fixture/blackbox_targets.txt
      ;;
  esac
  EXP_PID=$!
  PIDS+=("$EXP_PID")
  wait_http "http://127.0.0.1:$port/-/healthy" "$EXP_PID" "$WORK/$1.log"
}

# The checks every measured response must pass, as load.py arguments.
checks_for() {
  case "$1" in
    mxtls) printf '%s\n' --require '^probe_success 1$' --require '^mxtls_endpoints 1$' \
             --require '^mxtls_cert_verified\{[^}]*\} 1$' --forbid '^mxtls_cert_verified\{[^}]*\} 0$' ;;
    blackbox) printf '%s\n' --require '^probe_success 1$' --require '^probe_ssl_last_chain_info\{' ;;
  esac
}

# Probes three targets (first, middle, last) and checks the verdicts in detail.
sample_check() {  # NAME
  local n t url body ok=1 samples
  n=$(wc -l <"$EXP_TARGETS")
  mapfile -t samples < <(sed -n "1p; $(((n + 1) / 2))p; ${n}p" "$EXP_TARGETS" | sort -u)
  for t in "${samples[@]}"; do
    url=${EXP_URL/\{target\}/$t}
    body=$(curl -s --max-time $((SCRAPE_TIMEOUT + 5)) \
      -H "X-Prometheus-Scrape-Timeout-Seconds: $SCRAPE_TIMEOUT" "$url") || body=""
    local want=('^probe_success 1$')
    case "$1" in
      mxtls) want+=('^mxtls_cert_verified\{.*\} 1$' '^mxtls_cert_san_match\{.*\} 1$'
                    '^mxtls_tls_handshake_success\{.*\} 1$' '^mxtls_cert_chain_complete\{.*\} 1$') ;;
      blackbox) want+=('^probe_ssl_last_chain_info\{.*subject="CN=mx[0-9]+\.bench\.test"' '^probe_failed_due_to_regex 0$') ;;
    esac
    local w miss=()
    for w in "${want[@]}"; do
      grep -Eq -- "$w" <<<"$body" || miss+=("$w")
    done
    if ((${#miss[@]})); then
      ok=0
      echo "  sample $t: FAILED, missing: ${miss[*]}" >&2
      printf '%s\n' "$body" | grep -v '^#' | head -40 >&2
    else
      echo "  sample $t: ok" >&2
    fi
  done
  echo "sample_ok=$ok"
}

run_exporter() {  # NAME ROUND
  local name=$1 round=$2 tag="$1-$2" checks c0 c1 f0 f1
  log "round $round: $name"
  start_exporter "$name"
  sample_check "$name" >"$WORK/$tag.txt"
  mapfile -t checks < <(checks_for "$name")
  if ((WARMUP > 0)); then
    python3 "$REPO/bench/load.py" --url "$EXP_URL" --targets "$EXP_TARGETS" --requests "$WARMUP" \
      --concurrency "$CONCURRENCY" --scrape-timeout "$SCRAPE_TIMEOUT" >"$WORK/$tag-warmup.json"
  fi
  fixture_stats "$WORK/$tag-stats0.txt"
  c0=$(cpu_ticks "$EXP_PID")
  f0=$(cpu_ticks "$FIXTURE_PID")
  echo "loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/$tag.txt"
  timeout $((PROBES * (SCRAPE_TIMEOUT + 5) / CONCURRENCY + 60)) \
    python3 "$REPO/bench/load.py" --url "$EXP_URL" --targets "$EXP_TARGETS" --requests "$PROBES" \
      --concurrency "$CONCURRENCY" --scrape-timeout "$SCRAPE_TIMEOUT" "${checks[@]}" \
      --failure-sample "$WORK/$tag-failure.txt" >"$WORK/$tag-load.json" ||
    die "load generator failed for $name"
  c1=$(cpu_ticks "$EXP_PID")
  f1=$(cpu_ticks "$FIXTURE_PID")
  fixture_stats "$WORK/$tag-stats1.txt"
  {
    echo "exporter=$name"
    echo "round=$round"
    echo "cpu_s=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')"
    echo "fixture_cpu_s=$(awk -v a="$f0" -v b="$f1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')"
    echo "hwm_kib=$(status_kib "$EXP_PID" VmHWM)"
    echo "rss_kib=$(status_kib "$EXP_PID" VmRSS)"
    echo "threads=$(threads_of "$EXP_PID")"
    echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >>"$WORK/$tag.txt"
  stop_pid "$EXP_PID"
  if [[ -s $WORK/$name.log ]]; then
    echo "  $name log (last lines):" >&2
    tail -5 "$WORK/$name.log" | sed 's/^/    /' >&2
  fi
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  %d probes, %.1f/s, p50 %.1f ms, p99 %.1f ms, success %.4f" % (r["requests"], r["rate_per_s"], r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["success_ratio"]))' \
    "$WORK/$tag-load.json" >&2
}

for ((round = 1; round <= ROUNDS; round++)); do
  order=$EXPORTERS
  if ((round % 2 == 0)); then  # alternate the order so neither always runs on a cooler machine
    order=$(tr ' ' '\n' <<<"$EXPORTERS" | tac | tr '\n' ' ')
  fi
  for name in $order; do
    run_exporter "$name" "$round"
  done
done

# ---- scale: one domain, SCALE_MX MX hosts, every greeting delayed SCALE_DELAY_MS (mxtls only)
if ((SCALE_MX > 0 && SCALE_PROBES > 0)); then
  log "scale: $SCALE_DOMAIN with $SCALE_MX MX hosts, greeting delay ${SCALE_DELAY_MS} ms"
  start_exporter mxtls
  fixture_stats "$WORK/scale-stats0.txt"
  url=${EXP_URL/\{target\}/$SCALE_DOMAIN}
  for ((i = 1; i <= SCALE_PROBES; i++)); do
    wall=$(curl -s -o "$WORK/scale-$i.prom" -w '%{time_total}' --max-time $((SCRAPE_TIMEOUT + 5)) \
      -H "X-Prometheus-Scrape-Timeout-Seconds: $SCRAPE_TIMEOUT" "$url") || wall=nan
    echo "wall_s=$wall" >"$WORK/scale-$i.txt"
  done
  fixture_stats "$WORK/scale-stats1.txt"
  stop_pid "$EXP_PID"
fi

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/machine.txt"
mkdir -p "$(dirname "$OUT")"
python3 "$REPO/bench/report.py" "$WORK" | tee "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "report written to $OUT"
if grep -q '^sample_ok=0' "$WORK"/*-[0-9]*.txt 2>/dev/null || grep -q 'CHECK FAILED' "$OUT"; then
  die "some correctness checks failed (see the report)"
fi
