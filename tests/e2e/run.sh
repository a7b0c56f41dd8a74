#!/usr/bin/env bash
# End-to-end test of mxtls_exporter against real servers from Debian packages:
# nsd (authoritative DNS), several Postfix instances (the MX hosts), nginx (the MTA-STS
# policy host), a private PKI made with the openssl CLI, and the exporter binary itself.
#
#   bash tests/e2e/run.sh [path/to/mxtls_exporter]      (default: build/mxtls_exporter)
#
# Needs root (Postfix), and the packages postfix nginx-light nsd openssl curl iproute2
# python3 prometheus prometheus-alertmanager. Everything listens on loopback only
# (127.0.0.0/8 and ::1), on free high ports, in a temporary directory; every server is
# stopped and the directory removed on exit. E2E_KEEP_TMP=1 keeps the directory
# (servers are still stopped); E2E_IPV4_ONLY=1 leaves ::1 out (automatic when lo has no ::1).
# Exits non-zero at the first failed assertion (E2E_KEEP_GOING=1: every failed metric
# expectation is reported and the run fails at the end); the last line on success is
# "e2e: N passed, 0 failed". Helpers shared with dane_e2e.sh are in tests/e2e/e2e_lib.sh.
#
# Topology (zone e2e.test, served by nsd):
#   e2e.test      MX 10 mx1 (127.0.0.11 + ::1: good full chain, RSA 2048)
#                 MX 20 mx2 (127.0.0.12: expired leaf)
#                 MX 30 mx3 (127.0.0.13: Postfix without STARTTLS, not in the MTA-STS policy)
#                 _mta-sts TXT id=e2e1, mta-sts A 127.0.0.20 (nginx), _smtp._tls TXT
#   bad.e2e.test  MX 10 mx4 (127.0.0.14: valid chain for mail.e2e.test = name mismatch)
#                 MX 20 mx5 (127.0.0.15: leaf without its intermediate)
#                 (mx4 and mx5 are one Postfix instance with per-address -o overrides)
#
# After the exporter checks, a real Prometheus scrapes the exporter with the shipped rules
# (alerts/mxtls.rules.yml) and sends to a real Alertmanager running the shipped routes and
# inhibit_rules (alerts/alertmanager.yml, receivers replaced by webhooks to
# tests/e2e/webhook_capture.py); the alerts, notifications, inhibitions and every dashboard
# query (dashboards/) are checked through their HTTP APIs (tests/e2e/e2e_api.py) and amtool.
set -euo pipefail

E2E_NAME=e2e
started=$(date +%s.%N)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/e2e_lib.sh
source "$here/e2e_lib.sh"

# ---------------------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------------------
bin=${1:-build/mxtls_exporter}
if [[ ! -x $bin && $bin != /* && -x $repo/$bin ]]; then bin=$repo/$bin; fi
[[ -x $bin ]] || die "exporter binary not found or not executable: $bin (pass its path as \$1)"
bin=$(readlink -f "$bin")

require_root "Postfix instances need it"
require_commands "apt-get install postfix nginx-light nsd openssl curl iproute2; or bash scripts/install-deps.sh --test" \
  postfix postconf nginx nsd openssl curl ss script awk
require_postfix_user
# Debian names the Alertmanager binary prometheus-alertmanager, upstream alertmanager.
am_bin=$(command -v prometheus-alertmanager || command -v alertmanager || echo prometheus-alertmanager)
require_commands "apt-get install python3 prometheus prometheus-alertmanager; or bash scripts/install-deps.sh --test" \
  python3 prometheus promtool amtool "$am_bin"

have_v6=0
if [[ -r /proc/sys/net/ipv6/conf/lo/disable_ipv6 && $(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6) == 0 ]] &&
  ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
  have_v6=1
fi
[[ ${E2E_IPV4_ONLY:-0} == 1 ]] && have_v6=0

# ---------------------------------------------------------------------------------------
# Temp dir and cleanup
# ---------------------------------------------------------------------------------------
keep_tmp=${E2E_KEEP_TMP:-0}
make_tmp mxtls-e2e

smtp_port="" dns_port="" https_port=""
free_port smtp_port
free_port dns_port
free_port https_port

# ---------------------------------------------------------------------------------------
# PKI: root -> intermediate -> leaves (openssl req/ca)
# ---------------------------------------------------------------------------------------
pki_init "$T/pki"
pki_ca "mxtls e2e"
leaf mx1 rsa mx1.e2e.test -days 90
leaf mx2 ec mx2.e2e.test -startdate 20200101000000Z -enddate 20200401000000Z
leaf mail ec mail.e2e.test -days 90
leaf mx5 ec mx5.e2e.test -days 90
leaf mta-sts ec mta-sts.e2e.test -days 90
chmod 644 "$pki"/*.pem
openssl verify -CAfile "$pki/root.pem" -untrusted "$pki/inter.pem" "$pki/mx1.pem" >/dev/null 2>&1 ||
  die "PKI self-check: mx1 leaf does not verify"
log "PKI ready (root, intermediate, 5 leaves; mx2 expired 2020-04-01)"

# ---------------------------------------------------------------------------------------
# DNS: nsd, authoritative for e2e.test on 127.0.0.1 (and ::1)
# ---------------------------------------------------------------------------------------
ns=$T/nsd
mkdir -p "$ns"
aaaa_mx1=""
((have_v6)) && aaaa_mx1="mx1          AAAA ::1"
cat >"$ns/e2e.test.zone" <<EOF
\$ORIGIN e2e.test.
\$TTL 300
@            SOA   ns.e2e.test. hostmaster.e2e.test. 1 3600 600 86400 300
@            NS    ns
ns           A     127.0.0.1
@            MX 10 mx1
@            MX 20 mx2.e2e.test.
@            MX 30 mx3
mx1          A     127.0.0.11
$aaaa_mx1
mx2          A     127.0.0.12
mx3          A     127.0.0.13
mx4          A     127.0.0.14
mx5          A     127.0.0.15
mta-sts      A     127.0.0.20
_mta-sts     TXT   "v=STSv1; id=e2e1"
_smtp._tls   TXT   "v=TLSRPTv1; rua=mailto:tlsrpt@e2e.test"
bad          MX 10 mx4
bad          MX 20 mx5
EOF
{
  nsd_conf "$ns" "$dns_port" "$have_v6"
  cat <<EOF
zone:
  name: e2e.test
  zonefile: e2e.test.zone
EOF
} >"$ns/nsd.conf"
start_nsd "$ns"

# NOERROR + AA for "e2e.test SOA" over UDP: the zone is loaded and served.
dns_ready() {
  kill -0 "$nsd_pid" 2>/dev/null || die "nsd exited: $(cat "$ns/nsd.log" "$ns/stdout.log" 2>/dev/null)"
  local hdr
  hdr=$(
    exec 2>/dev/null
    exec 3<>"/dev/udp/127.0.0.1/$dns_port" || exit 1
    printf '\x4d\x58\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03e2e\x04test\x00\x00\x06\x00\x01' >&3
    timeout 0.5 head -c 4 <&3 | od -An -tx1 | tr -d ' \n'
  ) || return 1
  [[ $hdr == 4d58* ]] && (((0x${hdr:4:2} & 0x84) == 0x84 && (0x${hdr:6:2} & 0x0f) == 0))
}
wait_for 10 nsd dns_ready || die "nsd did not answer for e2e.test on 127.0.0.1:$dns_port: $(cat "$ns/nsd.log" 2>/dev/null)"
log "nsd serving e2e.test on 127.0.0.1:$dns_port$( ((have_v6)) && echo " and [::1]:$dns_port")"

# ---------------------------------------------------------------------------------------
# Postfix instances: start_postfix NAME MYHOSTNAME TLS-LEVEL CHAIN-FILES LISTENER...
#   LISTENER = "ADDR" or "ADDR|-o x=y -o ..." (per-address overrides in master.cf)
# ---------------------------------------------------------------------------------------
start_postfix() {
  local name=$1 host=$2 level=$3 chain=$4
  shift 4
  local d=$T/postfix-$name l addr opts
  postfix_instance "$d" "$host" e2e.test "$( ((have_v6)) && echo all || echo ipv4)" "mxtls e2e $name" "$level"
  [[ -n $chain ]] && echo "smtpd_tls_chain_files = $chain" >>"$d/etc/main.cf"
  {
    for l in "$@"; do
      addr=${l%%|*}
      opts=""
      [[ $l == *"|"* ]] && opts=${l#*|}
      echo "$addr:$smtp_port inet n - n - - smtpd $opts"
    done
    postfix_services
  } >"$d/etc/master.cf"
  # The instances start in parallel; see wait_postfix_started.
  start_postfix_instance "$name" "$d"
}

mx1_listeners=(127.0.0.11)
((have_v6)) && mx1_listeners+=("[::1]")
start_postfix mx1 mx1.e2e.test may "$pki/mx1.key, $pki/mx1.chain.pem" "${mx1_listeners[@]}"
start_postfix mx2 mx2.e2e.test may "$pki/mx2.key, $pki/mx2.chain.pem" 127.0.0.12
start_postfix mx3 mx3.e2e.test none "" 127.0.0.13
start_postfix bad mx4.e2e.test may "$pki/mail.key, $pki/mail.chain.pem" \
  127.0.0.14 \
  "127.0.0.15|-o myhostname=mx5.e2e.test -o smtpd_tls_chain_files=$pki/mx5.key,$pki/mx5.pem"
wait_postfix_started
for a in 127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14 127.0.0.15 $( ((have_v6)) && echo ::1); do
  wait_for 15 "smtp $a" smtp_ready "$a" || die "no SMTP greeting from $a:$smtp_port"
done
mx1_greeting=$(greeting 127.0.0.11)
log "postfix: 4 instances on port $smtp_port (mx1 says: $mx1_greeting)"

# ---------------------------------------------------------------------------------------
# nginx: https://mta-sts.e2e.test:<port>/.well-known/mta-sts.txt on 127.0.0.20
# ---------------------------------------------------------------------------------------
ng=$T/nginx
mkdir -p "$ng/www/.well-known" "$ng/tmp"
printf 'version: STSv1\nmode: enforce\nmx: mx1.e2e.test\nmx: mx2.e2e.test\nmax_age: 86400\n' \
  >"$ng/www/.well-known/mta-sts.txt"
chmod -R a+rX "$ng/www"
cat >"$ng/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log info;
events { worker_connections 64; }
http {
  access_log $ng/access.log;
  client_body_temp_path $ng/tmp/body;
  proxy_temp_path $ng/tmp/proxy;
  fastcgi_temp_path $ng/tmp/fastcgi;
  uwsgi_temp_path $ng/tmp/uwsgi;
  scgi_temp_path $ng/tmp/scgi;
  types { }
  default_type text/plain;
  server {
    listen 127.0.0.20:$https_port ssl;
    server_name mta-sts.e2e.test;
    # nginx 1.22 enables only TLSv1-TLSv1.2 unless told (TLSv1.3 became a default in 1.23.4);
    # Debian's stock nginx.conf names TLSv1.3, and so does this: the policy fetch must cope
    # with TLS 1.3 session tickets arriving after the handshake.
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $pki/mta-sts.chain.pem;
    ssl_certificate_key $pki/mta-sts.key;
    root $ng/www;
    location = /.well-known/mta-sts.txt { }
    location / { return 404; }
  }
}
EOF
nginx -t -q -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" 2>"$ng/t.log" || die "nginx config invalid: $(cat "$ng/t.log")"
nginx -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" >"$ng/stdout.log" 2>&1 &
bg_pids+=($!)
nginx_pid=$!
policy_url=https://mta-sts.e2e.test:$https_port/.well-known/mta-sts.txt
policy_ready() {
  kill -0 "$nginx_pid" 2>/dev/null || die "nginx exited: $(cat "$ng/error.log" "$ng/stdout.log" 2>/dev/null)"
  curl -sf --max-time 2 --cacert "$pki/root.pem" --resolve "mta-sts.e2e.test:$https_port:127.0.0.20" \
    "$policy_url" -o "$ng/fetched.txt" 2>/dev/null
}
wait_for 10 nginx policy_ready || die "nginx does not serve $policy_url on 127.0.0.20: $(cat "$ng/error.log")"
cmp -s "$ng/fetched.txt" "$ng/www/.well-known/mta-sts.txt" || die "nginx served a different policy"
log "nginx serving $policy_url (127.0.0.20)"

# ---------------------------------------------------------------------------------------
# The exporter
# ---------------------------------------------------------------------------------------
ex=$T/exporter
mkdir -p "$ex"
cp "$pki/root.pem" "$ex/private-root.pem"
{
  echo "dns:"
  if ((have_v6)); then
    echo "  resolvers: [\"127.0.0.1:$dns_port\", \"[::1]:$dns_port\"]"
  else
    echo "  resolvers: [\"127.0.0.1:$dns_port\"]"
  fi
  cat <<EOF
  timeout: 2s
  attempts: 2
modules:
  default:
    smtp:
      port: $smtp_port
      ehlo_name: prober.e2e.test
    timeout: 30s
    ip_families: $( ((have_v6)) && echo "[ipv4, ipv6]" || echo "[ipv4]")
    tls:
      ca_file: private-root.pem
    mta_sts:
      port: $https_port
targets:
  - domain: e2e.test
  - domain: bad.e2e.test
EOF
} >"$ex/config.yml"
start_exporter "$bin" "$ex"
base=$ex_base

# The endpoints of mx1 (labels of one endpoint, for expect)
mx1_eps=('mx="mx1.e2e.test",address="127.0.0.11",family="ipv4"')
((have_v6)) && mx1_eps+=('mx="mx1.e2e.test",address="::1",family="ipv6"')

promtool_check() {
  local out bad
  out=$(promtool check metrics <"$ex/$1.txt" 2>&1) || true
  bad=$(printf '%s\n' "$out" | grep -v '^$' | grep -v '_days_to_expiry' || true)
  [[ -z $bad ]] || die "promtool check metrics on $1 reports: $bad"
  passed=$((passed + 1))
}

# ---------------------------------------------------------------------------------------
# Probe e2e.test
# ---------------------------------------------------------------------------------------
t0=$(date +%s%N)
scrape e2e "$base/probe?target=e2e.test"
probe_ms=$((($(date +%s%N) - t0) / 1000000))
log "probe e2e.test took ${probe_ms} ms"

expect probe_success '' == 1
expect mxtls_probe_failure_info '' absent
expect mxtls_mx_hosts '' == 3
expect mxtls_endpoints '' == $((3 + have_v6))
expect mxtls_mx_info 'mx="mx1.e2e.test",preference="10"' == 1
expect mxtls_mx_info 'mx="mx2.e2e.test",preference="20"' == 1
expect mxtls_mx_info 'mx="mx3.e2e.test",preference="30"' == 1
expect mxtls_null_mx '' == 0
expect mxtls_implicit_mx '' == 0
expect mxtls_mx_addresses 'mx="mx1.e2e.test",family="ipv4"' == 1
((have_v6)) && expect mxtls_mx_addresses 'mx="mx1.e2e.test",family="ipv6"' == 1

# mx1: good full chain, on IPv4 and IPv6
for ep in "${mx1_eps[@]}"; do
  expect mxtls_endpoint_up "$ep" == 1
  expect mxtls_starttls_offered "$ep" == 1
  expect mxtls_tls_handshake_success "$ep" == 1
  expect mxtls_tls_version_info "$ep,version=\"TLSv1.3\"" == 1
  expect mxtls_cert_verified "$ep" == 1
  expect mxtls_cert_verify_info "$ep,reason=\"ok\"" == 1
  expect mxtls_cert_san_match "$ep" == 1
  expect mxtls_cert_name_match_info "$ep,result=\"match\"" == 1
  expect mxtls_cert_chain_complete "$ep" == 1
  expect mxtls_cert_chain_certificates "$ep" == 2
  expect mxtls_cert_chain_root_included "$ep" == 0
  expect mxtls_cert_chain_order_ok "$ep" == 1
  expect mxtls_cert_days_to_expiry "$ep" '>' 80
  expect mxtls_cert_days_to_expiry "$ep" '<' 91
  expect mxtls_cert_key_size "$ep" == 2048
  expect mxtls_cert_weak_key "$ep" == 0
  expect mxtls_cert_sha1_signature "$ep" == 0
  expect mxtls_cert_info "$ep,key_type=\"RSA\"" present
  expect mxtls_endpoint_failure_info "$ep" absent
  expect mxtls_nosni_tls_handshake_success "$ep" == 1
  expect mxtls_cert_sni_default_match "$ep" == 1
  expect mxtls_sender_delivers "$ep,sender=\"opportunistic\"" == 1
  expect mxtls_sender_delivers "$ep,sender=\"mta_sts\"" == 1
  expect mxtls_sender_delivers "$ep,sender=\"no_sni_strict\"" == 1
  expect mxtls_mta_sts_endpoint_compliant "$ep" == 1
  expect mxtls_chain_earliest_not_after_timestamp_seconds "$ep" present
done
expect mxtls_mx_cert_consistent 'mx="mx1.e2e.test"' == 1

# mx2: expired leaf
mx2='mx="mx2.e2e.test",address="127.0.0.12",family="ipv4"'
expect mxtls_endpoint_up "$mx2" == 1
expect mxtls_starttls_offered "$mx2" == 1
expect mxtls_tls_handshake_success "$mx2" == 1
expect mxtls_cert_verified "$mx2" == 0
expect mxtls_cert_verify_info "$mx2,reason=\"expired\"" == 1
expect mxtls_cert_san_match "$mx2" == 1
expect mxtls_cert_chain_complete "$mx2" == 1
expect mxtls_cert_days_to_expiry "$mx2" '<' 0
expect mxtls_cert_not_after_timestamp_seconds "$mx2" == 1585699200 # 2020-04-01T00:00:00Z
expect mxtls_chain_earliest_not_after_timestamp_seconds "$mx2" absent
expect mxtls_mta_sts_endpoint_compliant "$mx2" == 0
expect mxtls_sender_delivers "$mx2,sender=\"mta_sts\"" == 0
expect mxtls_sender_verdict_info "$mx2,sender=\"mta_sts\",reason=\"expired\"" == 1
expect mxtls_domain_cert_days_to_expiry_min '' '<' 0

# mx3: Postfix without STARTTLS
mx3='mx="mx3.e2e.test",address="127.0.0.13",family="ipv4"'
expect mxtls_endpoint_up "$mx3" == 1
expect mxtls_starttls_offered "$mx3" == 0
expect mxtls_endpoint_failure_info "$mx3,stage=\"starttls\",reason=\"no_starttls\"" == 1
expect mxtls_tls_handshake_success "$mx3" absent
expect mxtls_nosni_tls_handshake_success "$mx3" == 0
expect mxtls_cert_verified "$mx3" absent
expect mxtls_cert_info "$mx3" absent
expect mxtls_cert_days_to_expiry "$mx3" absent
expect mxtls_sender_delivers "$mx3,sender=\"opportunistic\"" == 1
expect mxtls_sender_verdict_info "$mx3,sender=\"opportunistic\",reason=\"plaintext\"" == 1
expect mxtls_sender_delivers "$mx3,sender=\"mta_sts\"" == 0
expect mxtls_mta_sts_endpoint_compliant "$mx3" == 0

# MTA-STS and TLS-RPT
expect mxtls_mta_sts_txt_present '' == 1
expect mxtls_mta_sts_txt_valid '' == 1
expect mxtls_mta_sts_policy_valid '' == 1
expect mxtls_mta_sts_policy_info 'mode="enforce",id="e2e1"' == 1
expect mxtls_mta_sts_policy_mode 'mode="enforce"' == 1
expect mxtls_mta_sts_policy_max_age_seconds '' == 86400
expect mxtls_mta_sts_policy_failure_info '' absent
expect mxtls_mta_sts_id_not_bumped '' == 0
expect mxtls_mta_sts_mx_covered 'mx="mx1.e2e.test"' == 1
expect mxtls_mta_sts_mx_covered 'mx="mx2.e2e.test"' == 1
expect mxtls_mta_sts_mx_covered 'mx="mx3.e2e.test"' == 0
expect mxtls_mta_sts_mx_coverage_ratio '' '~' 0.667
expect mxtls_mta_sts_host_cert_verified '' == 1
expect mxtls_mta_sts_host_cert_san_match '' == 1
expect mxtls_mta_sts_host_cert_days_to_expiry '' '>' 80
expect mxtls_tlsrpt_record_present '' == 1
expect mxtls_tlsrpt_record_valid '' == 1
expect mxtls_domain_sender_delivers 'sender="opportunistic"' == 1
expect mxtls_domain_sender_delivers 'sender="mta_sts"' == 0
expect mxtls_phase_duration_seconds 'phase="mta_sts_fetch"' present
promtool_check e2e

# ---------------------------------------------------------------------------------------
# Probe bad.e2e.test: name mismatch (mx4) and missing intermediate (mx5)
# ---------------------------------------------------------------------------------------
scrape bad "$base/probe?target=bad.e2e.test"
mx4='mx="mx4.e2e.test",address="127.0.0.14",family="ipv4"'
mx5='mx="mx5.e2e.test",address="127.0.0.15",family="ipv4"'
expect probe_success '' == 1
expect mxtls_mx_hosts '' == 2
expect mxtls_endpoints '' == 2
expect mxtls_tls_handshake_success "$mx4" == 1
expect mxtls_cert_verified "$mx4" == 1
expect mxtls_cert_san_match "$mx4" == 0
expect mxtls_cert_name_match_info "$mx4,result=\"mismatch\"" == 1
expect mxtls_cert_info "$mx4,subject=\"CN=mail.e2e.test\"" present
expect mxtls_sender_delivers "$mx4,sender=\"opportunistic\"" == 1
expect mxtls_sender_delivers "$mx4,sender=\"no_sni_strict\"" == 0
expect mxtls_sender_verdict_info "$mx4,sender=\"no_sni_strict\",reason=\"name_mismatch\"" == 1
expect mxtls_tls_handshake_success "$mx5" == 1
expect mxtls_cert_verified "$mx5" == 0
expect mxtls_cert_verify_info "$mx5,reason=\"incomplete_chain\"" == 1
expect mxtls_cert_chain_complete "$mx5" == 0
expect mxtls_cert_chain_certificates "$mx5" == 1
expect mxtls_cert_san_match "$mx5" == 1
expect mxtls_domain_mx_names_covered '' == 0
expect mxtls_mta_sts_txt_present '' == 0
expect mxtls_mta_sts_policy_valid '' == 0
expect mxtls_mta_sts_policy_mode 'mode="none"' == 1
expect mxtls_mta_sts_mx_coverage_ratio '' == 0
expect mxtls_tlsrpt_record_present '' == 0
promtool_check bad

# ---------------------------------------------------------------------------------------
# Debug view, HTTP errors, the exporter's own metrics
# ---------------------------------------------------------------------------------------
scrape debug "$base/probe?target=e2e.test&debug=true"
grep -qF "greeting: ${mx1_greeting#220 }" "$ex/debug.txt" ||
  die "debug view does not contain the Postfix greeting '$mx1_greeting'"
grep -qF "greeting: mx3.e2e.test ESMTP Postfix (mxtls e2e mx3)" "$ex/debug.txt" ||
  die "debug view does not contain mx3's greeting"
grep -q '^probe_success 1' "$ex/debug.txt" || die "debug view does not contain probe_success 1"
# The policy was fetched by the first probe above; within mta_sts.refetch_interval (5m) this one
# reuses that fetch (its host certificate judged again) instead of fetching it again.
grep -qF "MTA-STS: reusing the policy fetched" "$ex/debug.txt" ||
  die "debug view shows no reuse of the policy fetched from nginx by the first probe"
passed=$((passed + 4))

code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$base/probe?target=other.test")
[[ $code == 400 ]] || die "probe of an unlisted target returned HTTP $code, expected 400"
passed=$((passed + 1))

scrape self "$base/metrics"
expect mxtls_exporter_probes_total 'module="default",result="success"' == 3
expect mxtls_exporter_probes_total 'module="default",result="failure"' absent_or_0
expect mxtls_exporter_probes_in_flight '' == 0
expect mxtls_exporter_config_last_reload_successful '' == 1

# The servers saw what a sending MTA does.
grep -q 'Anonymous TLS connection established from .*\[127\.0\.0\.1\]: TLSv1\.3' "$T/postfix-mx1/maillog" ||
  die "mx1's maillog shows no TLSv1.3 session: $(tail -n 20 "$T/postfix-mx1/maillog")"
grep -q '"GET /.well-known/mta-sts.txt HTTP/1.1" 200' "$ng/access.log" ||
  die "nginx access log shows no policy fetch: $(cat "$ng/access.log")"
passed=$((passed + 2))

# ---------------------------------------------------------------------------------------
# The shipped alert rules, Alertmanager configuration and dashboard, run by a real Prometheus
# and Alertmanager against this exporter
# ---------------------------------------------------------------------------------------
current=$(cat "$ex/e2e.txt")
fp_mx2=$(samples mxtls_cert_info "$mx2" | sed -n 's/.*fingerprint_sha256="\([0-9a-f]*\)".*/\1/p')
[[ $fp_mx2 =~ ^[0-9a-f]{64}$ ]] || die "no fingerprint_sha256 for mx2 in the e2e.test scrape"
now=$(date +%s)
mx2_expiry=1585699200 # 2020-04-01T00:00:00Z
mx2_days=$(awk -v n="$now" -v e="$mx2_expiry" 'BEGIN { printf "%.4f", (e - n) / 86400 }')

# --- the webhook capture server (stands in for every receiver) -------------------------
wh=$T/webhook
mkdir -p "$wh/in"
python3 "$here/webhook_capture.py" "$wh/in" 2>"$wh/log" &
bg_pids+=($!)
wh_pid=$!
webhook_listening() {
  kill -0 "$wh_pid" 2>/dev/null || die "webhook capture server exited: $(cat "$wh/log")"
  [[ -s $wh/in/port ]]
}
wait_for 10 "webhook capture server" webhook_listening || die "webhook capture server wrote no port file: $(cat "$wh/log")"
wh_url=http://127.0.0.1:$(cat "$wh/in/port")
curl -sf --max-time 2 "$wh_url/" -o /dev/null || die "webhook capture server does not answer on $wh_url"

# --- Alertmanager: the shipped config with only its receivers: section replaced --------
# The routes (including the shipped group_wait 30s: not shortened, the wait overlaps the
# other checks), inhibit_rules and global settings stay byte for byte.
am=$T/alertmanager
mkdir -p "$am/data"
python3 - "$repo/alerts/alertmanager.yml" "$wh_url" "$am/receivers" >"$am/alertmanager.yml" 2>"$am/derive.err" <<'PY' ||
import re, sys
src, url, names_file = sys.argv[1:4]
lines = open(src).read().split("\n")
top = [i for i, l in enumerate(lines) if re.match(r"receivers:\s*(#.*)?$", l)]
if len(top) != 1:
    sys.exit(f"{src}: expected one top-level 'receivers:' line, found {len(top)}")
start = top[0]
end = next((i for i in range(start + 1, len(lines)) if re.match(r"[^\s#]", lines[i])), len(lines))
items = [m for m in (re.match(r"(\s*)-\s+name:\s*[\"']?([^\"'\s#]+)", l) for l in lines[start + 1:end]) if m]
names = [m.group(2) for m in items if len(m.group(1)) == len(items[0].group(1))] if items else []
if not names:
    sys.exit(f"{src}: no '- name:' items under 'receivers:'")
new = ["receivers:", "  # tests/e2e/run.sh: every shipped receiver, as a webhook to the capture server"]
for n in names:
    new += [f"  - name: {n}", "    webhook_configs:", f'      - url: "{url}/{n}"',
            "        send_resolved: false"]
print("\n".join(lines[:start] + new + lines[end:]).rstrip("\n"))
open(names_file, "w").write(" ".join(names) + "\n")
PY
  die "cannot derive the Alertmanager test config: $(cat "$am/derive.err")"
read -r -a am_receivers <"$am/receivers"
for r in pager oncall mailbox; do
  [[ " ${am_receivers[*]} " == *" $r "* ]] || die "alerts/alertmanager.yml has no receiver '$r' (has: ${am_receivers[*]})"
done
amtool check-config "$am/alertmanager.yml" >"$am/check.log" 2>&1 ||
  die "amtool check-config rejects the derived config: $(cat "$am/check.log")"
bump

am_port=""
free_port am_port
"$am_bin" --config.file="$am/alertmanager.yml" --storage.path="$am/data" \
  --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= --log.level=debug \
  >"$am/log" 2>&1 &
bg_pids+=($!)
am_pid=$!
am_url=http://127.0.0.1:$am_port
am_ready() {
  kill -0 "$am_pid" 2>/dev/null || die "Alertmanager exited: $(tail -n 20 "$am/log")"
  curl -sf --max-time 2 "$am_url/-/ready" -o /dev/null
}
wait_for 20 Alertmanager am_ready || die "Alertmanager not ready on $am_url: $(tail -n 20 "$am/log")"
log "alertmanager on $am_url (receivers ${am_receivers[*]} -> webhooks on $wh_url)"

# Synthetic expiry alerts, posted now so that their group_wait runs while Prometheus starts:
# the three tiers of one provider certificate (fp_a) as the rules raise them for two domains
# sharing it, and a warning-only (fp_c) and an info-only (fp_d) certificate, which nothing
# inhibits. Labels as the MxTlsCertificateExpiring rules set them.
fp_a=$(printf 'mxtls e2e synthetic a' | sha256sum | cut -c1-64)
fp_c=$(printf 'mxtls e2e synthetic c' | sha256sum | cut -c1-64)
fp_d=$(printf 'mxtls e2e synthetic d' | sha256sum | cut -c1-64)
shared_instances="shared-a.e2e.test,shared-b.e2e.test"
posts=()
for inst in shared-a.e2e.test shared-b.e2e.test; do
  l="alertname=MxTlsCertificateExpiring,job=mxtls,instance=$inst,mx=mx.provider.e2e.test,fingerprint_sha256=$fp_a"
  posts+=("$l,severity=critical,tier=7d" "$l,severity=warning,tier=14d" "$l,severity=info,tier=30d")
done
posts+=("alertname=MxTlsCertificateExpiring,job=mxtls,instance=c.e2e.test,mx=mx.c.e2e.test,fingerprint_sha256=$fp_c,severity=warning,tier=14d")
posts+=("alertname=MxTlsCertificateExpiring,job=mxtls,instance=d.e2e.test,mx=mx.d.e2e.test,fingerprint_sha256=$fp_d,severity=info,tier=30d")
api post am-post "$am_url" "${posts[@]}"
bump

# --- Prometheus: the shipped rules, the two jobs of README "Alerts" ---------------------
pr=$T/prometheus
mkdir -p "$pr"
prom_port=""
free_port prom_port
# The jobs as in README "Alerts", with test intervals (a probe of these domains takes well
# under a second; the exporter probes under the 5 s timeout minus --timeout-offset).
{
  cat <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - "$repo/alerts/mxtls.rules.yml"
alerting:
  alertmanagers:
    - api_version: v2
      static_configs:
        - targets: ["127.0.0.1:$am_port"]
EOF
  scrape_configs "127.0.0.1:$ex_port" 5s e2e.test bad.e2e.test
} >"$pr/prometheus.yml"
run_prometheus "$pr" "$prom_port" 30 --web.enable-lifecycle
log "prometheus on $prom_url (rules alerts/mxtls.rules.yml, alerting to $am_url)"

scraped() {
  prom_alive
  try_api up prom-query "$prom_url" 'up == 1' &&
    has up 'job="mxtls",instance="e2e.test"' && has up 'job="mxtls",instance="bad.e2e.test"' &&
    has up 'job="mxtls_exporter"' &&
    try_api null_mx prom-query "$prom_url" 'mxtls_null_mx' &&
    has mxtls_null_mx 'job="mxtls",instance="e2e.test"' && has mxtls_null_mx 'job="mxtls",instance="bad.e2e.test"'
}
wait_for 30 "both jobs scraped" scraped ||
  die "Prometheus did not scrape both jobs: $(curl -s --max-time 5 "$prom_url/api/v1/targets" | head -c 3000)"
log "prometheus scraped both jobs"
api up prom-query "$prom_url" 'up'
expect up 'job="mxtls",instance="e2e.test"' == 1
expect up 'job="mxtls",instance="bad.e2e.test"' == 1
expect up 'job="mxtls_exporter",instance="127.0.0.1:'"$ex_port"'"' == 1
expect up '' count 3
api probe prom-query "$prom_url" '{job="mxtls",__name__=~"probe_success|mxtls_cert_verified|mxtls_mta_sts_policy_mode"}'
expect probe_success 'instance="e2e.test"' == 1
expect probe_success 'instance="bad.e2e.test"' == 1
expect mxtls_cert_verified "instance=\"e2e.test\",$mx2" == 0
expect mxtls_mta_sts_policy_mode 'instance="e2e.test",mode="enforce"' == 1
expect mxtls_mta_sts_policy_mode 'instance="bad.e2e.test",mode="none"' == 1

# --- the rules -------------------------------------------------------------------------
# Every rule evaluated once both targets' series exist: poll until the alerts of all rule
# groups are there (and MxTlsExporterDown, pending before the first scrape, has gone).
e2e_mx2='job="mxtls",instance="e2e.test",mx="mx2.e2e.test"'
rules_evaluated() {
  prom_alive
  try_api rules prom-rules "$prom_url" && ! has rule 'health="unknown"' &&
    try_api alerts prom-alerts "$prom_url" &&
    has alert "alertname=\"MxTlsCertificateExpired\",$e2e_mx2,alertstate=\"firing\"" &&
    has alert "alertname=\"MxTlsCertificateExpiring\",$e2e_mx2,severity=\"critical\"" &&
    has alert 'alertname="MxTlsCertificateNotVerified",instance="e2e.test"' &&
    has alert 'alertname="MxTlsCertificateNotVerified",instance="bad.e2e.test"' &&
    has alert 'alertname="MxTlsStartTlsNotOffered",instance="e2e.test"' &&
    has alert 'alertname="MxTlsMtaStsMxNotCovered",instance="e2e.test"' &&
    has alert 'alertname="MxTlsNoSniCertificateMismatch",instance="bad.e2e.test"' &&
    ! has alert 'alertname="MxTlsExporterDown"'
}
wait_for 30 "rule evaluation with the scraped series" rules_evaluated || true # expects below say what is missing
expect_rules_healthy
expect rule 'health="unknown"' absent

api ALERTS prom-query "$prom_url" 'ALERTS{alertname="MxTlsCertificateExpired",alertstate="firing",instance="e2e.test",mx="mx2.e2e.test"}'
expect ALERTS "fingerprint_sha256=\"$fp_mx2\",severity=\"critical\",job=\"mxtls\"" == 1

api alerts prom-alerts "$prom_url"
# Expiry: the expired certificate of mx2 fires at once (for: 0m, value = seconds left) and
# is pending in all three MxTlsCertificateExpiring tiers (value = days left); nothing else
# expires (mx1 and the policy host have 90 days).
exp="alertname=\"MxTlsCertificateExpired\",$e2e_mx2,fingerprint_sha256=\"$fp_mx2\",severity=\"critical\",alertstate=\"firing\""
expect alert "$exp" '<' $((mx2_expiry - now + 120))
expect alert "$exp" '>' $((mx2_expiry - now - 120))
expect alert 'alertname="MxTlsCertificateExpired"' count 1
for t in info:30d warning:14d critical:7d; do
  expect alert "alertname=\"MxTlsCertificateExpiring\",$e2e_mx2,fingerprint_sha256=\"$fp_mx2\",severity=\"${t%:*}\",tier=\"${t#*:}\",alertstate=\"pending\"" '~' "$mx2_days"
done
expect alert 'alertname="MxTlsCertificateExpiring"' count 3
expect alert 'alertname="MxTlsMtaStsHostCertificateExpiring"' absent
# Validity: the severity follows the domain's MTA-STS mode (e2e.test enforce, bad.e2e.test none)
expect alert 'alertname="MxTlsCertificateNotVerified",instance="e2e.test"' count 1
expect alert "alertname=\"MxTlsCertificateNotVerified\",$e2e_mx2,reason=\"expired\",severity=\"critical\",mta_sts_mode=\"enforce\",alertstate=\"pending\"" == 1
expect alert 'alertname="MxTlsCertificateNotVerified",instance="bad.e2e.test"' count 1
expect alert 'alertname="MxTlsCertificateNotVerified",instance="bad.e2e.test",mx="mx5.e2e.test",reason="incomplete_chain",severity="info",mta_sts_mode="none",alertstate="pending"' == 1
expect alert 'alertname="MxTlsChainIncomplete"' count 1
expect alert 'alertname="MxTlsChainIncomplete",job="mxtls",instance="bad.e2e.test",mx="mx5.e2e.test",severity="info",mta_sts_mode="none",alertstate="pending"' == 0
expect alert 'alertname="MxTlsCertificateNameMismatch"' count 1
expect alert 'alertname="MxTlsCertificateNameMismatch",job="mxtls",instance="bad.e2e.test",mx="mx4.e2e.test",severity="info",mta_sts_mode="none",alertstate="pending"' == 0
# Endpoints and policy: mx3 offers no STARTTLS and is not in the enforce policy
expect alert 'alertname="MxTlsStartTlsNotOffered"' count 1
expect alert 'alertname="MxTlsStartTlsNotOffered",job="mxtls",instance="e2e.test",mx="mx3.e2e.test",severity="warning",alertstate="pending"' == 0
expect alert 'alertname="MxTlsMtaStsMxNotCovered"' count 1
expect alert 'alertname="MxTlsMtaStsMxNotCovered",job="mxtls",instance="e2e.test",mx="mx3.e2e.test",severity="critical",mta_sts_mode="enforce",alertstate="pending"' == 0
# Without SNI, mx4 (one Postfix with mx5) shows its default certificate for mail.e2e.test
expect alert 'alertname="MxTlsNoSniCertificateMismatch"' count 1
expect alert 'alertname="MxTlsNoSniCertificateMismatch",job="mxtls",instance="bad.e2e.test",mx="mx4.e2e.test",severity="info",alertstate="pending"' == 0
# The descriptions name the affected addresses through template queries: real data here
d='annotation="description"'
expect_text alert_annotation "alertname=\"MxTlsCertificateExpired\",$e2e_mx2,$d" "presents the expired certificate $fp_mx2; senders that check expiry (MTA-STS, DANE-TA; DANE-EE does not) refuse to deliver. Addresses presenting it: 127.0.0.12\""
crit_days=$(samples alert "alertname=\"MxTlsCertificateExpiring\",$e2e_mx2,severity=\"critical\"" | awk '{ print $NF }')
expect_text alert_annotation "alertname=\"MxTlsCertificateExpiring\",$e2e_mx2,severity=\"critical\",$d" "The certificate $fp_mx2 of MX mx2.e2e.test of domain e2e.test expires in $(printf '%.1f' "$crit_days") days. Addresses presenting it: 127.0.0.12\""
expect_text alert_annotation "alertname=\"MxTlsCertificateNotVerified\",instance=\"e2e.test\",$d" "does not verify (expired) on: 127.0.0.12\""
expect_text alert_annotation "alertname=\"MxTlsCertificateNotVerified\",instance=\"bad.e2e.test\",$d" "does not verify (incomplete_chain) on: 127.0.0.15\""
expect_text alert_annotation "alertname=\"MxTlsChainIncomplete\",$d" "so verification fails on: 127.0.0.15\""
expect_text alert_annotation "alertname=\"MxTlsCertificateNameMismatch\",$d" "has no subjectAltName matching mx4.e2e.test on: 127.0.0.14\""
expect_text alert_annotation "alertname=\"MxTlsStartTlsNotOffered\",$d" "is not delivered. On: 127.0.0.13\""
# ...and nothing about the good MX, the probes or the exporter
expect alert 'mx="mx1.e2e.test"' absent
for a in MxTlsProbeFailing MxTlsExporterDown MxTlsHandshakeFailing MxTlsEndpointUnreachable \
  MxTlsMtaStsPolicyUnusable MxTlsAddressesPresentDifferentCertificates; do
  expect alert "alertname=\"$a\"" absent
done
log_alerts

# --- the dashboard ---------------------------------------------------------------------
python3 "$repo/dashboards/tests/check_dashboards.py" --prometheus "$prom_url" >"$pr/dashboards.log" 2>&1 ||
  die "dashboards/tests/check_dashboards.py --prometheus $prom_url: $(cat "$pr/dashboards.log")"
bump
api dashboard dash-data "$prom_url" "$repo"/dashboards/*.json
expect dash_variable 'dash_name="job"' count 1
expect dash_variable 'dash_name="job",value="mxtls"' == 1
expect dash_variable 'dash_name="instance"' count 2
expect dash_variable 'dash_name="instance",value="e2e.test"' == 1
expect dash_variable 'dash_name="instance",value="bad.e2e.test"' == 1
expect dash_panel 'dash_title="Days to expiry per endpoint"' count $((4 + have_v6))
expect dash_panel "dash_title=\"Days to expiry per endpoint\",instance=\"e2e.test\",$mx2" '~' "$mx2_days"
for ep in "${mx1_eps[@]}"; do
  expect dash_panel "dash_title=\"Days to expiry per endpoint\",instance=\"e2e.test\",$ep" '>' 80
done
expect dash_panel "dash_title=\"Days to expiry per endpoint\",instance=\"bad.e2e.test\",$mx4" '>' 80
expect dash_panel "dash_title=\"Days to expiry per endpoint\",instance=\"bad.e2e.test\",$mx5" '>' 80
expect dash_panel 'dash_title="Domains probed"' == 2
expect dash_panel 'dash_title="Earliest certificate expiry"' '~' "$mx2_days"
expect dash_panel 'dash_title="Endpoints not verified"' == 2   # mx2 expired, mx5 incomplete chain
expect dash_panel 'dash_title="Name mismatches"' == 1          # mx4
expect dash_panel 'dash_title="Domains refused by MTA-STS senders"' == 1 # e2e.test: mx2, mx3
empty_panels=$(samples dash_panel_empty '' | sed -n 's/.*dash_ref="\([^"]*\)".*dash_title="\([^"]*\)".*/\2 \1/p' | paste -sd, - | sed 's/,/, /g')
log "dashboard: all queries evaluate; panels without data with this fixture: ${empty_panels:-none}"

# --- Alertmanager ----------------------------------------------------------------------
am_has_expired() { try_api am am-alerts "$am_url" && has am_alert "alertname=\"MxTlsCertificateExpired\",$e2e_mx2"; }
wait_for 20 "MxTlsCertificateExpired in Alertmanager" am_has_expired ||
  die "Prometheus did not deliver MxTlsCertificateExpired to Alertmanager: $(grep -i 'notifier\|alertmanager' "$pr/log" | tail -n 5)"
# What the Expiring tiers of mx2's certificate would look like once their for: has passed
# (15m/5m: too long to wait for): all three are inhibited by MxTlsCertificateExpired.
l="alertname=MxTlsCertificateExpiring,job=mxtls,instance=e2e.test,mx=mx2.e2e.test,fingerprint_sha256=$fp_mx2"
api post am-post "$am_url" "$l,severity=critical,tier=7d" "$l,severity=warning,tier=14d" "$l,severity=info,tier=30d"
bump
a_sel="alertname=\"MxTlsCertificateExpiring\",fingerprint_sha256=\"$fp_a\""
b_sel="alertname=\"MxTlsCertificateExpiring\",$e2e_mx2,fingerprint_sha256=\"$fp_mx2\""
am_inhibitions() {
  try_api am am-alerts "$am_url" || return 1
  local s
  for s in "$a_sel,instance=\"shared-a.e2e.test\",severity=\"warning\"" "$a_sel,instance=\"shared-a.e2e.test\",severity=\"info\"" \
    "$a_sel,instance=\"shared-b.e2e.test\",severity=\"warning\"" "$a_sel,instance=\"shared-b.e2e.test\",severity=\"info\"" \
    "$b_sel,severity=\"critical\"" "$b_sel,severity=\"warning\"" "$b_sel,severity=\"info\""; do
    has am_alert "$s,am_state=\"suppressed\"" || return 1
  done
}
wait_for 20 "inhibitions in Alertmanager" am_inhibitions || true # expects below say what is missing
api am am-alerts "$am_url"
expect am_alert "alertname=\"MxTlsCertificateExpired\",$e2e_mx2,fingerprint_sha256=\"$fp_mx2\",severity=\"critical\",am_state=\"active\",am_inhibited_by=\"\",am_receivers=\"pager\"" == 1
for inst in shared-a.e2e.test shared-b.e2e.test; do
  expect am_alert "$a_sel,instance=\"$inst\",severity=\"critical\",am_state=\"active\",am_inhibited_by=\"\",am_receivers=\"pager\"" == 1
  expect am_alert "$a_sel,instance=\"$inst\",severity=\"warning\",am_state=\"suppressed\",am_inhibited_by=\"MxTlsCertificateExpiring/critical\",am_receivers=\"oncall\"" == 1
  expect am_alert "$a_sel,instance=\"$inst\",severity=\"info\",am_state=\"suppressed\",am_inhibited_by=\"MxTlsCertificateExpiring/critical\",am_receivers=\"mailbox\"" == 1
done
expect am_alert "fingerprint_sha256=\"$fp_c\",severity=\"warning\",am_state=\"active\",am_inhibited_by=\"\",am_receivers=\"oncall\"" == 1
expect am_alert "fingerprint_sha256=\"$fp_d\",severity=\"info\",am_state=\"active\",am_inhibited_by=\"\",am_receivers=\"mailbox\"" == 1
expect am_alert "$b_sel,severity=\"critical\",am_state=\"suppressed\",am_inhibited_by=\"MxTlsCertificateExpired/critical\",am_receivers=\"pager\"" == 1
expect am_alert "$b_sel,severity=\"warning\",am_state=\"suppressed\",am_receivers=\"oncall\"" == 1
expect am_alert "$b_sel,severity=\"info\",am_state=\"suppressed\",am_receivers=\"mailbox\"" == 1
expect am_alert '' count 12

# The same through amtool: active = not inhibited, --inhibited = only the inhibited ones
amq() {
  local out
  out=$(amtool --alertmanager.url="$am_url" alert query -o extended "$@" 2>&1) || die "amtool alert query $*: $out"
  printf '%s\n' "$out"
}
amtool_expect() { # amtool_expect COUNT GREP-PATTERN amtool-args...: COUNT alert lines match
  local want=$1 pat=$2 out got
  shift 2
  out=$(amq "$@")
  got=$(grep -c -- "$pat" <<<"$out" || true)
  ((got == want)) || die "amtool alert query $*: $got alerts matching '$pat', expected $want:
$out"
  bump
}
amtool_expect 1 "fingerprint_sha256=\"$fp_mx2\".*severity=\"critical\"" alertname=MxTlsCertificateExpired instance=e2e.test
amtool_expect 2 'alertname=' fingerprint_sha256="$fp_a"
amtool_expect 2 'severity="critical"' fingerprint_sha256="$fp_a"
amtool_expect 4 'alertname=' --inhibited fingerprint_sha256="$fp_a"
amtool_expect 0 'severity="critical"' --inhibited fingerprint_sha256="$fp_a"
amtool_expect 3 'alertname="MxTlsCertificateExpiring"' --inhibited fingerprint_sha256="$fp_mx2"
amtool_expect 0 'alertname=' --inhibited fingerprint_sha256="$fp_c"

# Grouping: one group per certificate and tier, whatever the number of domains
api groups am-groups "$am_url"
for t in critical:pager warning:oncall info:mailbox; do
  expect am_group "$a_sel,severity=\"${t%:*}\",am_receiver=\"${t#*:}\",am_instances=\"$shared_instances\"" == 2
done
expect am_group "fingerprint_sha256=\"$fp_a\"" count 3
expect am_group "alertname=\"MxTlsCertificateExpired\",fingerprint_sha256=\"$fp_mx2\",severity=\"critical\",am_receiver=\"pager\",am_instances=\"e2e.test\"" == 1

# Notifications: after group_wait (30 s) the expired certificate pages; fp_a's critical tier
# is one page for both domains, its inhibited tiers send nothing; fp_c goes to oncall and
# fp_d to the mailbox.
delivered() {
  try_api notifications captured "$wh/in" &&
    has notified_alert "alertname=\"MxTlsCertificateExpired\",$e2e_mx2,am_receiver=\"pager\"" &&
    has notification "$a_sel,severity=\"critical\"" &&
    has notification "fingerprint_sha256=\"$fp_c\"" && has notification "fingerprint_sha256=\"$fp_d\""
}
log "waiting for Alertmanager's notifications (group_wait 30s)"
wait_for 75 "webhook notifications" delivered || true # expects below say what is missing
api notifications captured "$wh/in"
expect notification "alertname=\"MxTlsCertificateExpired\",fingerprint_sha256=\"$fp_mx2\",severity=\"critical\",am_receiver=\"pager\",am_status=\"firing\",am_instances=\"e2e.test\"" == 1
expect notified_alert "alertname=\"MxTlsCertificateExpired\",$e2e_mx2,fingerprint_sha256=\"$fp_mx2\",am_receiver=\"pager\",am_alert_status=\"firing\"" == 1
expect_text notified_annotation "alertname=\"MxTlsCertificateExpired\",am_receiver=\"pager\",annotation=\"description\"" "Addresses presenting it: 127.0.0.12\""
[[ -n $(compgen -G "$wh/in/pager-*.json") ]] || die "no pager-*.json in $wh/in"
bump
expect notification "$a_sel,severity=\"critical\",am_receiver=\"pager\",am_status=\"firing\",am_instances=\"$shared_instances\"" == 2
expect notification "alertname=\"MxTlsCertificateExpiring\",fingerprint_sha256=\"$fp_c\",severity=\"warning\",am_receiver=\"oncall\"" == 1
expect notification "alertname=\"MxTlsCertificateExpiring\",fingerprint_sha256=\"$fp_d\",severity=\"info\",am_receiver=\"mailbox\"" == 1
# fp_a's warning and info groups were flushed with its critical one (same group_wait):
# inhibited, they must not have notified.
expect notified_alert "fingerprint_sha256=\"$fp_a\",severity=\"warning\"" absent
expect notified_alert "fingerprint_sha256=\"$fp_a\",severity=\"info\"" absent
expect notification '' count 4 # group_interval 5m, repeat_interval >= 1h: nothing is sent twice
log "alertmanager: notifications $(cd "$wh/in" && printf '%s\n' *.json | sed 's/-[0-9]*\.json$//' | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')"

elapsed=$(since)
log "summary: domains e2e.test (mx1 good$( ((have_v6)) && echo " v4+v6"), mx2 expired, mx3 no STARTTLS, MTA-STS enforce 2/3 covered, TLS-RPT) and bad.e2e.test (mx4 name mismatch, mx5 no intermediate)"
log "summary: ports smtp=$smtp_port dns=$dns_port https=$https_port exporter=$ex_port prometheus=$prom_port alertmanager=$am_port; probe ${probe_ms} ms; total ${elapsed} s"
echo "$E2E_NAME: $passed passed, $failed failed"
((failed == 0))
