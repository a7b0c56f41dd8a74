# Helpers shared by the end-to-end drivers in tests/e2e/ (sourced, not run). Taken from
# tests/e2e/run.sh, which still carries its own copies; a driver that sources this file sets
# E2E_NAME (the log prefix) and `started` (date +%s.%N) first.
#
#   log MSG / die MSG            progress and fatal failure lines on stderr
#   wait_for SECS WHAT CMD...    poll CMD every 50 ms until it succeeds (1 on timeout)
#   free_port VAR                a free TCP+UDP port below the ephemeral range, into VAR
#   samples NAME 'k="v",...'     sample lines of NAME in $current whose labels include the
#                                pairs; k="" matches a sample WITHOUT label k (or with k empty)
#   expect NAME 'matchers' OP [VALUE]   assertion on $current (see the function); exits at the
#                                first failure unless E2E_KEEP_GOING=1 (then counted in $failed)

since() { awk -v s="${started:?set started before sourcing e2e_lib.sh}" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
log() { printf '%s: [%5ss] %s\n' "$E2E_NAME" "$(since)" "$*" >&2; }
die() { printf '%s: FAIL: %s\n' "$E2E_NAME" "$*" >&2; exit 1; }

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
# Assertions on exposition text in $current (named $current_name in messages)
# ---------------------------------------------------------------------------------------
passed=0
current=""
current_name=""

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

# fail NAME SELECTOR WHY: report a failed expectation with the samples of NAME; exits unless
# E2E_KEEP_GOING=1, which counts it in $failed and goes on (to see every failure at once).
failed=0
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
    passed=$((passed + 1))
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
