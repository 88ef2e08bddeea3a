#!/usr/bin/env bash
# The dashboard in headless Chromium (full tier; tests/browser/CMakeLists.txt):
#   run.sh WORK_DIR TEST_BINARY
# Installs what is missing (Debian's chromium, node and npm with apt-get as root;
# playwright-core, pinned, with npm into WORK_DIR/node_modules, never into the source
# tree), then runs TEST_BINARY, which starts a real 3-node cluster and drives the page.
# Exit 77 (ctest: skipped) only when Chromium or playwright-core cannot be installed.
set -uo pipefail
work=$1
binary=$2
playwright_version=1.65.1
skip() {
  echo "SKIPPED: $*" >&2
  exit 77
}

apt_install() {
  [ "$(id -u)" -eq 0 ] || return 1
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"
}

if [ ! -x /usr/bin/chromium ]; then
  echo "browser test: installing Debian's chromium"
  apt_install chromium || skip "Debian's chromium is not installed and could not be (apt-get)"
fi
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "browser test: installing node and npm"
  apt_install nodejs npm || skip "node/npm are missing and could not be installed (apt-get)"
fi
modules=$work/node_modules
installed=$(node -p "try { require('$modules/playwright-core/package.json').version }
                     catch (e) { '' }" 2> /dev/null)
if [ "$installed" != "$playwright_version" ]; then
  echo "browser test: installing playwright-core@$playwright_version into $work"
  mkdir -p "$work"
  # npm installs next to the nearest package.json: this one keeps it in $work.
  [ -f "$work/package.json" ] || echo '{"private": true}' > "$work/package.json"
  (cd "$work" && npm install --no-save --no-package-lock --no-audit --no-fund \
     --loglevel=error "playwright-core@$playwright_version") \
    || skip "playwright-core@$playwright_version could not be installed with npm"
fi

export CMCL_BROWSER_MODULES=$modules
export CMCL_BROWSER_ARTIFACTS=$work
exec "$binary"
