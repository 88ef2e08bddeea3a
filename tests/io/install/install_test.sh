#!/usr/bin/env bash
# install_test.sh BUILD_DIR CMCLD CMCL_GUARD PKGCTL
#
# Installs the build into a temporary prefix, then again with DESTDIR and --prefix /usr,
# and checks what an operator relies on: the programs run from where they were
# installed, every pkgctl alias is a relative symlink to pkgctl, the man pages and
# pkgctl's completion are where man and bash look, the driver is executable, the
# examples hold together (a cluster file checks with the installed pkgctl against the
# installed drivers), the unit stops cmcld alone and gives it time, and no cluster key
# is shipped. Everything lives in one temporary folder, removed on exit.
set -euo pipefail
build=$1
shift
for built in "$@"; do
  [ -x "$built" ] || { echo "FAIL: $built is not built (build cmcld cmcl-guard pkgctl)"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cmcl-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...: runs COMMAND, records a failure when it fails
  local what=$1
  shift
  "$@" > /dev/null 2>&1 || fail "$what"
}

aliases=(cmviewcl cmrunpkg cmhaltpkg cmmodpkg cmrunnode cmhaltnode cmruncl cmhaltcl
         cmcheckconf cmapplyconf cmgetconf hpvmmigrate hpvmstatus)

# check_tree ROOT PREFIX: ROOT is where the files are (DESTDIR + PREFIX), PREFIX what
# the installed files must name (the unit's ExecStart).
check_tree() {
  local root=$1 prefix=$2
  for program in sbin/cmcld sbin/cmcl-guard bin/pkgctl; do
    [ -f "$root/$program" ] && [ ! -L "$root/$program" ] && [ -x "$root/$program" ] \
      || fail "$root/$program is not an executable file"
  done
  for alias in "${aliases[@]}"; do
    local link=$root/bin/$alias
    if [ ! -L "$link" ]; then
      fail "$link is not a symlink"
    elif [ "$(readlink "$link")" != pkgctl ]; then
      fail "$link points to $(readlink "$link"), not to the relative pkgctl"
    elif [ "$(realpath "$link")" != "$(realpath "$root/bin/pkgctl")" ]; then
      fail "$link does not resolve to $root/bin/pkgctl"
    fi
  done
  check "installed pkgctl --help" "$root/bin/pkgctl" --help
  check "installed cmviewcl --help" "$root/bin/cmviewcl" --help
  check "installed cmcld --help" "$root/sbin/cmcld" --help
  # No grep -q: it stops reading early, and pkgctl then dies of SIGPIPE under pipefail.
  "$root/bin/pkgctl" --help | grep pkgctl > /dev/null || fail "pkgctl --help does not name pkgctl"

  local drivers=$root/lib/cmcl/drivers
  [ -x "$drivers/process" ] || fail "$drivers/process is not executable"
  [ "$(stat -c %a "$drivers/process" 2> /dev/null)" = 755 ] || fail "process driver mode is not 755"
  [ -x "$drivers/libvirt" ] || fail "$drivers/libvirt is not executable"
  [ -f "$drivers/README.md" ] || fail "$drivers/README.md is missing"

  local unit=$root/lib/systemd/system/cmcld.service
  if [ ! -f "$unit" ]; then
    fail "$unit is missing"
  else
    grep -qx 'KillMode=process' "$unit" || fail "the unit has no KillMode=process"
    grep -qE '^TimeoutStopSec=[0-9]{3,}$' "$unit" || fail "the unit has no long TimeoutStopSec"
    grep -qx 'RuntimeDirectory=cmcld' "$unit" || fail "the unit has no RuntimeDirectory=cmcld"
    grep -q "^ExecStart=$prefix/sbin/cmcld --config \${CMCL_CONFIG} --node \${CMCL_NODE}" \
      "$unit" || fail "the unit's ExecStart is not $prefix/sbin/cmcld with config and node"
    grep -q '^EnvironmentFile=-/etc/default/cmcld$' "$unit" || fail "no EnvironmentFile"
    ! grep -q '@' "$unit" || fail "the unit still has a template @VARIABLE@"
  fi

  local page
  for page in man8/cmcld.8 man8/cmcl-guard.8 man8/pkgctl.8 man5/cmcl.yaml.5; do
    [ -f "$root/share/man/$page" ] || fail "$root/share/man/$page is missing"
  done
  [ -f "$root/share/bash-completion/completions/pkgctl" ] \
    || fail "$root/share/bash-completion/completions/pkgctl is missing"

  local examples=$root/share/cmcl/examples
  for file in config/demo/cluster.yaml config/hpvm/cluster.yaml packages/guest1/package.yaml \
              packages/guest2/package.yaml packages/guest3/package.yaml \
              packages/hpvm1/package.yaml cmcld.default; do
    [ -f "$examples/$file" ] || fail "$examples/$file is missing"
  done
  [ -x "$examples/packages/guest1/run.sh" ] || fail "the example run.sh is not executable"
  [ -x "$examples/packages/drivers/process" ] || fail "the examples' driver_dir does not lead to the driver"
  local keys
  keys=$(find "$root" -name '*.key')
  [ -z "$keys" ] || fail "a key file is installed: $keys"
}

# 1. --prefix: the examples hold together with the installed pkgctl and drivers.
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "cmake --install --prefix failed"; exit 1; }
check_tree "$prefix" "$prefix"
demo=$prefix/share/cmcl/examples/config/demo
head -c 32 /dev/urandom > "$demo/cluster.key"
chmod 600 "$demo/cluster.key"
"$prefix/bin/pkgctl" config check "$demo/cluster.yaml" > "$tmp/check.out" 2>&1 \
  || { cat "$tmp/check.out"; fail "the installed demo cluster does not pass config check"; }
# A driver that is not found is only a warning to config check: the check must be clean.
! grep -q warning "$tmp/check.out" || { cat "$tmp/check.out"; fail "config check warns"; }
rm -f "$demo/cluster.key"

# Installing again over an installation works (the links are replaced, not nested).
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "a second cmake --install --prefix failed"; }
[ ! -e "$prefix/bin/pkgctl/cmviewcl" ] && [ ! -e "$prefix/lib/cmcl/drivers/drivers" ] \
  || fail "a second install nested a link"
check_tree "$prefix" "$prefix"

# 2. DESTDIR: everything lands under DESTDIR, and what is installed names /usr.
destdir=$tmp/destdir
probes=(/usr/bin/cmviewcl /usr/lib/systemd/system/cmcld.service /usr/share/cmcl/examples)
existed=()
for probe in "${probes[@]}"; do
  [ -e "$probe" ] || [ -L "$probe" ] && existed+=("$probe")
done
DESTDIR=$destdir cmake --install "$build" --prefix /usr > "$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "DESTDIR=... cmake --install --prefix /usr failed"; exit 1; }
check_tree "$destdir/usr" /usr
for probe in "${probes[@]}"; do
  if [[ " ${existed[*]} " != *" $probe "* ]] && { [ -e "$probe" ] || [ -L "$probe" ]; }; then
    fail "the DESTDIR install wrote $probe"
  fi
done
# The manifest (BUILD/install_manifest.txt) lists paths without DESTDIR; each must be there.
manifest=$build/install_manifest.txt
if [ ! -s "$manifest" ]; then
  fail "cmake --install wrote no $manifest"
else
  while read -r listed; do
    [[ $listed == /usr/* ]] || fail "the manifest lists $listed, outside the prefix"
    [ -e "$destdir$listed" ] || [ -L "$destdir$listed" ] || fail "$destdir$listed is missing"
  done < "$manifest"
  for listed in bin/cmviewcl lib/systemd/system/cmcld.service \
                share/cmcl/examples/packages/drivers; do
    grep -qx "/usr/$listed" "$manifest" || fail "/usr/$listed is not in the install manifest"
  done
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "install: --prefix and DESTDIR trees complete"
