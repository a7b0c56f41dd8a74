#!/usr/bin/env bash
# Installs what building (and, with --test, testing) mxtls_exporter needs on Debian 12.
# Idempotent: skips apt entirely when every package is already installed.
set -euo pipefail

build_pkgs=(g++ cmake make pkg-config git prometheus-cpp-dev libssl-dev libc-ares-dev
            libcpp-httplib-dev libyaml-cpp-dev libasio-dev nlohmann-json3-dev libidn2-dev zlib1g-dev catch2
            libcrypt-dev ca-certificates)
# unbound (validating resolver) and ldnsutils (ldns-keygen, ldns-signzone, drill): tests/e2e/dane_e2e.sh
# chromium (headless browser for the status page): tests/e2e/status_page_e2e.sh
# python3-jsonschema: tests validate `check --output=json` against docs/check-output.schema.json
# wrk (load over TLS with basic auth): tests/e2e/web_security_load.sh
# systemd (systemd-analyze verify) and groff-base (man page warnings): the install test
test_pkgs=(curl iproute2 openssl python3 python3-jsonschema prometheus prometheus-alertmanager
           postfix nginx-light nsd unbound ldnsutils chromium systemd groff-base wrk)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix asks a question on install; answer it before any package pulls it in.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
