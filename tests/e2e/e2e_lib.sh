# Helpers shared by the end-to-end drivers in tests/e2e/ (sourced, not run: run.sh and
# dane_e2e.sh). A driver sets E2E_NAME (the log prefix: "e2e", "dane-e2e") and `started`
# (date +%s.%N) before sourcing this file, and ends with
#   echo "$E2E_NAME: $passed passed, $failed failed"; ((failed == 0))
#
# Progress and preconditions
#   log MSG / die MSG                  progress and fatal failure lines on stderr
#   require_root WHY / require_postfix_user
#   require_commands HINT CMD...       die naming every missing CMD (HINT: how to install)
# Temp dir, daemons and cleanup
#   make_tmp PREFIX                    T = a fresh /tmp/PREFIX.XXXXXX; the EXIT trap stops every
#                                      daemon in bg_pids and every Postfix in pf_dirs, then
#                                      removes $T unless keep_tmp=1
#   wait_for SECS WHAT CMD...          poll CMD every 50 ms until it succeeds (1 on timeout)
#   free_port VAR                      a free TCP+UDP port below the ephemeral range, into VAR
# Servers
#   pki_init DIR / pki_ca ORG / leaf   private PKI: root -> intermediate -> leaves (openssl)
#   nsd_conf DIR PORT V6 / start_nsd DIR    the server: part of nsd.conf, then nsd itself
#   postfix_instance DIR HOST DOMAIN INET-PROTOCOLS BANNER LEVEL    main.cf of one instance
#   postfix_services / start_postfix_instance NAME DIR / wait_postfix_started
#   greeting ADDR / smtp_ready ADDR    the SMTP greeting on $smtp_port
#   start_exporter BIN DIR             the exporter with DIR/config.yml; sets ex_pid, ex_base
#   run_prometheus DIR PORT SECS [ARGS...]   DIR/prometheus.yml checked and run; sets prom_url
# Assertions on exposition text in $current (named $current_name in messages)
#   scrape NAME [URL]                  $current = a scrape of URL (default: a probe of NAME)
#   try_api / api NAME CMD...          $current = what "e2e_api.py CMD" prints
#   samples NAME 'k="v",...'           sample lines of NAME in $current whose labels include the
#                                      pairs; k="" matches a sample WITHOUT label k (or with k empty)
#   has / nsamples NAME 'matchers'     for polling: whether / how many samples match
#   expect NAME 'matchers' OP [VALUE]  assertion on $current (see the function)
#   expect_text NAME 'matchers' TEXT   one sample matches and its labels contain TEXT
#   expect_rules_healthy               every shipped rule loaded and healthy in Prometheus
# A failed assertion exits, unless E2E_KEEP_GOING=1: then it is counted in $failed and the run
# goes on (to see every failure at once); die always exits.
# Globals this file sets (nsd_pid, ex_port, prom_url, ...) are for the drivers to read:
# shellcheck shell=bash disable=SC2034

since() { awk -v s="${started:?set started before sourcing e2e_lib.sh}" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
log() { printf '%s: [%5ss] %s\n' "$E2E_NAME" "$(since)" "$*" >&2; }
die() { printf '%s: FAIL: %s\n' "$E2E_NAME" "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------------------
require_root() { [[ $(id -u) -eq 0 ]] || die "must run as root ($1)"; }
require_commands() { # require_commands HINT CMD...
  local hint=$1 c missing=()
  shift
  for c; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  ((${#missing[@]} == 0)) || die "missing commands: ${missing[*]} ($hint)"
}
require_postfix_user() {
  id postfix >/dev/null 2>&1 || die "user 'postfix' missing (is the postfix package installed?)"
  getent group postdrop >/dev/null 2>&1 || die "group 'postdrop' missing (is the postfix package installed?)"
}

# ---------------------------------------------------------------------------------------
# Temp dir and cleanup: every daemon is stopped, whatever happened
# ---------------------------------------------------------------------------------------
pf_dirs=()        # Postfix instances (their config_directory is DIR/etc)
pf_start_pids=()  # "PID:NAME:DIR" of each "postfix start" (see start_postfix_instance)
bg_pids=()        # every other daemon
keep_tmp=0
make_tmp() { # make_tmp PREFIX: T, and the traps that stop everything and remove it
  T=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$T" # Postfix daemons (user postfix) and nginx workers (nobody) traverse it
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
cleanup() {
  local rc=$? d pid i
  trap - EXIT INT TERM
  set +e
  [[ -n ${E2E_TRACE_CLEANUP:-} ]] && set -x
  for pid in "${bg_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  # A "postfix start" still running would leave a master behind: let it finish first
  # (master -w gives up on its own when the master cannot start).
  for pid in "${pf_start_pids[@]}"; do
    wait "${pid%%:*}" 2>/dev/null
  done
  # What "postfix stop" does, without its 1 s sleeps and for all instances at once: TERM
  # to each master (it stops its children), then KILL to the process group of any master
  # still alive after 5 s.
  local masters=()
  for d in "${pf_dirs[@]}"; do
    pid=$(tr -dc '0-9' <"$d/spool/pid/master.pid" 2>/dev/null)
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null && masters+=("$pid")
  done
  for pid in "${masters[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null # master is a group leader
  done
  for pid in "${bg_pids[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ $keep_tmp == 1 ]]; then
    log "kept $T"
  else
    rm -rf "$T"
  fi
  exit "$rc"
}

# Bounded polling: wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s%N) + secs * 1000000000))
  until "$@"; do
    (($(date +%s%N) < deadline)) || { log "timed out after ${secs}s waiting for $what"; return 1; }
    sleep 0.05
  done
}

# free_port VAR: a random port below the ephemeral range that no TCP or UDP socket uses.
read -r eph_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_low=32768
port_lo=20000
((eph_low > port_lo + 2000)) || port_lo=10000
((eph_low > port_lo + 2000)) || eph_low=60000 # odd range: fall back to 10000-59999
taken_ports=" "
free_port() {
  local p used
  used=" $(ss -Htuan 2>/dev/null | awk '{ n = split($5, a, ":"); printf "%s ", a[n] }') "
  for _ in $(seq 200); do
    p=$((port_lo + RANDOM % (eph_low - port_lo)))
    [[ $used == *" $p "* || $taken_ports == *" $p "* ]] && continue
    taken_ports+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free port found"
}

# ---------------------------------------------------------------------------------------
# PKI: root -> intermediate -> leaves (openssl req/ca), in $pki
# ---------------------------------------------------------------------------------------
pki_init() { # pki_init DIR: pki=DIR, an empty CA database and its openssl config
  pki=$1
  mkdir -p "$pki/newcerts"
  : >"$pki/index.txt"
  echo 1000 >"$pki/serial"
  cat >"$pki/ca.cnf" <<EOF
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = $pki
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ root_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ inter_ext ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ leaf_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = \$ENV::E2E_SAN
EOF
  export E2E_SAN=DNS:unused
}
ossl() { # openssl with its output kept for the failure message
  local out
  out=$(openssl "$@" 2>&1) || die "openssl $1 failed: $out"
}
newkey() { # newkey FILE rsa|ec
  if [[ $2 == rsa ]]; then
    ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
  else
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
  fi
}
ca_sign() { # ca_sign NAME ISSUER EXTENSIONS SUBJECT VALIDITY-ARGS...
  local name=$1 issuer=$2 ext=$3 subj=$4
  shift 4
  ossl req -new -config "$pki/ca.cnf" -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr"
  ossl ca -batch -notext -config "$pki/ca.cnf" -extensions "$ext" \
    -cert "$pki/$issuer.pem" -keyfile "$pki/$issuer.key" -in "$pki/$name.csr" -out "$pki/$name.pem" "$@"
}
pki_ca() { # pki_ca ORG: root (10 years) and intermediate (5 years), EC keys, "O=ORG/CN=ORG root"
  newkey "$pki/root.key" ec
  ossl req -x509 -new -config "$pki/ca.cnf" -extensions root_ext -key "$pki/root.key" \
    -subj "/O=$1/CN=$1 root" -days 3650 -out "$pki/root.pem"
  newkey "$pki/inter.key" ec
  ca_sign inter root inter_ext "/O=$1/CN=$1 intermediate" -days 1825
}
# leaf NAME KEYTYPE DNSNAME VALIDITY-ARGS...: NAME.key, NAME.pem, NAME.chain.pem (leaf,
# intermediate) and NAME.kc.pem (key, leaf, intermediate: a form smtpd_tls_chain_files takes)
leaf() {
  local name=$1 kt=$2 dns=$3
  shift 3
  newkey "$pki/$name.key" "$kt"
  E2E_SAN="DNS:$dns" ca_sign "$name" inter leaf_ext "/CN=$dns" "$@"
  cat "$pki/$name.pem" "$pki/inter.pem" >"$pki/$name.chain.pem"
  cat "$pki/$name.key" "$pki/$name.chain.pem" >"$pki/$name.kc.pem"
}

# ---------------------------------------------------------------------------------------
# nsd
# ---------------------------------------------------------------------------------------
# nsd_conf DIR PORT V6: the server: and remote-control: parts of an nsd.conf for zones in DIR,
# listening on 127.0.0.1 (and ::1 when V6 is 1) at PORT; the driver adds its zone: parts.
nsd_conf() {
  echo "server:"
  echo "  ip-address: 127.0.0.1@$2"
  if (($3)); then echo "  ip-address: ::1@$2"; else echo "  do-ip6: no"; fi
  cat <<EOF
  port: $2
  username: ""
  chroot: ""
  zonesdir: "$1"
  pidfile: "$1/nsd.pid"
  database: ""
  xfrdfile: "$1/xfrd.state"
  zonelistfile: "$1/zone.list"
  logfile: "$1/nsd.log"
  server-count: 1
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
EOF
}
start_nsd() { # start_nsd DIR: nsd with DIR/nsd.conf in the background; sets nsd_pid
  nsd-checkconf "$1/nsd.conf" >/dev/null 2>&1 || die "nsd.conf invalid: $(nsd-checkconf "$1/nsd.conf" 2>&1)"
  nsd -d -c "$1/nsd.conf" >"$1/stdout.log" 2>&1 &
  bg_pids+=($!)
  nsd_pid=$!
}

# ---------------------------------------------------------------------------------------
# Postfix instances
# ---------------------------------------------------------------------------------------
# postfix_instance DIR MYHOSTNAME MYDOMAIN INET-PROTOCOLS BANNER TLS-LEVEL: DIR/etc/main.cf of
# an instance that delivers nothing and logs to DIR/maillog; the driver appends its own
# settings to main.cf and writes master.cf (its smtpd listeners, then postfix_services).
postfix_instance() {
  local d=$1
  mkdir -p "$d/etc" "$d/spool" "$d/data"
  chown postfix "$d/data"
  cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $2
mydomain = $3
mydestination =
# The listeners are explicit addresses in master.cf: inet_interfaces must name addresses
# configured on an interface, and 127.0.x.y (other than 127.0.0.1) are not (they only route to lo).
inet_interfaces = loopback-only
inet_protocols = $4
smtpd_banner = \$myhostname ESMTP Postfix ($5)
maillog_file_prefixes = $d
maillog_file = $d/maillog
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_tls_security_level = $6
smtpd_tls_loglevel = 1
EOF
}
postfix_services() { # the non-smtpd services of master.cf that an instance needs
  cat <<'EOF'
proxymap  unix -       -       n       -       -       proxymap
rewrite   unix -       -       n       -       -       trivial-rewrite
cleanup   unix n       -       n       -       0       cleanup
anvil     unix -       -       n       -       1       anvil
tlsmgr    unix -       -       n       1000?   1       tlsmgr
postlog   unix-dgram n -       n       -       1       postlogd
EOF
}
# start_postfix_instance NAME DIR: "postfix start" in the background (a fresh instance takes
# 1-3 s: post-install create-missing runs postconf a dozen times); see wait_postfix_started.
start_postfix_instance() {
  pf_dirs+=("$2")
  # Postfix prints its diagnostics only to a terminal: give it one with script(1).
  script -qec "postfix -c $2/etc start" /dev/null >"$2/start.log" 2>&1 </dev/null &
  pf_start_pids+=("$!:$1:$2")
}
wait_postfix_started() {
  local e pid name d
  for e in "${pf_start_pids[@]}"; do
    IFS=: read -r pid name d <<<"$e"
    wait "$pid" || die "postfix $name did not start: $(cat "$d/start.log" "$d/maillog" 2>/dev/null)"
  done
  pf_start_pids=()
}

# greeting ADDR: the first line of the SMTP greeting on $smtp_port ("" if none).
greeting() {
  (
    exec 3<>"/dev/tcp/$1/${smtp_port:?set by the driver}" || exit 1
    IFS= read -r -t 2 line <&3 && printf '%s' "${line%$'\r'}"
    printf 'QUIT\r\n' >&3
  ) 2>/dev/null
}
smtp_ready() { [[ $(greeting "$1") == "220 "* ]]; }

# ---------------------------------------------------------------------------------------
# The exporter and Prometheus
# ---------------------------------------------------------------------------------------
# start_exporter BIN DIR: checks and runs BIN with DIR/config.yml on a port of its choosing;
# sets ex_pid, ex_port and ex_base (http://127.0.0.1:PORT) once it listens.
start_exporter() {
  local bin=$1 dir=$2
  "$bin" --config.file="$dir/config.yml" --config.check >"$dir/check.log" 2>&1 ||
    die "exporter rejects the config: $(cat "$dir/check.log")"
  "$bin" --config.file="$dir/config.yml" --web.listen-address=127.0.0.1:0 --log.level=debug \
    >"$dir/stdout.log" 2>"$dir/stderr.log" &
  bg_pids+=($!)
  ex_pid=$!
  ex_port=""
  ex_dir=$dir
  wait_for 10 exporter exporter_listening ||
    die "exporter never logged 'msg=listening address=127.0.0.1:PORT': $(cat "$dir/stderr.log")"
  ex_base=http://127.0.0.1:$ex_port
  log "exporter listening on $ex_base"
}
exporter_listening() {
  kill -0 "$ex_pid" 2>/dev/null || die "exporter exited: $(cat "$ex_dir/stderr.log")"
  ex_port=$(sed -n 's/.*msg=listening address=127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$ex_dir/stderr.log" | head -n1)
  [[ -n $ex_port ]]
}

# scrape NAME [URL]: $current = the body of URL (default: $ex_base/probe?target=NAME), kept in
# $ex_dir/NAME.txt; Prometheus' scrape timeout header is $scrape_timeout seconds (default 20).
scrape() {
  local url=${2:-$ex_base/probe?target=$1} code
  current_name=$1
  code=$(curl -s --max-time 40 -H "X-Prometheus-Scrape-Timeout-Seconds: ${scrape_timeout:-20}" \
    -o "$ex_dir/$1.txt" -w '%{http_code}' "$url") || die "curl $url failed (exit $?)"
  [[ $code == 200 ]] || die "GET $url returned HTTP $code: $(head -c 500 "$ex_dir/$1.txt")"
  current=$(cat "$ex_dir/$1.txt")
  bump
}

# run_prometheus DIR PORT SECS [ARGS...]: checks DIR/prometheus.yml with promtool (a passed
# check), runs Prometheus with it on 127.0.0.1:PORT (data in DIR/data, log DIR/log, ARGS
# added) and waits SECS for it to be ready; sets prom_url, prom_pid and prom_log.
run_prometheus() {
  local dir=$1 port=$2 secs=$3
  shift 3
  prom_url=http://127.0.0.1:$port
  prom_log=$dir/log
  mkdir -p "$dir/data"
  promtool check config "$dir/prometheus.yml" >"$dir/check.log" 2>&1 ||
    die "promtool check config: $(cat "$dir/check.log")"
  bump
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --log.level=info "$@" >"$prom_log" 2>&1 &
  bg_pids+=($!)
  prom_pid=$!
  wait_for "$secs" Prometheus prom_ready || die "Prometheus not ready on $prom_url: $(tail -n 20 "$prom_log")"
}
# scrape_configs ADDR INTERVAL TARGET...: the scrape_configs: section of README "Alerts" for
# the exporter at ADDR: job mxtls probes every TARGET through /probe (scrape interval and
# timeout INTERVAL), job mxtls_exporter scrapes its /metrics.
scrape_configs() {
  local addr=$1 interval=$2 targets
  shift 2
  targets=$(printf '"%s", ' "$@")
  cat <<EOF
scrape_configs:
  - job_name: mxtls
    metrics_path: /probe
    scrape_interval: $interval
    scrape_timeout: $interval
    static_configs:
      - targets: [${targets%, }]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: $addr
  - job_name: mxtls_exporter
    static_configs:
      - targets: ["$addr"]
EOF
}
prom_alive() { kill -0 "$prom_pid" 2>/dev/null || die "Prometheus exited: $(tail -n 20 "$prom_log")"; }
prom_ready() { prom_alive && curl -sf --max-time 2 "$prom_url/-/ready" -o /dev/null; }

# ---------------------------------------------------------------------------------------
# Assertions on exposition text in $current (named $current_name in messages)
# ---------------------------------------------------------------------------------------
passed=0
failed=0
current=""
current_name=""
bump() { passed=$((passed + 1)); } # a check done by hand passed

e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# try_api NAME CMD...: $current = what "e2e_api.py CMD" prints (exposition-format lines, see
# tests/e2e/e2e_api.py) so that samples/expect work on it; returns 1 when the call fails
# (its stderr in $T/e2e_api.err).
try_api() {
  local name=$1 out
  shift
  out=$(python3 "$e2e_dir/e2e_api.py" "$@" 2>"$T/e2e_api.err") || return 1
  current=$out
  current_name=$name
}
api() { try_api "$@" || die "e2e_api.py ${*:2}: $(cat "$T/e2e_api.err")"; }

samples() {
  printf '%s\n' "$current" | awk -v want_name="$1" -v want="${2:-}" '
    function pairs(s, out,    n, p) {
      n = 0
      while (match(s, /[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"/)) {
        p = substr(s, RSTART, RLENGTH); out[p] = 1; n++
        s = substr(s, RSTART + RLENGTH)
      }
      return n
    }
    BEGIN { nwant = 0; s = want
      while (match(s, /[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"/)) {
        w[++nwant] = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
      }
    }
    /^#/ || NF == 0 { next }
    {
      line = $0
      b = index(line, "{")
      if (b > 0) {
        name = substr(line, 1, b - 1)
        e = 0; for (i = length(line); i > b; i--) if (substr(line, i, 1) == "}") { e = i; break }
        labels = substr(line, b + 1, e - b - 1)
        rest = substr(line, e + 1)
      } else {
        sp = index(line, " "); name = substr(line, 1, sp - 1); labels = ""; rest = substr(line, sp)
      }
      if (name != want_name) next
      split("", have); pairs(labels, have)
      for (i = 1; i <= nwant; i++) {
        if (w[i] ~ /=""$/) { # k="": the sample must not carry label k with a value
          k = substr(w[i], 1, length(w[i]) - 2)
          for (p in have) if (index(p, k) == 1 && p != w[i]) next
          continue
        }
        if (!(w[i] in have)) next
      }
      sub(/^[ \t]+/, "", rest); split(rest, v, /[ \t]+/)
      print "{" labels "} " v[1]
    }'
}
has() { [[ -n $(samples "$1" "$2") ]]; } # for polling: a sample of NAME in $current matches
nsamples() { samples "$1" "$2" | grep -c . || true; }

# fail NAME SELECTOR WHY: report a failed expectation with the samples of NAME; exits unless
# E2E_KEEP_GOING=1, which counts it in $failed and goes on.
fail() {
  local name=$1 sel=$2 why=$3
  {
    printf '%s: FAIL [%s] %s{%s}: %s\n' "$E2E_NAME" "$current_name" "$name" "$sel" "$why"
    printf '%s:   samples of %s:\n' "$E2E_NAME" "$name"
    printf '%s\n' "$current" | grep -E "^$name(\{| )" | sed "s/^/$E2E_NAME:     /" | head -n 40 || true
  } >&2
  [[ ${E2E_KEEP_GOING:-0} == 1 ]] || exit 1
  failed=$((failed + 1))
}

# expect NAME 'matchers' OP [VALUE]; OP: == != < > <= >= ~ (within 0.01), present, absent,
# absent_or_0, count (VALUE = the number of matching samples)
# One sample must match (several only for present/absent/count); its value must satisfy OP.
expect() {
  local why
  why=$(expect_why "$@")
  if [[ -n $why ]]; then
    fail "$1" "$2" "$why"
  else
    bump
  fi
}
expect_why() { # what is wrong with `expect ARGS` ("" when it holds)
  local name=$1 sel=$2 op=$3 want=${4:-} got n val
  got=$(samples "$name" "$sel")
  n=$(printf '%s' "$got" | grep -c . || true)
  case $op in
  present) ((n > 0)) || echo "expected at least one sample, found none" ;;
  count) ((n == want)) || echo "expected $want matching samples, found $n" ;;
  absent) ((n == 0)) || echo "expected no sample, found $n" ;;
  absent_or_0)
    ((n == 0)) || { ((n == 1)) && [[ ${got##* } == 0 ]]; } ||
      echo "expected no sample or one sample 0, found: $got" ;;
  *)
    ((n == 1)) || { echo "expected exactly one sample, found $n"; return 0; }
    val=${got##* }
    awk -v a="$val" -v b="$want" -v op="$op" 'BEGIN {
      if (a !~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) exit 1
      a += 0; b += 0
      if (op == "==") exit !(a == b); if (op == "!=") exit !(a != b)
      if (op == "<") exit !(a < b);   if (op == ">") exit !(a > b)
      if (op == "<=") exit !(a <= b); if (op == ">=") exit !(a >= b)
      if (op == "~") exit !((a - b) < 0.01 && (b - a) < 0.01)
      exit 2 }' || echo "value $val, expected $op $want"
    ;;
  esac
}
# expect_text NAME 'matchers' TEXT: exactly one sample matches and its labels contain TEXT
# (as the exposition format writes it: " and \ escaped)
expect_text() {
  local got n
  got=$(samples "$1" "$2")
  n=$(printf '%s' "$got" | grep -c . || true)
  if ((n != 1)); then
    fail "$1" "$2" "expected exactly one sample, found $n"
  elif [[ $got != *"$3"* ]]; then
    fail "$1" "$2" "does not contain: $3"
  else
    bump
  fi
}

# expect_rules_healthy: Prometheus ($prom_url) has loaded every rule of the shipped
# alerts/mxtls.rules.yml ($repo) and none has an evaluation error (3 checks).
expect_rules_healthy() {
  local rules=${repo:?set by the driver}/alerts/mxtls.rules.yml
  api rules prom-rules "$prom_url"
  expect rule 'rule_type="alerting"' count "$(grep -cE '^[[:space:]]*- alert:' "$rules")"
  expect rule 'health="ok"' count "$(grep -cE '^[[:space:]]*- (alert|record):' "$rules")"
  expect rule 'health="err"' absent
}
# log_alerts: one log line counting the alerts in $current (from "api alerts prom-alerts")
# by name, instance and state
log_alerts() {
  log "prometheus alerts: $(samples alert '' | sed -n 's/.*alertname="\([^"]*\)".*alertstate="\([^"]*\)".*instance="\([^"]*\)".*/\1(\3,\2)/p' | sort | uniq -c | awk '{ printf "%s%s%s", sep, $2, ($1 > 1 ? " x" $1 : ""); sep = ", " }')"
}
