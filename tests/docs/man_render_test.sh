#!/usr/bin/env bash
# man_render_test.sh MAN_PAGE...
#
# Each man page formats with groff's man macros and every warning on (-ww), without a
# single diagnostic. Without groff (Debian: groff-base) the test is skipped (exit 77).
set -euo pipefail
if ! command -v groff > /dev/null 2>&1; then
  echo "SKIP: groff is not installed (Debian package groff-base); man pages not rendered"
  exit 77
fi
failures=0
for page in "$@"; do
  diagnostics=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || {
    echo "FAIL: groff exited $? on $page"
    failures=$((failures + 1))
  }
  if [ -n "$diagnostics" ]; then
    echo "FAIL: $page:"
    echo "$diagnostics"
    failures=$((failures + 1))
  fi
  # The text must not be empty: a page that lost its .TH or .SH renders nothing useful.
  lines=$(groff -man -Tutf8 -P-cbou "$page" 2> /dev/null | grep -c 'NAME\|SYNOPSIS\|DESCRIPTION') || true
  [ "$lines" -ge 3 ] || { echo "FAIL: $page has no NAME, SYNOPSIS and DESCRIPTION"; failures=$((failures + 1)); }
done
if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "man pages: $# rendered without warnings"
