#!/usr/bin/env bash
# Scale-out end to end: exporter replicas sharing the targets through Prometheus hashmod
# relabeling, with the shipped example scrape configs, a real Prometheus (Debian's), real
# Postfix mail hosts and nsd.
#
#   bash tests/e2e/scaleout_e2e.sh [path/to/mxtls_exporter]   (default: build/mxtls_exporter)
#
# Needs root (Postfix) and the packages postfix nsd openssl curl python3 prometheus. Loopback
# only; everything is stopped and the temporary directory removed on exit (E2E_KEEP_TMP=1
# keeps it). Helpers are shared with run.sh and dane_e2e.sh (tests/e2e/e2e_lib.sh).
#
# World (zone scale.test, served by nsd): 8 customer domains c1..c8.scale.test on 4 mail
# hosts, two domains each (cN and cN+4 share mxN.scale.test at 127.0.0.6N), all served by one
# Postfix instance with a listener and a certificate per address. Four exporter replicas run
# the same config listing all 8 domains:
#   - replicas 0 and 1 behind config/examples/prometheus_sharded.yml (hashmod of the domain,
#     targets from each replica's /sd);
#   - replicas 2 and 3 behind config/examples/prometheus_sharded_fleet.yml (hashmod of the
#     mx_group label of a file_sd list grouping the domains by mail host).
# Only addresses, intervals and the file_sd path are substituted in the shipped files. Each
# replica's expected shard is computed here the way Prometheus computes hashmod (md5 of the
# value, last 8 bytes big-endian, modulo 2), and asserted three ways: Prometheus' view (every
# domain scraped by exactly one job of its pattern, the one predicted, instance = the domain,
# probe_success 1), each replica's own /status (exactly its shard probed, the rest "not
# probed yet") and its debug log ("probe finished" only for its shard), and its
# mxtls_exporter_probes_total. The fleet pattern must keep each mail host's domains together;
# the domain pattern, for these names, splits one (mx3), which is what the fleet advice avoids.
set -euo pipefail

E2E_NAME=scaleout-e2e
started=$(date +%s.%N)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/e2e_lib.sh
source "$here/e2e_lib.sh"

bin=${1:-build/mxtls_exporter}
if [[ ! -x $bin && $bin != /* && -x $repo/$bin ]]; then bin=$repo/$bin; fi
[[ -x $bin ]] || die "exporter binary not found or not executable: $bin (pass its path as \$1)"
bin=$(readlink -f "$bin")

require_root "Postfix instances need it"
require_commands "apt-get install postfix nsd openssl curl python3 prometheus; or bash scripts/install-deps.sh --test" \
  postfix postconf nsd openssl curl ss script awk python3 prometheus promtool
require_postfix_user

keep_tmp=${E2E_KEEP_TMP:-0}
make_tmp mxtls-scaleout

smtp_port="" dns_port="" prom_port=""
free_port smtp_port
free_port dns_port
free_port prom_port

domains=()
for i in 1 2 3 4 5 6 7 8; do domains+=("c$i.scale.test"); done
mx_of() { # mx_of DOMAIN: its mail host (cN and cN+4 share mx((N-1)%4+1))
  local n=${1#c}
  n=${n%%.*}
  echo "mx$(((n - 1) % 4 + 1)).scale.test"
}
# shard_of VALUE: what Prometheus' hashmod with modulus 2 gives for VALUE
shard_of() {
  python3 -c 'import hashlib, sys; print(int.from_bytes(hashlib.md5(sys.argv[1].encode()).digest()[8:], "big") % 2)' "$1"
}

# ---------------------------------------------------------------------------------------
# PKI, DNS, Postfix
# ---------------------------------------------------------------------------------------
pki_init "$T/pki"
pki_ca "mxtls scaleout"
for m in 1 2 3 4; do leaf "mx$m" ec "mx$m.scale.test" -days 90; done
chmod 644 "$pki"/*.pem

ns=$T/nsd
mkdir -p "$ns"
{
  cat <<EOF
\$ORIGIN scale.test.
\$TTL 300
@            SOA   ns.scale.test. hostmaster.scale.test. 1 3600 600 86400 300
@            NS    ns
ns           A     127.0.0.1
EOF
  for m in 1 2 3 4; do echo "mx$m         A     127.0.0.6$m"; done
  for d in "${domains[@]}"; do echo "${d%.scale.test}           MX 10 $(mx_of "$d")."; done
} >"$ns/scale.test.zone"
{
  nsd_conf "$ns" "$dns_port" 0
  printf 'zone:\n  name: scale.test\n  zonefile: scale.test.zone\n'
} >"$ns/nsd.conf"
start_nsd "$ns"

# One Postfix instance, a listener per mail host address with that host's name and chain.
pf=$T/postfix
postfix_instance "$pf" mx1.scale.test scale.test ipv4 "mxtls scaleout" may
{
  for m in 1 2 3 4; do
    echo "127.0.0.6$m:$smtp_port inet n - n - - smtpd -o myhostname=mx$m.scale.test" \
      "-o smtpd_tls_chain_files=$pki/mx$m.key,$pki/mx$m.chain.pem"
  done
  postfix_services
} >"$pf/etc/master.cf"
start_postfix_instance mail "$pf"
wait_postfix_started
for m in 1 2 3 4; do
  wait_for 15 "smtp 127.0.0.6$m" smtp_ready "127.0.0.6$m" || die "no SMTP greeting from 127.0.0.6$m:$smtp_port"
done
log "nsd on 127.0.0.1:$dns_port; postfix on 127.0.0.61-64:$smtp_port (4 mail hosts, 8 domains)"

# ---------------------------------------------------------------------------------------
# Four replicas, one config
# ---------------------------------------------------------------------------------------
config=$T/config.yml
cp "$pki/root.pem" "$T/private-root.pem"
{
  cat <<EOF
dns:
  resolvers: ["127.0.0.1:$dns_port"]
  timeout: 2s
  attempts: 2
modules:
  default:
    smtp:
      port: $smtp_port
      ehlo_name: prober.scale.test
    timeout: 10s
    ip_families: [ipv4]
    tls:
      ca_file: $T/private-root.pem
targets:
EOF
  for d in "${domains[@]}"; do echo "  - domain: $d"; done
} >"$config"
ex_bases=() ex_dirs=() ex_addrs=()
for r in 0 1 2 3; do
  mkdir -p "$T/replica$r"
  cp "$config" "$T/replica$r/config.yml"
  start_exporter "$bin" "$T/replica$r"
  ex_bases+=("$ex_base")
  ex_dirs+=("$T/replica$r")
  ex_addrs+=("127.0.0.1:$ex_port")
done

# ---------------------------------------------------------------------------------------
# Prometheus with the shipped sharded scrape configs
# ---------------------------------------------------------------------------------------
# shipped_jobs FILE ADDR0 ADDR1: the scrape_configs entries of FILE (the lines after
# "scrape_configs:", without its own mxtls_exporter job) for replicas at ADDR0 and ADDR1, with
# test intervals and the test's file_sd list.
shipped_jobs() {
  local file=$repo/config/examples/$1
  [[ -r $file ]] || die "missing $file"
  sed -n '/^scrape_configs:/,$p' "$file" | sed '1d' |
    awk '/^  - job_name: mxtls_exporter$/ { skip = 1; next } /^  - job_name:/ { skip = 0 } !skip' |
    sed -e "s/mxtls-0\.example\.net:10465/$2/g" -e "s/mxtls-1\.example\.net:10465/$3/g" \
      -e 's/scrape_interval: 5m/scrape_interval: 3s/' -e 's/scrape_timeout: 30s/scrape_timeout: 3s/' \
      -e 's/refresh_interval: 5m/refresh_interval: 5s/' \
      -e "s#/etc/prometheus/mxtls_fleet_targets.yml#$T/prometheus/fleet_targets.yml#"
}
pr=$T/prometheus
mkdir -p "$pr"
# The file_sd list of the fleet pattern: one group per mail host.
for m in 1 2 3 4; do
  members=()
  for d in "${domains[@]}"; do [[ $(mx_of "$d") == "mx$m.scale.test" ]] && members+=("\"$d\""); done
  printf -- '- targets: [%s]\n  labels:\n    mx_group: mx%s.scale.test\n' "$(IFS=,; echo "${members[*]}")" "$m"
done >"$pr/fleet_targets.yml"
{
  printf 'global:\n  scrape_interval: 3s\nscrape_configs:\n'
  shipped_jobs prometheus_sharded.yml "${ex_addrs[0]}" "${ex_addrs[1]}"
  shipped_jobs prometheus_sharded_fleet.yml "${ex_addrs[2]}" "${ex_addrs[3]}"
  cat <<EOF
  - job_name: mxtls_exporter
    static_configs:
      - targets: ["${ex_addrs[0]}", "${ex_addrs[1]}", "${ex_addrs[2]}", "${ex_addrs[3]}"]
EOF
} >"$pr/prometheus.yml"
grep -q 'action: hashmod' "$pr/prometheus.yml" || die "no hashmod rule came from the shipped examples"
run_prometheus "$pr" "$prom_port" 30
log "prometheus on $prom_url"

# Expected shards: replica 0/1 by hash of the domain, replica 2/3 by hash of its mail host.
declare -A want_domain_shard want_fleet_shard
for d in "${domains[@]}"; do
  want_domain_shard[$d]=$(shard_of "$d")
  want_fleet_shard[$d]=$((2 + $(shard_of "$(mx_of "$d")")))
done
expected_of_replica() { # the domains replica R should probe, sorted, space-separated
  local r=$1 d out=()
  for d in "${domains[@]}"; do
    if ((r < 2)); then ((want_domain_shard[$d] == r)) && out+=("$d"); else ((want_fleet_shard[$d] == r)) && out+=("$d"); fi
  done
  echo "${out[*]}"
}
for r in 0 1 2 3; do log "replica $r (${ex_addrs[$r]}) expects: $(expected_of_replica "$r")"; done

# Every domain scraped with probe_success 1 in both patterns.
all_scraped() {
  prom_alive
  try_api success prom-query "$prom_url" 'probe_success == 1' || return 1
  local d
  for d in "${domains[@]}"; do
    has probe_success "instance=\"$d\",job=\"mxtls_shard${want_domain_shard[$d]}\"" || return 1
    has probe_success "instance=\"$d\",job=\"mxtls_fleet_shard$((want_fleet_shard[$d] - 2))\"" || return 1
  done
}
wait_for 40 "every domain scraped in both patterns" all_scraped ||
  die "not every domain was scraped as predicted; up: $(python3 "$e2e_dir/e2e_api.py" prom-query "$prom_url" up 2>&1)"
bump
log "every domain scraped with probe_success 1 in both patterns"

# ---------------------------------------------------------------------------------------
# Prometheus' view
# ---------------------------------------------------------------------------------------
api up prom-query "$prom_url" 'up{job=~"mxtls_(fleet_)?shard[01]"}'
expect up '' count 16 # 8 domains x 2 patterns, each exactly once
for d in "${domains[@]}"; do
  # instance = the domain; exactly one job of each pattern; the predicted one.
  expect up "instance=\"$d\",job=\"mxtls_shard${want_domain_shard[$d]}\"" == 1
  expect up "instance=\"$d\",job=\"mxtls_shard$((1 - want_domain_shard[$d]))\"" absent
  fs=$((want_fleet_shard[$d] - 2))
  expect up "instance=\"$d\",job=\"mxtls_fleet_shard$fs\",mx_group=\"$(mx_of "$d")\"" == 1
  expect up "instance=\"$d\",job=\"mxtls_fleet_shard$((1 - fs))\"" absent
done
# Both replicas of each pattern have targets, and the union is every domain.
for j in mxtls_shard0 mxtls_shard1 mxtls_fleet_shard0 mxtls_fleet_shard1; do
  n=$(nsamples up "job=\"$j\"")
  ((n > 0 && n < 8)) || fail up "job=\"$j\"" "expected some but not all of the 8 domains, got $n"
  bump
done
api series prom-query "$prom_url" 'count by (job) (count by (job, instance) ({job=~"mxtls_(fleet_)?shard[01]",__name__="probe_success"}))'
for j in shard fleet_shard; do
  n0=$(samples result "job=\"mxtls_${j}0\"" | awk '{ print $2 }')
  n1=$(samples result "job=\"mxtls_${j}1\"" | awk '{ print $2 }')
  ((n0 + n1 == 8)) || fail result "job=~mxtls_${j}" "shards hold $n0 + $n1 domains, not 8"
  bump
done
# The series are the domain's: mxtls_mx_info of each domain names its own mail host.
api mxinfo prom-query "$prom_url" 'mxtls_mx_info{job=~"mxtls_shard[01]"}'
for d in "${domains[@]}"; do expect mxtls_mx_info "instance=\"$d\",mx=\"$(mx_of "$d")\"" == 1; done

# Mail hosts: the fleet pattern keeps each host's domains on one replica; sharding by domain
# splits at least one host (mx3 for these names), the case the fleet advice is for.
api fleet prom-query "$prom_url" 'count by (mx_group) (count by (mx_group, job) (up{job=~"mxtls_fleet_shard[01]"}))'
for m in 1 2 3 4; do expect result "mx_group=\"mx$m.scale.test\"" == 1; done
split=0
for m in 1 2 3 4; do
  [[ ${want_domain_shard[c$m.scale.test]} != "${want_domain_shard[c$((m + 4)).scale.test]}" ]] && split=$((split + 1))
done
((split > 0)) || die "these names no longer show a mail host split by domain sharding: pick others"
bump
log "domain sharding splits $split of 4 mail hosts; fleet sharding none"

# ---------------------------------------------------------------------------------------
# Each replica's own view: /status, its log and its counters
# ---------------------------------------------------------------------------------------
for r in 0 1 2 3; do
  want=$(expected_of_replica "$r")
  status=$(curl -sf --max-time 10 "${ex_bases[$r]}/status") || die "GET ${ex_bases[$r]}/status failed"
  probed=$(grep -o 'data-domain="[^"]*" data-level="[^"]*"' <<<"$status" |
    sed -n 's/data-domain="\([^"]*\)" data-level="\([^"]*\)"/\1 \2/p' | awk '$2 != "not" { print $1 }' | sort | tr '\n' ' ')
  rows=$(grep -c 'data-domain="' <<<"$status" || true)
  [[ $rows == 8 ]] || die "replica $r: /status lists $rows targets, not 8"
  [[ ${probed% } == "$want" ]] || die "replica $r: /status shows probed [${probed% }], expected [$want]"
  bump
  logged=$(sed -n 's/.*msg="probe finished".* target=\([^ ]*\).*/\1/p' "${ex_dirs[$r]}/stderr.log" | tr -d '"' | sort -u | tr '\n' ' ')
  [[ ${logged% } == "$want" ]] || die "replica $r: its log shows probes of [${logged% }], expected [$want]"
  bump
  scrape "replica$r-metrics" "${ex_bases[$r]}/metrics"
  total=$(samples mxtls_exporter_probes_total 'module="default"' | awk '{ s += $2 } END { print s + 0 }')
  # At least one probe per domain of its shard (Prometheus keeps scraping while we check).
  ((total >= $(wc -w <<<"$want"))) || fail mxtls_exporter_probes_total 'module="default"' \
    "replica $r: $total probes for a shard of $(wc -w <<<"$want") domains"
  bump
  log "replica $r probed exactly [$want] ($total probes so far)"
done

echo "$E2E_NAME: $passed passed, $failed failed"
((failed == 0))
