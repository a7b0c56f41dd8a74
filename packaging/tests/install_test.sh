#!/usr/bin/env bash
# The CMake install target, checked: `cmake --install BUILD_DIR --prefix <temp>` installs
# exactly the expected files; the installed binary starts and accepts the installed config; a
# second install keeps an edited config; the man page renders without warnings and documents
# every flag `--help` lists (and no other); the unit, its default file and the install layout
# agree on paths; and the installed unit passes `systemd-analyze verify` (with ExecStart pointed
# at the installed binary, since verify requires the program to exist). Without systemd-analyze
# or groff those two checks are skipped with a message, not failed.
#
#   bash packaging/tests/install_test.sh BUILD_DIR
set -euo pipefail

build_dir=${1:?usage: install_test.sh BUILD_DIR}
fail() { echo "install_test: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/mxtls-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log" >&2; fail "cmake --install"; }

# ---- the installed file list, exactly
expected="bin/mxtls_exporter
etc/default/mxtls_exporter
etc/mxtls_exporter/config.yml
lib/systemd/system/mxtls_exporter.service
share/doc/mxtls_exporter/README.md
share/doc/mxtls_exporter/examples/mxtls_exporter.yml
share/man/man1/mxtls_exporter.1
share/mxtls_exporter/alerts/alertmanager.yml
share/mxtls_exporter/alerts/mxtls.rules.yml
share/mxtls_exporter/alerts/runbook.md
share/mxtls_exporter/dashboards/mxtls-overview.json"
actual=$(cd "$prefix" && find . \( -type f -o -type l \) | sed 's#^\./##' | LC_ALL=C sort)
if [[ $actual != "$expected" ]]; then
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  fail "installed files differ from the expected list (< expected, > installed)"
fi
echo "installed files: $(wc -l <<<"$actual"), as expected"
[[ -x $prefix/bin/mxtls_exporter ]] || fail "bin/mxtls_exporter is not executable"

# ---- the installed binary and config
"$prefix/bin/mxtls_exporter" --version | grep -q '^mxtls_exporter, version' || fail "--version"
"$prefix/bin/mxtls_exporter" --config.check --config.file="$prefix/etc/mxtls_exporter/config.yml" \
  >/dev/null || fail "the installed config does not pass --config.check"

# ---- installing again keeps an edited config and default file
echo "# edited by the operator" >>"$prefix/etc/mxtls_exporter/config.yml"
echo "# edited by the operator" >>"$prefix/etc/default/mxtls_exporter"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install2.log" || fail "second install"
grep -q 'edited by the operator' "$prefix/etc/mxtls_exporter/config.yml" ||
  fail "a second install overwrote the edited config"
grep -q 'edited by the operator' "$prefix/etc/default/mxtls_exporter" ||
  fail "a second install overwrote the edited default file"

# ---- paths agree: unit <-> default file <-> install layout (for the /usr, /etc layout)
unit=$prefix/lib/systemd/system/mxtls_exporter.service
grep -qx 'ExecStart=/usr/bin/mxtls_exporter $ARGS' "$unit" || fail "unit ExecStart is not /usr/bin/mxtls_exporter \$ARGS"
grep -qx 'EnvironmentFile=-/etc/default/mxtls_exporter' "$unit" || fail "unit does not read /etc/default/mxtls_exporter"
grep -q -- '--config.file=/etc/mxtls_exporter/config.yml' "$prefix/etc/default/mxtls_exporter" ||
  fail "the default file does not point at /etc/mxtls_exporter/config.yml"
grep -q '^Documentation=file:/usr/share/doc/mxtls_exporter/README.md$' "$unit" ||
  fail "unit Documentation= is not the installed README"
# The ARGS the default file sets are flags the binary accepts.
args=$(sed -n 's/^ARGS="\(.*\)"$/\1/p' "$prefix/etc/default/mxtls_exporter")
[[ -n $args ]] || fail "no ARGS in the default file"
# shellcheck disable=SC2086  # ARGS is word-split by systemd the same way
"$prefix/bin/mxtls_exporter" ${args//\/etc\/mxtls_exporter/$prefix\/etc\/mxtls_exporter} --config.check \
  >/dev/null || fail "the default file's ARGS are refused: $args"

# ---- the man page: renders cleanly, documents exactly the flags --help lists
man=$prefix/share/man/man1/mxtls_exporter.1
# The server's flags: --help against the man page without its CHECK section; the check
# subcommand's flags: check --help against that section.
man_text=$(sed 's/\\-/-/g' "$man")
flags_of() { grep -Eo -- '--[a-z][a-z.-]*' | sed 's/[.-]$//' | LC_ALL=C sort -u; }
help_flags=$("$prefix/bin/mxtls_exporter" --help | flags_of)
man_flags=$(sed '/^\.SH CHECK/,/^\.SH /d' <<<"$man_text" | flags_of)
if [[ $help_flags != "$man_flags" ]]; then
  diff <(echo "$help_flags") <(echo "$man_flags") >&2 || true
  fail "the man page and --help document different flags (< --help, > man page)"
fi
check_help_flags=$("$prefix/bin/mxtls_exporter" check --help | flags_of)
check_man_flags=$(sed -n '/^\.SH CHECK/,/^\.SH /p' <<<"$man_text" | flags_of)
if [[ $check_help_flags != "$check_man_flags" ]]; then
  diff <(echo "$check_help_flags") <(echo "$check_man_flags") >&2 || true
  fail "the man page's CHECK section and check --help document different flags (< --help, > man page)"
fi
echo "man page and check --help: the same $(wc -l <<<"$check_help_flags") flags"
echo "man page and --help: the same $(wc -l <<<"$help_flags") flags"
if command -v groff >/dev/null; then
  warnings=$(LC_ALL=C groff -man -ww -z "$man" 2>&1)
  [[ -z $warnings ]] || fail "groff warnings in the man page: $warnings"
  echo "man page renders without warnings"
else
  echo "SKIPPED: man page rendering (groff not installed: apt-get install groff-base)"
fi

# ---- systemd-analyze verify on the installed unit
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/unit"
  sed "s#^ExecStart=/usr/bin/mxtls_exporter #ExecStart=$prefix/bin/mxtls_exporter #" "$unit" \
    >"$work/unit/mxtls_exporter.service"
  grep -q "^ExecStart=$prefix/bin/" "$work/unit/mxtls_exporter.service" || fail "could not point ExecStart at the build"
  if ! out=$(cd "$work/unit" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify mxtls_exporter.service 2>&1); then
    fail "systemd-analyze verify: $out"
  fi
  [[ -z $out ]] || fail "systemd-analyze verify warns: $out"
  echo "systemd-analyze verify: clean ($(systemd-analyze --version | head -1))"
else
  echo "SKIPPED: systemd-analyze verify (systemd-analyze not installed: apt-get install systemd;" \
       "scripts/install-deps.sh --test installs it)"
fi
echo "install_test: ok"
