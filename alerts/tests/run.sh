#!/usr/bin/env bash
# Checks the shipped alerting rules and Alertmanager example with the real tools:
# promtool (rule syntax and unit tests) and amtool (config check and one routing case per
# route). Run from anywhere; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

promtool check rules mxtls.rules.yml
promtool test rules tests/*_test.yml
amtool check-config alertmanager.yml

failures=0
# expected receiver | labels of the alert
while IFS='|' read -r expected labels; do
  [[ -z "$expected" || "$expected" == \#* ]] && continue
  # shellcheck disable=SC2086
  got=$(amtool config routes test --config.file=alertmanager.yml $labels 2>/dev/null | tail -n 1)
  if [[ "$got" != "$expected" ]]; then
    echo "route FAILED: {$labels} went to '$got', expected '$expected'"
    failures=$((failures + 1))
  else
    echo "route ok: {$labels} -> $got"
  fi
done <<'ROUTES'
# Expiry tiers, routed by severity under the per-certificate grouping route.
pager|alertname=MxTlsCertificateExpiring severity=critical fingerprint_sha256=ab instance=a.example
oncall|alertname=MxTlsCertificateExpiring severity=warning fingerprint_sha256=ab instance=a.example
mailbox|alertname=MxTlsCertificateExpiring severity=info fingerprint_sha256=ab instance=a.example
pager|alertname=MxTlsCertificateExpired severity=critical fingerprint_sha256=ab
pager|alertname=MxTlsMtaStsHostCertificateExpiring severity=critical fingerprint_sha256=cd instance=a.example
mailbox|alertname=MxTlsMtaStsHostCertificateExpiring severity=info fingerprint_sha256=cd instance=a.example
# Policy-aware validity alerts: the severity the domain's MTA-STS mode gave them.
pager|alertname=MxTlsCertificateNameMismatch severity=critical mta_sts_mode=enforce instance=a.example mx=mx.a.example
oncall|alertname=MxTlsCertificateNameMismatch severity=warning mta_sts_mode=testing instance=a.example mx=mx.a.example
mailbox|alertname=MxTlsCertificateNameMismatch severity=info mta_sts_mode=none instance=a.example mx=mx.a.example
oncall|alertname=MxTlsMtaStsPolicyUnusable severity=warning instance=a.example reason=sts-webpki-invalid
# DNSSEC, DANE and TLS versions: by severity; MxTlsNoModernTls as graded by required_by.
pager|alertname=MxTlsDaneMismatch severity=critical instance=a.example mx=mx.a.example
pager|alertname=MxTlsDaneTlsaLookupFailing severity=critical instance=a.example mx=mx.a.example reason=servfail
pager|alertname=MxTlsDnssecBogus severity=critical instance=a.example
pager|alertname=MxTlsDnssecBogus severity=critical instance=a.example mx=mx.a.example
mailbox|alertname=MxTlsDaneOnlyUnusableRecords severity=info instance=a.example mx=mx.a.example
pager|alertname=MxTlsNoModernTls severity=critical required_by=dane instance=a.example mx=mx.a.example
pager|alertname=MxTlsNoModernTls severity=critical required_by=mta_sts instance=a.example mx=mx.a.example
oncall|alertname=MxTlsNoModernTls severity=warning required_by=none instance=a.example mx=mx.a.example
mailbox|alertname=MxTlsTls13Only severity=info instance=a.example mx=mx.a.example
oncall|alertname=MxTlsResolverNotValidating severity=warning job=mxtls_exporter instance=exporter:10465
# An expired certificate that only RSA senders see: the expiry route, per fingerprint.
pager|alertname=MxTlsCertificateExpired severity=critical fingerprint_sha256=rsa instance=a.example mx=mx.a.example
# Everything else by severity.
pager|alertname=MxTlsExporterDown severity=critical
oncall|alertname=MxTlsChainIncomplete severity=warning instance=a.example mx=mx.a.example
oncall|alertname=MxTlsStartTlsNotOffered severity=warning instance=a.example mx=mx.a.example
mailbox|alertname=SomethingElse severity=info
# No severity at all: the default receiver.
mailbox|alertname=Unlabelled
ROUTES

if ((failures > 0)); then
  echo "alertmanager routing: $failures failed"
  exit 1
fi

# Every alert has a runbook section, and every runbook_url anchor is a section.
runbook=runbook.md
for name in $(sed -n 's/^ *- alert: *//p' mxtls.rules.yml | sort -u); do
  anchor=$(tr '[:upper:]' '[:lower:]' <<<"$name")
  if ! grep -qx "## $name" "$runbook"; then
    echo "runbook: no section \"## $name\""
    failures=$((failures + 1))
  fi
done
for anchor in $(sed -n 's/^ *runbook_url: .*#//p' mxtls.rules.yml | sort -u); do
  if ! grep -qix "## $anchor" "$runbook"; then
    echo "runbook: runbook_url anchor #$anchor has no section"
    failures=$((failures + 1))
  fi
done
if ((failures > 0)); then
  echo "runbook: $failures failed"
  exit 1
fi
echo "alert rules and routing: all checks passed"
