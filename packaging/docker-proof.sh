#!/usr/bin/env bash
# Proves the Dockerfile without a Docker engine: executes its instructions, stage by stage, in
# clean Debian 12 roots made with debootstrap, then runs the final stage's ENTRYPOINT as its
# USER and probes a fixture mail domain with it. A separate command, not part of the test suite
# (it downloads a Debian root and the build dependencies; several minutes). Needs root,
# debootstrap, unshare (util-linux) and the network path to the Debian mirror apt uses here.
#
#   bash packaging/docker-proof.sh [--keep] [--work=DIR] [--mirror=URL] [--fixture=PATH]
#
#   --keep           keep the work directory (the stage roots and logs)
#   --work=DIR       work directory (default: a new /var/tmp/mxtls-docker-proof.XXXXXX)
#   --mirror=URL     Debian archive (default: the one in /etc/apt/sources.list*)
#   --fixture=PATH   bench/ fixture binary (default build/bench/mxtls_bench_fixture, built
#                    with the options bench/run.sh --build uses when missing)
#
# How each instruction is executed (the Dockerfile is parsed, so the proof cannot drift from it;
# an instruction it does not know fails the proof):
#   FROM debian:12 | debian:12-slim   a copy of one `debootstrap --variant=minbase bookworm`
#                                     root (what the official images are built from), with the
#                                     image's apt sources (bookworm, -updates, -security), its
#                                     policy-rc.d (no daemons start) and the host's resolv.conf
#   RUN      /bin/sh -c in a chroot, in private mount and PID namespaces (/proc and /dev
#            mounted there, so nothing leaks to the host and every process ends with the
#            step), with the image's PATH and HOME, the stage's ENV, WORKDIR and USER
#   COPY     from the repository filtered by .dockerignore (top-level patterns), or --from a
#            stage's root; owned by root as in Docker
#   WORKDIR, USER, ENV, EXPOSE, ENTRYPOINT, CMD   recorded as Docker does; LABEL ignored
# Then, in the final root: the build tools are absent, the CA bundle exists, the binary's
# libraries all resolve, the USER is not root; ENTRYPOINT --version and ENTRYPOINT CMD
# --config.check succeed as the USER; and in a private network namespace (loopback only) the
# bench fixture serves a STARTTLS domain with its DNS, the ENTRYPOINT listens on the EXPOSEd
# port as the USER, answers /-/healthy, /metrics, and a /probe of the fixture domain with
# probe_success 1 and a verified certificate.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEEP=0
WORK=""
MIRROR=""
FIXTURE=""
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    --work=*) WORK=${arg#*=} ;;
    --mirror=*) MIRROR=${arg#*=} ;;
    --fixture=*) FIXTURE=${arg#*=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker-proof.sh: unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "docker-proof: FAILED: $*" >&2; exit 1; }
log() { echo "== $(date +%H:%M:%S) $*" >&2; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, namespaces)"
for tool in debootstrap unshare chroot python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap util-linux python3 curl)"
done

# ---- the mirror apt uses here (deb822 .sources or one-line .list), else deb.debian.org
apt_uri() {  # SUFFIX: "debian" or "debian-security"
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    grep -Eo '(https?://[^ ]+/'"$1"')/?( |$)' "$f" | head -1 | tr -d ' ' | sed 's#/$##'
  done | head -1
}
MIRROR=${MIRROR:-$(apt_uri debian)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=$(apt_uri debian-security)
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}

WORK=${WORK:-$(mktemp -d /var/tmp/mxtls-docker-proof.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
# Every mount is made inside a private mount namespace that ends with its step, so the host
# never sees one; the trap still refuses to delete a tree that something is mounted under.
cleanup() {
  local rc=$?
  if findmnt -rn -o TARGET | grep -q "^$WORK/"; then
    echo "docker-proof: mounts remain under $WORK; not deleting it" >&2
  elif [[ $KEEP == 1 ]]; then
    echo "docker-proof: work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- parse the Dockerfile into one instruction per line: KEYWORD<TAB>ARGUMENTS
# (continuation lines joined, comment lines dropped, as Docker's parser does)
python3 - "$REPO/Dockerfile" >"$WORK/instructions.tsv" <<'PY'
import sys
lines, cur = [], ""
for raw in open(sys.argv[1], encoding="utf-8"):
    line = raw.rstrip("\n")
    if line.lstrip().startswith("#") or (not cur and not line.strip()):
        continue
    if line.endswith("\\"):
        cur += line[:-1] + " "
        continue
    cur += line
    lines.append(cur.strip())
    cur = ""
if cur.strip():
    lines.append(cur.strip())
for l in lines:
    kw, _, rest = l.partition(" ")
    print(kw.upper() + "\t" + " ".join(rest.split()) if kw.upper() != "RUN" else "RUN\t" + rest.strip())
PY

json_words() {  # exec-form JSON array -> one word per line (NUL-free)
  python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert isinstance(a,list); print("\n".join(a))' "$1" ||
    die "not a JSON array (only the exec form is supported): $1"
}

# ---- the base root, once; each stage starts from a copy of it
BASE=$WORK/base
log "debootstrap --variant=minbase bookworm from $MIRROR"
debootstrap --variant=minbase bookworm "$BASE" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap"; }
rm -f "$BASE/etc/apt/sources.list"
cat >"$BASE/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
printf '#!/bin/sh\nexit 101\n' >"$BASE/usr/sbin/policy-rc.d"
chmod 755 "$BASE/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$BASE/etc/resolv.conf"
rm -rf "$BASE/var/cache/apt/archives/"*.deb
dpkg-query --admindir="$BASE/var/lib/dpkg" -W -f='${Package}\n' | sort >"$WORK/base-packages.txt"

# Runs a command in ROOT as USER (name or uid) with ENV (NAME=VALUE lines) in DIR, in private
# mount and PID namespaces; NET=1 adds a private network namespace.
in_root() {  # ROOT USER DIR ENVFILE CMD...
  local root=$1 user=$2 dir=$3 envfile=$4
  shift 4
  local -a env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOSTNAME=proof)
  if [[ $user == root || $user == 0 ]]; then env+=(HOME=/root); else env+=(HOME=/); fi
  [[ -s $envfile ]] && mapfile -t -O "${#env[@]}" env <"$envfile"
  unshare --mount --pid --fork --kill-child --mount-proc="$root/proc" \
    bash -c 'mount --rbind /dev "$1/dev" && root=$1 user=$2 dir=$3 && shift 3 &&
             exec chroot --userspec="$user" "$root" /usr/bin/env -i "$@"' \
    _ "$root" "$user:$( [[ $user == root ]] && echo root || chroot "$root" id -gn "$user")" "$dir" \
    "${env[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@"
}

# Copies the build context (the repository minus .dockerignore's top-level patterns) to DEST.
copy_context() {  # DEST
  local -a excludes=()
  local pattern
  if [[ -f $REPO/.dockerignore ]]; then
    while IFS= read -r pattern; do
      [[ -z $pattern || $pattern == \#* ]] && continue
      excludes+=("--exclude=./${pattern#/}")
    done <"$REPO/.dockerignore"
  fi
  mkdir -p "$1"
  tar -C "$REPO" --anchored "${excludes[@]}" --owner=0 --group=0 -cf - . | tar -C "$1" -xf -
}

# COPY SRC DEST, Docker's rules for the cases this Dockerfile uses: "." copies the context's
# contents; a directory copies its contents; a file goes to DEST, or into DEST when it ends
# in "/" or is a directory.
copy_into() {  # FROM_ROOT(or "") SRC ROOT DEST
  local from=$1 src=$2 root=$3 dest=$4 target
  target=$root/${dest#/}
  if [[ -z $from ]]; then
    if [[ $src == . || $src == ./ ]]; then copy_context "$target"; return; fi
    src=$REPO/$src
  else
    src=$from/${src#/}
  fi
  [[ -e $src ]] || die "COPY: no $src"
  if [[ -d $src ]]; then
    mkdir -p "$target" && cp -a "$src/." "$target/"
  elif [[ $dest == */ || -d $target ]]; then
    mkdir -p "$target" && cp -a "$src" "$target/"
  else
    mkdir -p "$(dirname "$target")" && cp -a "$src" "$target"
  fi
  chown -R 0:0 "$target"
}

# ---- execute the instructions
declare -A STAGE_ROOT=()
stage=-1
ROOT="" WORKDIR=/ USER_=root ENVFILE="" EXPOSE=""
ENTRYPOINT=() CMD=() LISTED=()
n=0
while IFS=$'\t' read -r kw args; do
  n=$((n + 1))
  case "$kw" in
    FROM)
      read -r image as name <<<"$args"
      case "$image" in
        debian:12|debian:12-slim|debian:bookworm|debian:bookworm-slim) ;;
        *) die "FROM $image: only Debian 12 images are proven here" ;;
      esac
      stage=$((stage + 1))
      ROOT=$WORK/stage$stage
      log "stage $stage ($image${name:+ AS $name}): copying the base root"
      cp -a "$BASE" "$ROOT"
      STAGE_ROOT[$stage]=$ROOT
      [[ ${as,,} == as && -n $name ]] && STAGE_ROOT[$name]=$ROOT
      WORKDIR=/ USER_=root EXPOSE="" ENTRYPOINT=() CMD=() LISTED=()
      ENVFILE=$WORK/stage$stage.env
      : >"$ENVFILE"
      ;;
    WORKDIR)
      [[ $args == /* ]] || args=$WORKDIR/$args
      WORKDIR=$args
      mkdir -p "$ROOT/${WORKDIR#/}"
      ;;
    ENV)
      [[ $args == *=* ]] || die "ENV: only the KEY=VALUE form is supported: $args"
      echo "$args" >>"$ENVFILE"
      ;;
    USER) USER_=$args ;;
    EXPOSE) EXPOSE=${args%%/*} ;;
    LABEL) ;;
    ENTRYPOINT) mapfile -t ENTRYPOINT < <(json_words "$args"); CMD=() ;;
    CMD) mapfile -t CMD < <(json_words "$args") ;;
    COPY)
      from=""
      if [[ $args == --from=* ]]; then
        from=${args%% *}
        from=${STAGE_ROOT[${from#--from=}]:-}
        [[ -n $from ]] || die "COPY $args: unknown stage"
        args=${args#* }
      fi
      read -r -a words <<<"$args"
      ((${#words[@]} >= 2)) || die "COPY $args: needs a source and a destination"
      dest=${words[-1]}
      [[ $dest == /* ]] || dest=$WORKDIR/$dest
      [[ $dest == */. ]] && dest=${dest%.}
      for src in "${words[@]:0:${#words[@]}-1}"; do
        log "stage $stage: COPY ${from:+(from $(basename "$from")) }$src -> $dest"
        copy_into "$from" "$src" "$ROOT" "$dest"
      done
      ;;
    RUN)
      log "stage $stage: RUN ${args:0:100}$([[ ${#args} -gt 100 ]] && echo ...)"
      # The packages this stage asks for by name (apt-get install's non-option words).
      if [[ $args == *"apt-get install "* ]]; then
        for word in $(sed -E 's/.*apt-get install ([^&;|]*).*/\1/' <<<"$args"); do
          [[ $word == -* ]] || LISTED+=("$word")
        done
      fi
      in_root "$ROOT" "$USER_" "$WORKDIR" "$ENVFILE" /bin/sh -c "$args" \
        >"$WORK/stage$stage-run$n.log" 2>&1 ||
        { tail -30 "$WORK/stage$stage-run$n.log" >&2; die "RUN failed in stage $stage (log: $WORK/stage$stage-run$n.log)"; }
      ;;
    *) die "instruction $kw is not understood by this proof: extend it or keep to the listed ones" ;;
  esac
done <"$WORK/instructions.tsv"
((stage >= 1)) || die "expected a multi-stage Dockerfile"
((${#ENTRYPOINT[@]} > 0)) || die "the final stage has no ENTRYPOINT"
[[ -n $EXPOSE ]] || die "the final stage EXPOSEs no port"
log "final stage $stage assembled: ENTRYPOINT ${ENTRYPOINT[*]} CMD ${CMD[*]} USER $USER_ EXPOSE $EXPOSE"

# ---- the runtime root holds only what its stage installed
dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${db:Status-Abbrev} ${Package}\n' |
  awk '$1 == "ii" {print $2}' | sort >"$WORK/runtime-packages.txt"
added=$(comm -13 "$WORK/base-packages.txt" "$WORK/runtime-packages.txt" | tr '\n' ' ')
log "packages the runtime stage added to the Debian 12 minbase: $added"
# apt marks what it was asked for as manually installed and the rest as dependencies: the
# packages marked manual beyond the base are exactly the ones the stage lists, less those the
# base already has (libidn2-0 is in every Debian root: apt needs it; listing it keeps the
# image right should that change). Every listed package is installed.
manual=$(comm -23 <(chroot "$ROOT" apt-mark showmanual | sort) "$WORK/base-packages.txt" | tr '\n' ' ')
listed_sorted=$(printf '%s\n' "${LISTED[@]}" | sort)
listed=$(comm -23 <(echo "$listed_sorted") "$WORK/base-packages.txt" | tr '\n' ' ')
[[ $manual == "$listed" ]] || die "packages installed on purpose: '$manual'; the Dockerfile lists beyond the base: '$listed'"
missing=$(comm -23 <(echo "$listed_sorted") "$WORK/runtime-packages.txt" | tr '\n' ' ')
[[ -z $missing ]] || die "listed in the Dockerfile but not installed: $missing"
log "installed on purpose: $manual(exactly the listed packages not already in the base; all listed installed)"
for p in g++ gcc cpp cmake make git pkg-config libssl-dev catch2 prometheus-cpp-dev; do
  grep -qx "$p" "$WORK/runtime-packages.txt" && die "build package $p is in the runtime root"
done
[[ -s $ROOT/etc/ssl/certs/ca-certificates.crt ]] || die "no CA bundle in the runtime root"
uid=$(chroot "$ROOT" id -u "$USER_") || die "USER $USER_ does not exist in the runtime root"
((uid != 0)) || die "USER $USER_ is root"
log "USER $USER_ is uid $uid; $(grep -c 'BEGIN CERTIFICATE' "$ROOT/etc/ssl/certs/ca-certificates.crt") CA certificates"
missing=$(chroot "$ROOT" ldd "${ENTRYPOINT[0]}" | grep 'not found' || true)
[[ -z $missing ]] || die "unresolved libraries: $missing"

log "ENTRYPOINT --version as $USER_"
in_root "$ROOT" "$USER_" / "$ENVFILE" "${ENTRYPOINT[@]}" --version | tee "$WORK/version.txt" >&2
grep -q mxtls_exporter "$WORK/version.txt" || die "--version printed no version"
log "ENTRYPOINT CMD --config.check as $USER_ (the shipped example config)"
in_root "$ROOT" "$USER_" / "$ENVFILE" "${ENTRYPOINT[@]}" "${CMD[@]}" --config.check >&2 ||
  die "--config.check of the shipped config failed"

# ---- the fixture (a mail domain: authoritative DNS + STARTTLS server, private root CA)
if [[ -z $FIXTURE ]]; then
  FIXTURE=$REPO/build/bench/mxtls_bench_fixture
  if [[ ! -x $FIXTURE ]]; then
    log "building the bench fixture in build/ (the options bench/run.sh --build uses)"
    cmake -S "$REPO" -B "$REPO/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXTLS_SANITIZE=OFF \
      -DMXTLS_BUILD_TESTS=ON -DMXTLS_BUILD_BENCH=ON >/dev/null
    cmake --build "$REPO/build" --target mxtls_bench_fixture -j"$(nproc)" >&2
  fi
fi
[[ -x $FIXTURE ]] || die "no fixture binary at $FIXTURE"

# ---- a probe: fixture DNS + STARTTLS server and the exporter, alone in a network namespace
PROOF=$ROOT/etc/mxtls_exporter/proof
mkdir -p "$PROOF" "$WORK/fixture"
cat >"$WORK/probe.sh" <<'PROBE'
set -euo pipefail
ip link set lo up
"$FIXTURE" --out="$WORK/fixture" --servers=1 --scale-mx=0 >"$WORK/fixture.log" 2>&1 &
for ((i = 0; i < 300; i++)); do [[ -f $WORK/fixture/ready ]] && break; sleep 0.1; done
[[ -f $WORK/fixture/ready ]] || { cat "$WORK/fixture.log"; echo "fixture not ready"; exit 1; }
. "$WORK/fixture/fixture.env"
target=$(head -1 "$WORK/fixture/mxtls_targets.txt")
cp "$WORK/fixture/root.pem" "$PROOF/root.pem"
cat >"$PROOF/config.yml" <<EOF
dns:
  resolvers: ["127.0.0.1:$DNS_PORT"]
modules:
  default:
    smtp:
      port: $SMTP_PORT
      ehlo_name: prober.proof.test
    tls:
      ca_file: /etc/mxtls_exporter/proof/root.pem
    mta_sts:
      enabled: false
targets:
  - domain: $target
EOF
chmod -R a+rX "$PROOF"
# The ENTRYPOINT with docker-run-style arguments, as the USER, in the runtime root.
mount --rbind /dev "$ROOT/dev"
mount -t proc proc "$ROOT/proc"
chroot --userspec="$USER_:$(chroot "$ROOT" id -gn "$USER_")" "$ROOT" /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/ \
  "${ENTRYPOINT[@]}" --config.file=/etc/mxtls_exporter/proof/config.yml \
  --web.listen-address=127.0.0.1:$EXPOSE >"$WORK/exporter.log" 2>&1 &
pid=$!
base=http://127.0.0.1:$EXPOSE
for ((i = 0; i < 100; i++)); do curl -sf -o /dev/null "$base/-/healthy" && break; sleep 0.1; done
curl -sf "$base/-/healthy" >/dev/null || { cat "$WORK/exporter.log"; echo "no /-/healthy"; exit 1; }
# $pid is this PID namespace's number: read it in the proc mounted for this namespace.
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$ROOT/proc/$pid/status")
echo "/-/healthy: 200 from pid $pid, uids (real, effective, saved, fs) $uids"
[[ $uids == "$EXPECT_UID $EXPECT_UID $EXPECT_UID $EXPECT_UID" ]] || { echo "not running as $USER_ ($EXPECT_UID)"; exit 1; }
metrics=$(curl -sf "$base/metrics")
grep -q '^mxtls_exporter_build_info' <<<"$metrics" || { echo "/metrics lacks build_info"; exit 1; }
curl -sf -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "$base/probe?target=$target" >"$WORK/probe.prom"
for want in '^probe_success 1$' '^mxtls_cert_verified\{.*\} 1$' '^mxtls_tls_handshake_success\{.*\} 1$'; do
  grep -Eq "$want" "$WORK/probe.prom" || { grep -v '^#' "$WORK/probe.prom" | head -40; echo "missing: $want"; exit 1; }
done
echo "/probe?target=$target: $(grep -Ec '^[a-z]' "$WORK/probe.prom") series, probe_success 1, certificate verified"
PROBE
log "probe: fixture domain, ENTRYPOINT on 127.0.0.1:$EXPOSE as $USER_, in a private network namespace"
export WORK ROOT FIXTURE PROOF EXPOSE USER_ EXPECT_UID=$uid
export ENTRYPOINT_WORDS
ENTRYPOINT_WORDS=$(printf '%q ' "${ENTRYPOINT[@]}")
unshare --net --mount --pid --fork --kill-child \
  bash -c 'eval "ENTRYPOINT=($ENTRYPOINT_WORDS)"; source "$WORK/probe.sh"' >&2 ||
  die "the probe in the runtime root failed (logs in $WORK: exporter.log, fixture.log; use --keep)"
log "PROVEN: the Dockerfile's build stage built the binary in Debian 12, and its runtime stage runs it as $USER_ and probes"
