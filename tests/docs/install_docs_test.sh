#!/usr/bin/env bash
# install_docs_test.sh BUILD_DIR
#
# Installs the component docs of the build into a temporary prefix, then with DESTDIR
# and --prefix /usr: the man pages land in share/man/man8 and man5, the completion in
# share/bash-completion/completions/pkgctl, and both work from there (man -l formats
# each page when man is installed; the installed completion defines _pkgctl for pkgctl).
set -euo pipefail
build=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cmcl-install-docs-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

check_tree() {  # check_tree ROOT: ROOT is DESTDIR + PREFIX
  local root=$1 page
  for page in man8/cmcld.8 man8/cmcl-guard.8 man8/pkgctl.8 man5/cmcl.yaml.5; do
    [ -f "$root/share/man/$page" ] || { fail "$root/share/man/$page is missing"; continue; }
    if command -v man > /dev/null 2>&1; then
      MANWIDTH=80 man -l "$root/share/man/$page" 2> /dev/null | grep -q NAME \
        || fail "man -l $root/share/man/$page prints no NAME section"
    fi
  done
  local completion=$root/share/bash-completion/completions/pkgctl
  if [ ! -f "$completion" ]; then
    fail "$completion is missing"
  else
    bash -c "source '$completion' && complete -p pkgctl" 2> /dev/null | grep -q _pkgctl \
      || fail "the installed completion does not complete pkgctl with _pkgctl"
  fi
}

cmake --install "$build" --component docs --prefix "$tmp/prefix" > "$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "cmake --install --component docs --prefix failed"; exit 1; }
check_tree "$tmp/prefix"

DESTDIR=$tmp/destdir cmake --install "$build" --component docs --prefix /usr \
  > "$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "DESTDIR=... cmake --install --component docs failed"; exit 1; }
check_tree "$tmp/destdir/usr"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "install: man pages and completion under --prefix and DESTDIR"
