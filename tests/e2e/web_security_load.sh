#!/usr/bin/env bash
# wrk load against /metrics over TLS with basic auth: every request must be answered 2xx,
# with no socket error (connect, read, write, timeout).
#
#   web_security_load.sh --exporter BIN [--duration 5s] [--connections 32]
#
# Generates a CA and a server certificate (openssl), a bcrypt hash (python3's crypt, libxcrypt),
# starts the exporter on a loopback port with that web config, runs wrk with an Authorization
# header and prints wrk's report. Needs wrk, openssl, python3 and curl; loopback only.
set -euo pipefail

exporter="" duration=5s connections=32
while (($#)); do
  case "$1" in
    --exporter) exporter=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in wrk openssl python3 curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[[ -x "$exporter" ]] || { echo "--exporter BIN is required" >&2; exit 2; }

dir=$(mktemp -d /tmp/mxtls_wrk_XXXXXX)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
  -days 2 -subj /CN=wrk-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
  -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
  -extfile ext 2>/dev/null
# Cost 10, as htpasswd -B makes them: about 70 ms a verification, so only the cache keeps
# thousands of requests a second possible.
hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("load test", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
cat >web.yml <<YAML
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  prometheus: '$hash'
YAML
cat >config.yml <<'YAML'
dns:
  resolvers: ["127.0.0.1:1"]
  timeout: 50ms
  attempts: 1
targets:
  - domain: alpha.example
YAML

: >log
"$exporter" --config.file=config.yml --web.config.file=web.yml --web.listen-address=127.0.0.1:0 \
  2>log &
pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*msg=listening address=127\.0\.0\.1:\([0-9]*\).*/\1/p' log | head -1)
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { cat log; echo "FAIL: the exporter did not start"; exit 1; }
url="https://127.0.0.1:$port/metrics"
auth=$(printf 'prometheus:load test' | base64)
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert ca.crt -H "Authorization: Basic $auth" "$url")
[[ "$code" == 200 ]] || { echo "FAIL: a single authenticated scrape got $code"; exit 1; }

out=$(wrk -t2 -c"$connections" -d"$duration" --latency -H "Authorization: Basic $auth" "$url" 2>&1)
echo "$out"
if grep -qE 'Socket errors|Non-2xx or 3xx responses' <<<"$out"; then
  echo "FAIL: wrk saw errors"
  exit 1
fi
requests=$(awk '/requests in/ {print $1}' <<<"$out")
((requests > 100)) || { echo "FAIL: only $requests requests"; exit 1; }
# A wrong password, repeated: 401 every time.
bad=$(printf 'prometheus:wrong' | base64)
out=$(wrk -t1 -c4 -d1s -H "Authorization: Basic $bad" "$url" 2>&1)
grep -q 'Non-2xx or 3xx responses' <<<"$out" || { echo "$out"; echo "FAIL: wrong password answered 2xx"; exit 1; }
echo "PASS: $requests authenticated TLS scrapes in $duration with $connections connections, no errors"
