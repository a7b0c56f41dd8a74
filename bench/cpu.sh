#!/usr/bin/env bash
# Benchmark 2 (issue 10): CPU per endpoint session on real Postfix, against Debian's
# prometheus-blackbox-exporter and against the floor of a minimal C client (floor_client.c).
#
# World: bench/world.sh. The 4 direct (undelayed) endpoints of cpu.bench.test (10.77.2.1-4, one
# Postfix, RSA 2048 leaf + intermediate). Four probers, each measured over its own window of
# SESSIONS endpoint sessions, the order rotating every round (ROUNDS rounds):
#   mxtls-lean     module "lean": tls.no_sni_check, tls.version_check, tls.key_type_check and
#                  mta_sts off; dane and reverse_dns on (defaults); one main session per endpoint
#                  (connect, greeting, EHLO, STARTTLS, handshake, chain check, EHLO, QUIT).
#                  One probe at a time (4 sessions in flight): SESSIONS/4 probes.
#   mxtls-default  module "default" (every default; only ca_file and ehlo_name set), caches warm
#                  (no-SNI, versions, key types cached by a warm-up probe; MTA-STS on, no policy
#                  published). One probe at a time: SESSIONS/4 probes.
#   blackbox       tcp prober, the same SMTP dialogue (EHLO, STARTTLS, handshake with verification
#                  against the private root, EHLO, QUIT), 4 probes in flight: SESSIONS probes.
#   floor          floor_client, 4 threads: SESSIONS sessions (connect, greeting, EHLO, STARTTLS,
#                  handshake + chain verification, QUIT).
# CPU: the prober process's utime+stime delta over its window (/proc/PID/stat), or the floor
# client's own getrusage. Sessions are also counted at the server (Postfix "TLS connection
# established" log lines), and CPU per session uses the server's count.
#
#   sudo bash bench/cpu.sh          SESSIONS=400 ROUNDS=3 OUT=bench/results/cpu.md
#   PERF=mxtls-lean (or any prober name, space-separated): a call-graph profile (perf record,
#   999 Hz) of that prober over its round-1 window, flat and caller views in
#   bench/results/cpu-perf-<prober>.txt, the data in bench/results/cpu-perf-<prober>.data.
#   PERF_CALL_GRAPH=fp (default) or dwarf (reads through Debian's libcrypto, which has no frame
#   pointers; larger files). Build with frame pointers to read the stacks
#   (CMAKE_CXX_FLAGS=-fno-omit-frame-pointer, BUILD_DIR=that build); the profiled round's CPU
#   includes perf's own overhead in the target, so read ratios from a run without PERF.
# Targets (issue 10): blackbox / mxtls-lean >= 2.5, blackbox / mxtls-default >= 2.2.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/world.sh"
if [[ -z ${MXB_IN_CLIENT:-} ]]; then
  require_bench_tools exporter floor blackbox
  [[ -z ${PERF:-} ]] || command -v perf >/dev/null || die "PERF is set but perf is not installed (apt-get install linux-perf)"
  world_main "$0" "$@"
fi
. "$MXB_WORLD/world.env"
SESSIONS=${SESSIONS:-400}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$repo/bench/results/cpu.md}
PERF=${PERF:-}
PERF_CALL_GRAPH=${PERF_CALL_GRAPH:-fp}
((SESSIONS % 4 == 0)) || die "SESSIONS must be a multiple of 4"
make_tmp mxb-cpu
maillog=$WORLD_POSTFIX_DIR/maillog

# ---- mxtls: both modules in one process
mkdir -p "$T/ex"
{
  world_exporter_config "$WORLD_DNS_DIRECT"
  cat <<EOF
  lean:
    smtp:
      ehlo_name: prober.bench.test
    tls:
      ca_file: $WORLD_ROOT_PEM
      no_sni_check: false
      version_check: false
      key_type_check: false
    mta_sts:
      enabled: false
targets:
  - domain: cpu.bench.test
EOF
} >"$T/ex/config.yml"
exporter_in_world "$T/ex" info
mx_pid=$ex_pid
mx_base=$ex_base
echo cpu.bench.test >"$T/mxtls_targets"

# ---- blackbox
bb_port=19115
cat >"$T/blackbox.yml" <<EOF
modules:
  smtp_starttls:
    prober: tcp
    timeout: 10s
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
        ca_file: $WORLD_ROOT_PEM
        server_name: cpu-mx1.bench.test
EOF
"$BLACKBOX_EXPORTER" --config.file="$T/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" \
  --log.level=warn >"$T/blackbox.log" 2>&1 &
bb_pid=$!
bg_pids+=("$bb_pid")
wait_for 10 blackbox curl -sf -o /dev/null "http://127.0.0.1:$bb_port/-/healthy" || die "blackbox did not start: $(cat "$T/blackbox.log")"
printf '10.77.2.%d:25\n' 1 2 3 4 >"$T/blackbox_targets"
floor_eps=()
for k in 1 2 3 4; do floor_eps+=("cpu-mx$k.bench.test@10.77.2.$k:25"); done

tls_count() {
  local n
  n=$(grep -c 'TLS connection established from' "$maillog" 2>/dev/null || true)
  echo "${n:-0}"
}
settle() { sleep 0.5; } # postlogd writes behind

load() { # URL TARGETS REQUESTS CONCURRENCY REQUIRE-REGEX...
  local url=$1 targets=$2 n=$3 c=$4
  shift 4
  local req=()
  for r; do req+=(--require "$r"); done
  python3 "$bench_dir/load.py" --url "$url" --targets "$targets" --requests "$n" --concurrency "$c" \
    --scrape-timeout 10 "${req[@]}" --failure-sample "$T/failure.txt" >"$T/load.json" || die "load.py failed"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["successes"] == r["requests"] else "failures: %s" % r["failures"])' "$T/load.json" ||
    die "some probes failed: $(head -c 2000 "$T/failure.txt" 2>/dev/null)"
}
mx_req=('^probe_success 1$' '^mxtls_endpoints 4$')
bb_req=('^probe_success 1$')

profiled() { # PROBER ROUND: is this window to be profiled?
  [[ $2 == 1 && " $PERF " == *" $1 "* ]]
}
perf_start() { # PID NAME
  perf record -F 999 --call-graph "$PERF_CALL_GRAPH" -p "$1" -o "$T/perf-$2.data" >"$T/perf-$2.log" 2>&1 &
  perf_pid=$!
  sleep 1 # perf attaches asynchronously
}
perf_stop() { # NAME
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  perf_write "$1"
}
perf_write() { # NAME
  local out=$repo/bench/results/cpu-perf-$1.txt
  mkdir -p "$(dirname "$out")"
  {
    echo "# perf profile of $1, round 1 ($SESSIONS sessions), $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "## self time by dso"
    perf report -i "$T/perf-$1.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | grep -v '^#' || true
    echo "## self time by dso, symbol"
    perf report -i "$T/perf-$1.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep '%' | grep -v '^#' | head -80 || true
    echo "## inclusive (children), top 80"
    perf report -i "$T/perf-$1.data" --children --sort sym --stdio -g none 2>/dev/null | grep '%' | grep -v '^#' | head -80 || true
  } >"$out"
  cp "$T/perf-$1.data" "${out%.txt}.data"
  log "profile of $1: $out"
}

# One measured window: prints "cpu_s server_sessions"
window() { # NAME [ROUND]
  local c0 c1 s0 s1 cpu round=${2:-0}
  settle
  s0=$(tls_count)
  case $1 in
    mxtls-lean | mxtls-default)
      local module=${1#mxtls-}
      profiled "$1" "$round" && perf_start "$mx_pid" "$1"
      c0=$(cpu_seconds "$mx_pid")
      load "$mx_base/probe?target={target}&module=$module" "$T/mxtls_targets" $((SESSIONS / 4)) 1 "${mx_req[@]}"
      c1=$(cpu_seconds "$mx_pid")
      profiled "$1" "$round" && perf_stop "$1" >&2
      cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
      ;;
    blackbox)
      profiled "$1" "$round" && perf_start "$bb_pid" "$1"
      c0=$(cpu_seconds "$bb_pid")
      load "http://127.0.0.1:$bb_port/probe?target={target}&module=smtp_starttls" "$T/blackbox_targets" "$SESSIONS" 4 "${bb_req[@]}"
      c1=$(cpu_seconds "$bb_pid")
      profiled "$1" "$round" && perf_stop "$1" >&2
      cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
      ;;
    floor)
      local floor_cmd=("$FLOOR_CLIENT" --ca="$WORLD_ROOT_PEM" --sessions="$SESSIONS" --threads=4 --ehlo=prober.bench.test "${floor_eps[@]}")
      if profiled "$1" "$round"; then
        floor_cmd=(perf record -F 999 --call-graph "$PERF_CALL_GRAPH" -o "$T/perf-$1.data" -- "${floor_cmd[@]}")
      fi
      "${floor_cmd[@]}" >"$T/floor.out" 2>"$T/floor.err" || die "floor client failed: $(cat "$T/floor.out" "$T/floor.err")"
      profiled "$1" "$round" && perf_write "$1" >&2
      cpu=$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' "$T/floor.out")
      ;;
  esac
  settle
  s1=$(tls_count)
  echo "$cpu $((s1 - s0))"
}

# Warm-up: every prober once (fills mxtls' slow-fact caches for the default module, starts
# blackbox's and Postfix's processes).
log "warm-up"
for p in mxtls-default mxtls-lean blackbox floor; do
  SESSIONS=16 window "$p" >/dev/null
done
mx_hwm0=$(status_kib "$mx_pid" VmHWM)

probers=(mxtls-lean mxtls-default blackbox floor)
: >"$T/rows"
for ((r = 1; r <= ROUNDS; r++)); do
  order=()
  for ((i = 0; i < 4; i++)); do order+=("${probers[(i + r - 1) % 4]}"); done
  for p in "${order[@]}"; do
    read -r cpu sessions < <(window "$p" "$r")
    ms=$(awk -v c="$cpu" -v s="$sessions" 'BEGIN { printf "%.3f", (s > 0 ? 1000 * c / s : 0) }')
    echo "$r $p $cpu $sessions $ms" >>"$T/rows"
    log "round $r $p: ${cpu} s CPU, $sessions sessions at the server (expected $SESSIONS), ${ms} ms/session"
  done
done
mx_hwm=$(status_kib "$mx_pid" VmHWM)
bb_hwm=$(status_kib "$bb_pid" VmHWM)
curl -s "$mx_base/metrics" >"$T/metrics.txt"

col() { awk -v p="$1" '$2 == p { print $5 }' "$T/rows" | median; }
ratio_med() { # A B: median over rounds of ms(A)/ms(B)
  awk -v a="$1" -v b="$2" '$2 == a { x[$1] = $5 } $2 == b { y[$1] = $5 } END { for (r in x) if (y[r] > 0) print x[r] / y[r] }' "$T/rows" | median
}
lean=$(col mxtls-lean); def=$(col mxtls-default); bb=$(col blackbox); fl=$(col floor)
r_bb_lean=$(ratio_med blackbox mxtls-lean); r_bb_def=$(ratio_med blackbox mxtls-default)
r_lean_fl=$(ratio_med mxtls-lean floor); r_def_fl=$(ratio_med mxtls-default floor)
r_bb_fl=$(ratio_med blackbox floor)
pass() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "PASS" : "FAIL") }'; }
fmt() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
{
  echo
  echo "## Benchmark 2: CPU per endpoint session, real Postfix, no delay ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Revision $(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown); Postfix $WORLD_POSTFIX_VERSION, $WORLD_OPENSSL_VERSION,"
  echo "$("$BLACKBOX_EXPORTER" --version 2>&1 | head -1); $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))."
  echo "$ROUNDS rounds x $SESSIONS endpoint sessions per prober, order rotating; sessions counted at the server."
  echo
  echo "| prober | median ms CPU / session | per round (ms) | CPU s per round | server sessions per round |"
  echo "| --- | --- | --- | --- | --- |"
  for p in "${probers[@]}"; do
    echo "| $p | $(fmt "$(col "$p")") | $(awk -v p="$p" '$2 == p { printf "%s ", $5 }' "$T/rows") | $(awk -v p="$p" '$2 == p { printf "%s ", $3 }' "$T/rows") | $(awk -v p="$p" '$2 == p { printf "%s ", $4 }' "$T/rows") |"
  done
  echo
  echo "- blackbox / mxtls-lean: **$(fmt "$r_bb_lean")x** (target >= 2.5): **$(pass "$r_bb_lean" 2.5)**"
  echo "- blackbox / mxtls-default: **$(fmt "$r_bb_def")x** (target >= 2.2): **$(pass "$r_bb_def" 2.2)**"
  echo "- mxtls-lean / floor: $(fmt "$r_lean_fl")x (issue: within about 1.35x); mxtls-default / floor: $(fmt "$r_def_fl")x; blackbox / floor: $(fmt "$r_bb_fl")x"
  echo "- peak RSS (VmHWM): mxtls ${mx_hwm} KiB (${mx_hwm0} KiB after warm-up), blackbox ${bb_hwm} KiB"
  echo "- mxtls endpoint cache: $(grep '^mxtls_exporter_endpoint_cache_requests_total' "$T/metrics.txt" | tr '\n' ' ')"
  echo "- reproduce: \`sudo bash bench/cpu.sh\` (SESSIONS=$SESSIONS ROUNDS=$ROUNDS)"
} | report "$OUT"
