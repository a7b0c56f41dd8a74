#!/usr/bin/env bash
# The binary under a given RLIMIT_NOFILE (util-linux prlimit): it raises its soft limit to the
# hard one at start (checked in /proc/PID/limits), and warns when even that is below what
# engine.max_sessions and --web.handler-threads need (DescriptorsNeeded in
# exporter/open_file_limit.h: max_sessions + per listener 2 x handlers + 4096 parked
# keep-alive connections, + 128; 7272 with the defaults).
#
#   bash packaging/tests/open_file_limit_test.sh path/to/mxtls_exporter
set -euo pipefail

bin=${1:?usage: open_file_limit_test.sh path/to/mxtls_exporter}
fail() { echo "open_file_limit_test: FAILED: $*" >&2; exit 1; }
command -v prlimit >/dev/null || fail "prlimit missing (apt-get install util-linux)"

work=$(mktemp -d /tmp/mxtls-nofile-test.XXXXXX)
pid=""
stop() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap 'stop; rm -rf "$work"' EXIT

# A resolver on the discard port of loopback: the start-up DNSSEC check goes nowhere else.
write_config() { # write_config FILE [MAX_SESSIONS]
  {
    printf 'dns:\n  resolvers: ["127.0.0.1:9"]\n'
    [[ -n ${2:-} ]] && printf 'engine:\n  max_sessions: %s\n' "$2"
    printf 'targets:\n  - domain: example.com\n'
  } >"$1"
}
# run NAME NOFILE [MAX_SESSIONS]: the exporter under prlimit --nofile=NOFILE until it listens;
# sets pid and log (its stderr).
run() {
  local name=$1 nofile=$2 i
  write_config "$work/$name.yml" "${3:-}"
  log=$work/$name.log
  : >"$log"  # before the background start opens it, so the first grep finds it
  prlimit --nofile="$nofile" "$bin" --config.file="$work/$name.yml" \
    --web.listen-address=127.0.0.1:0 2>"$log" >/dev/null &
  pid=$!
  for ((i = 0; i < 200; i++)); do
    grep -q 'msg=listening' "$log" && return 0
    kill -0 "$pid" 2>/dev/null || fail "$name: exporter exited: $(cat "$log")"
    sleep 0.05
  done
  fail "$name: exporter did not listen: $(cat "$log")"
}
limits() { awk '/^Max open files/ { print $4 ":" $5 }' "/proc/$pid/limits"; }
warning='level=warn msg="open file limit is below what the configured concurrency needs'

# 1. Hard limit 256: nothing to raise, and far below the 7272 the defaults need.
run low 256:256
grep -q "$warning.* limit=256 needed=7272 max_sessions=1000 web_handler_threads=1024 listeners=1 idle_connections_per_listener=4096" "$log" ||
  fail "no warning under 256:256: $(cat "$log")"
[[ $(limits) == 256:256 ]] || fail "limits under 256:256 are $(limits)"
stop
echo "256:256: warned (limit=256 needed=7272)"

# 2. Soft 1024, hard 8192: raised to 8192, which is enough: no warning.
run raised 1024:8192
[[ $(limits) == 8192:8192 ]] || fail "soft limit not raised to the hard limit: $(limits)"
grep -q 'msg="raised the open file limit to the hard limit" from=1024 limit=8192' "$log" ||
  fail "no log line for the raise: $(cat "$log")"
! grep -q "$warning" "$log" || fail "warned although 8192 >= 7272: $(cat "$log")"
stop
echo "1024:8192: raised to 8192, no warning"

# 3. The same limits with engine.max_sessions 5000: 8192 < 11272.
run many 1024:8192 5000
grep -q "$warning.* limit=8192 needed=11272 max_sessions=5000" "$log" ||
  fail "no warning for max_sessions 5000 under 8192: $(cat "$log")"
stop
echo "1024:8192 with max_sessions 5000: warned (needed=11272)"
echo "open_file_limit_test: passed"
