# The benchmark world: real Postfix and nsd in one network namespace, the probers in another,
# and a delaying relay between them (the kernel here has no netem). Sourced by the benchmark
# scripts (bench/latency.sh, ...), or run directly:
#   bash bench/world.sh up      build the world and keep it until Ctrl-C (prints how to use it)
#   bash bench/world.sh down    remove a world left over by a killed run
#
# Topology (names prefixed mxb- so they never clash with the e2e tests):
#   mxb-srv (server namespace)                       mxb-cli (client namespace)
#     veth mxb-s 10.99.0.1/30  <------------------->  veth mxb-c 10.99.0.2/30
#     local 10.77.0.0/16 dev lo (AnyIP)               local 10.88.0.0/16 dev lo (AnyIP)
#     Postfix on *:25 (every 10.77.x.y)               10.77.0.0/16 via 10.99.0.1: "direct"
#     nsd on 10.77.0.53:53                            delay_relay on *:25, *:53 and 10.88.0.53:53 UDP:
#                                                     10.88.x.y -> 10.77.x.y, RTT added: "delayed"
# Every prober runs in mxb-cli: it reaches 10.77.x.y without delay and 10.88.x.y with the
# relay's round trip (DNS too, through 10.88.0.53).
#
# Zone bench.test (nsd), one RSA 2048 leaf for *.bench.test, issued by a private intermediate
# under a private root (the chain Postfix sends: leaf + intermediate):
#   lat.bench.test   MX lat-mx1..4.bench.test -> 10.88.1.1-4   (delayed)
#   cpu.bench.test   MX cpu-mx1..4.bench.test -> 10.77.2.1-4   (direct)
#   tpN.bench.test   MX tpN-mx1..4.bench.test -> one distinct delayed address each, from
#                    10.88.16.1 on (N = 1..WORLD_TP_DOMAINS; see world_tp_address)
# No domain publishes MTA-STS or TLS-RPT records, and nsd does not sign: DANE is not in play.
#
# Parameters (environment, read when the world is built):
#   WORLD_TP_DOMAINS     throughput domains tpN (4 MX hosts each)             default 0
#   WORLD_PROCESS_LIMIT  Postfix default_process_limit (concurrent smtpd)     default 300
#   WORLD_ZONE_EXTRA     a file appended to the bench.test zone (more domains, e.g. hosting)
#   WORLD_KEEP=1         keep the world's directory after the run
#
# For the measuring script (running inside mxb-cli with MXB_IN_CLIENT=1), after sourcing:
#   $MXB_WORLD/world.env     WORLD_ROOT_PEM, WORLD_DNS_DIRECT, WORLD_DNS_DELAYED, versions
#   relay_start RTT_MS       the relay with that round trip (replaces a running one); its
#                            per-address accept counts: relay_counts FILE
#   relay_stop
# shellcheck shell=bash

MXB_SRV=mxb-srv
MXB_CLI=mxb-cli
world_child=""
# Thousands of sockets (relay, exporter, Postfix master): the hard limit for everything here.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
E2E_NAME=${E2E_NAME:-bench}
started=${started:-$(date +%s.%N)}
# shellcheck source=../tests/e2e/e2e_lib.sh
. "$repo/tests/e2e/e2e_lib.sh"

BUILD_DIR=${BUILD_DIR:-$repo/build}
MXTLS_EXPORTER=${MXTLS_EXPORTER:-$BUILD_DIR/mxtls_exporter}
DELAY_RELAY=${DELAY_RELAY:-$BUILD_DIR/bench/mxtls_delay_relay}
FLOOR_CLIENT=${FLOOR_CLIENT:-$BUILD_DIR/bench/mxtls_floor_client}
BLACKBOX_EXPORTER=${BLACKBOX_EXPORTER:-$(command -v prometheus-blackbox-exporter || echo /usr/bin/prometheus-blackbox-exporter)}

# The address of throughput domain N's MX host K (N from 1, K 1..4): distinct per host,
# 250 per /24 (no .0 or .255), from 10.88.16.1. PREFIX 10.88 (delayed) or 10.77 (direct).
world_tp_address() { # PREFIX N K
  local i=$((($2 - 1) * 4 + $3 - 1))
  echo "$1.$((16 + i / 250)).$((1 + i % 250))"
}

# ---------------------------------------------------------------------------------------
# Building and removing the world (from the root namespace)
# ---------------------------------------------------------------------------------------
world_remove() { # every mxb- namespace, its processes and the veth pair
  local ns pid
  for ns in $MXB_SRV $MXB_CLI; do
    ip netns list 2>/dev/null | grep -qw "^$ns" || continue
    # The processes of our own namespaces were started by a world run: end them by id.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 50); do [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break; sleep 0.1; done
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del mxb-c 2>/dev/null || true
  ip link del mxb-s 2>/dev/null || true
  return 0
}

world_exit() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  keep_tmp=${WORLD_KEEP:-0}
  if [[ -n ${world_child:-} ]]; then
    kill -TERM "$world_child" 2>/dev/null
    wait "$world_child" 2>/dev/null
  fi
  (cleanup) # e2e_lib: stops the daemons we started and the Postfix master, removes $T
  world_remove
  exit "$rc"
}

world_network() {
  ip netns add $MXB_SRV && ip netns add $MXB_CLI || die "ip netns add failed"
  ip link add mxb-s type veth peer name mxb-c || die "veth pair"
  ip link set mxb-s netns $MXB_SRV && ip link set mxb-c netns $MXB_CLI || die "veth move"
  ip -n $MXB_SRV link set lo up
  ip -n $MXB_CLI link set lo up
  ip -n $MXB_SRV addr add 10.99.0.1/30 dev mxb-s
  ip -n $MXB_CLI addr add 10.99.0.2/30 dev mxb-c
  ip -n $MXB_SRV link set mxb-s up
  ip -n $MXB_CLI link set mxb-c up
  ip -n $MXB_SRV route add local 10.77.0.0/16 dev lo
  ip -n $MXB_CLI route add local 10.88.0.0/16 dev lo
  ip -n $MXB_CLI route add 10.77.0.0/16 via 10.99.0.1
  local ns
  for ns in $MXB_SRV $MXB_CLI; do
    ip netns exec $ns sysctl -qw net.core.somaxconn=16384 net.ipv4.tcp_max_syn_backlog=16384 \
      net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
  done
}

world_zone() {
  local n k
  cat <<EOF
\$ORIGIN bench.test.
\$TTL 3600
@        SOA   ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300
@        NS    ns
ns       A     10.77.0.53
EOF
  for k in 1 2 3 4; do
    echo "lat      MX $((k * 10)) lat-mx$k"
    echo "lat-mx$k A 10.88.1.$k"
    echo "cpu      MX $((k * 10)) cpu-mx$k"
    echo "cpu-mx$k A 10.77.2.$k"
  done
  for ((n = 1; n <= ${WORLD_TP_DOMAINS:-0}; n++)); do
    for k in 1 2 3 4; do
      echo "tp$n MX $((k * 10)) tp$n-mx$k"
      echo "tp$n-mx$k A $(world_tp_address 10.88 "$n" "$k")"
    done
  done
  [[ -n ${WORLD_ZONE_EXTRA:-} ]] && cat "$WORLD_ZONE_EXTRA"
  return 0
}

world_build() {
  require_root "network namespaces"
  require_postfix_user
  require_commands "apt-get install postfix nsd openssl iproute2 util-linux curl python3" \
    ip nsd nsd-checkconf postfix openssl script curl python3
  world_remove
  make_tmp mxb-world
  trap world_exit EXIT
  world_network
  log "namespaces $MXB_SRV and $MXB_CLI up (veth mxb-s/mxb-c, AnyIP 10.77.0.0/16 and 10.88.0.0/16)"

  pki_init "$T/pki"
  pki_ca "mxtls bench"
  leaf mx rsa "*.bench.test" -days 365
  chmod 644 "$pki"/*.pem
  openssl verify -CAfile "$pki/root.pem" -untrusted "$pki/inter.pem" "$pki/mx.pem" >/dev/null ||
    die "PKI self-check failed"

  local ns=$T/nsd
  mkdir -p "$ns"
  world_zone >"$ns/bench.test.zone"
  {
    # No response rate limiting: one prober asks thousands of questions a second.
    nsd_conf "$ns" 53 0 | sed 's/127\.0\.0\.1@53/10.77.0.53@53/; s/^server:$/server:\n  rrl-ratelimit: 0/'
    printf 'zone:\n  name: bench.test\n  zonefile: bench.test.zone\n'
  } >"$ns/nsd.conf"
  nsd-checkconf "$ns/nsd.conf" || die "nsd.conf invalid"
  ip netns exec $MXB_SRV nsd -d -c "$ns/nsd.conf" >"$ns/stdout.log" 2>&1 &
  bg_pids+=($!)

  # Postfix: one instance on *:25, so every address of the AnyIP range answers.
  local d=$T/postfix
  postfix_instance "$d" mx.bench.test bench.test ipv4 "mxtls bench" may
  cat >>"$d/etc/main.cf" <<EOF
inet_interfaces = all
smtpd_tls_chain_files = $pki/mx.key, $pki/mx.chain.pem
# One prober address opens many sessions: no per-client throttling, no reverse lookups
# (the namespace has no resolver for 10.99.0.2), enough smtpd processes.
smtpd_peername_lookup = no
default_process_limit = ${WORLD_PROCESS_LIMIT:-300}
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_new_tls_session_rate_limit = 0
mynetworks = 127.0.0.0/8 10.99.0.0/30
EOF
  {
    echo "smtp inet n - n - - smtpd"  # no postscreen: smtpd directly
    postfix_services
  } >"$d/etc/master.cf"
  pf_dirs+=("$d")
  ip netns exec $MXB_SRV script -qec "postfix -c $d/etc start" /dev/null >"$d/start.log" 2>&1 </dev/null ||
    die "postfix did not start: $(cat "$d/start.log" "$d/maillog" 2>/dev/null)"

  # Ready: an SMTP greeting on a direct address, an answer from nsd.
  smtp_port=25
  wait_for 20 "postfix" ip netns exec $MXB_CLI bash -c "$(declare -f greeting smtp_ready); smtp_port=25; smtp_ready 10.77.2.1" ||
    die "no SMTP greeting on 10.77.2.1:25: $(tail -5 "$d/maillog" 2>/dev/null)"
  wait_for 20 "nsd" world_dns_ready 10.77.0.53 || die "nsd does not answer: $(cat "$ns"/*.log)"

  cat >"$T/world.env" <<EOF
WORLD_ROOT_PEM=$pki/root.pem
WORLD_DNS_DIRECT=10.77.0.53
WORLD_DNS_DELAYED=10.88.0.53
WORLD_POSTFIX_DIR=$d
WORLD_POSTFIX_VERSION="$(postconf -d -h mail_version 2>/dev/null)"
WORLD_NSD_VERSION="$(nsd -v 2>&1 | head -1)"
WORLD_OPENSSL_VERSION="$(openssl version)"
WORLD_TP_DOMAINS=${WORLD_TP_DOMAINS:-0}
WORLD_PROCESS_LIMIT=${WORLD_PROCESS_LIMIT:-300}
EOF
  chmod 755 "$T"
  log "world ready in $T: Postfix $(postconf -d -h mail_version) on *:25 in $MXB_SRV, nsd on 10.77.0.53, ${WORLD_TP_DOMAINS:-0} throughput domains"
}

# world_dns_ready ADDR: NOERROR + AA for "bench.test SOA" over UDP, asked from the client side.
world_dns_ready() {
  local hdr
  hdr=$(ip netns exec $MXB_CLI bash -c '
    exec 2>/dev/null
    exec 3<>"/dev/udp/'"$1"'/53" || exit 1
    printf "\x4d\x58\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05bench\x04test\x00\x00\x06\x00\x01" >&3
    timeout 0.5 head -c 4 <&3 | od -An -tx1 | tr -d " \n"') || return 1
  [[ $hdr == 4d58* ]] && (((0x${hdr:4:2} & 0x84) == 0x84 && (0x${hdr:6:2} & 0x0f) == 0))
}

# require_bench_tools exporter|floor|blackbox...: dies with how to get each missing one.
require_bench_tools() {
  local tool
  for tool in "$@"; do
    case $tool in
      exporter) [[ -x $MXTLS_EXPORTER ]] ||
        die "no exporter at $MXTLS_EXPORTER (build first, see bench/README.md)" ;;
      floor) [[ -x $FLOOR_CLIENT ]] ||
        die "no floor client at $FLOOR_CLIENT (build with -DMXTLS_BUILD_BENCH=ON)" ;;
      blackbox) [[ -x $BLACKBOX_EXPORTER ]] ||
        die "no blackbox exporter at $BLACKBOX_EXPORTER (apt-get install prometheus-blackbox-exporter)" ;;
      *) die "require_bench_tools: unknown tool $tool" ;;
    esac
  done
}

# world_main SCRIPT ARGS...: builds the world, runs SCRIPT inside mxb-cli (MXB_IN_CLIENT=1,
# MXB_WORLD=the world's directory), tears the world down, exits with SCRIPT's status.
world_main() {
  local script=$1 rc=0
  shift
  world_build
  # In the background, so that a signal to this shell runs the teardown at once (world_exit
  # stops the measuring script first; its own trap stops what it started).
  ip netns exec $MXB_CLI env MXB_IN_CLIENT=1 MXB_WORLD="$T" started="$started" bash "$script" "$@" &
  world_child=$!
  wait "$world_child" || rc=$?
  world_child=""
  exit "$rc"
}

# ---------------------------------------------------------------------------------------
# Inside the client namespace
# ---------------------------------------------------------------------------------------
relay_pid=""
relay_start() { # relay_start RTT_MS: the relay for 10.88.0.0/16 -> 10.77.0.0/16
  relay_stop
  [[ -x $DELAY_RELAY ]] || die "no relay at $DELAY_RELAY (build with -DMXTLS_BUILD_BENCH=ON, see bench/README.md)"
  relay_counts_file=$T/relay-counts.txt
  "$DELAY_RELAY" --map=10.88.0.0/16=10.77.0.0 --rtt-ms="$1" --tcp-port=25 --tcp-port=53 --udp=10.88.0.53:53 \
    --counts="$relay_counts_file" >"$T/relay.log" 2>&1 &
  relay_pid=$!
  bg_pids+=("$relay_pid")
  wait_for 10 relay grep -q ready "$T/relay.log" || die "relay did not start: $(cat "$T/relay.log")"
  wait_for 10 "DNS through the relay" world_dns_ready_here 10.88.0.53 || die "no DNS through the relay"
}
relay_stop() {
  [[ -n $relay_pid ]] || return 0
  kill -TERM "$relay_pid" 2>/dev/null
  wait "$relay_pid" 2>/dev/null
  relay_pid=""
}
relay_counts() { # relay_counts FILE: the relay's accepted connections per address, now
  rm -f "$relay_counts_file"
  kill -USR1 "$relay_pid"
  wait_for 5 "relay counts" test -f "$relay_counts_file" || die "relay wrote no counts"
  cp "$relay_counts_file" "$1"
}
world_dns_ready_here() {
  local hdr
  hdr=$(
    exec 2>/dev/null
    exec 3<>"/dev/udp/$1/53" || exit 1
    printf '\x4d\x58\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05bench\x04test\x00\x00\x06\x00\x01' >&3
    timeout 1 head -c 4 <&3 | od -An -tx1 | tr -d ' \n'
  ) || return 1
  [[ $hdr == 4d58* ]]
}

# UDP datagrams dropped for a full receive buffer (RcvbufErrors) in namespace NS, now.
udp_drops() { ip netns exec "$1" awk '$1 == "Udp:" && $2 ~ /^[0-9]/ { print $6 }' /proc/net/snmp; }

# Process figures for the reports: CPU seconds (utime + stime) and memory of a process.
CLK_TCK=$(getconf CLK_TCK)
cpu_seconds() { sed 's/.*) //' "/proc/$1/stat" | awk -v t="$CLK_TCK" '{ printf "%.3f", ($12 + $13) / t }'; }
# CPU seconds of every process in namespace NS (the servers: Postfix and its smtpd processes,
# nsd), with the CPU of children they have reaped (smtpd processes that exited), now.
netns_cpu_seconds() {
  local pid
  for pid in $(ip netns pids "$1"); do sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null; done |
    awk -v t="$CLK_TCK" '{ s += $12 + $13 + $14 + $15 } END { printf "%.3f", s / t }'
}
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Seconds since the epoch with microseconds (bash 5 EPOCHREALTIME).
now_s() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }

# exporter_in_world DIR LOGLEVEL [ARGS...]: start_exporter (e2e_lib) with DIR/config.yml, but at
# LOGLEVEL (the e2e helper logs at debug, which costs CPU per probe) and with ARGS added.
# EXPORTER_PRELOAD=LIB (optional): the exporter alone runs with LD_PRELOAD=LIB (allocator trials).
exporter_in_world() {
  local dir=$1 level=$2
  shift 2
  cat >"$dir/mxtls" <<EOF
#!/usr/bin/env bash
args=()
for a in "\$@"; do
  [[ \$a == --log.level=* ]] && a=--log.level=$level
  args+=("\$a")
done
exec ${EXPORTER_PRELOAD:+env LD_PRELOAD=$EXPORTER_PRELOAD} "$MXTLS_EXPORTER" "\${args[@]}" $*
EOF
  chmod +x "$dir/mxtls"
  start_exporter "$dir/mxtls" "$dir"
}

# world_exporter_config RESOLVER: the start of an exporter config for this world (stdout): the
# resolver, and the module "default" with the world's EHLO name and private root; the caller adds
# further modules and the targets.
world_exporter_config() {
  cat <<EOF
dns:
  resolvers: ["$1:53"]
modules:
  default:
    smtp:
      ehlo_name: prober.bench.test
    tls:
      ca_file: $WORLD_ROOT_PEM
EOF
}

# The sections of bench/results/<name>.md: printed and appended.
report() { # report FILE: stdin appended to FILE and printed
  mkdir -p "$(dirname "$1")"
  tee -a "$1"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case "${1:-}" in
    down) world_remove; echo "world removed" ;;
    up)
      world_build
      echo "World up (directory $T). Run probers with: ip netns exec $MXB_CLI CMD"
      echo "Root CA: $pki/root.pem; DNS 10.77.0.53 (direct); start a relay with $DELAY_RELAY"
      echo "  --map=10.88.0.0/16=10.77.0.0 --rtt-ms=RTT --tcp-port=25 --tcp-port=53 --udp=10.88.0.53:53 inside $MXB_CLI."
      echo "Ctrl-C tears it down."
      while sleep 3600; do :; done
      ;;
    *) echo "usage: bash bench/world.sh up|down" >&2; exit 2 ;;
  esac
fi
