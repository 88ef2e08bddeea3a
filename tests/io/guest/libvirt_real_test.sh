#!/usr/bin/env bash
# The libvirt driver against a real libvirtd (full tier; tests/io/guest/CMakeLists.txt):
#   libvirt_real_test.sh TEST_BINARY [GTEST_ARGS...]
# Installs what is missing with apt-get as root: Debian's libvirt daemon with its QEMU
# driver, virsh and QEMU (about 30 packages, 40 MB to fetch). Not libvirt-daemon-system:
# that is the system service (its units, configuration, the libvirt-qemu user) and pulls
# in systemd; the test runs a libvirtd of its own. Then runs TEST_BINARY, which skips only
# when the daemon cannot start here. Exit 77 (ctest: skipped) when the packages are
# missing and cannot be installed.
set -uo pipefail
binary=$1
shift
packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)
skip() {
  echo "SKIPPED: $*" >&2
  exit 77
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || skip "${missing[*]} not installed, and installing needs root (apt-get)"
  echo "libvirt test: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    || skip "${missing[*]} could not be installed (apt-get)"
fi
exec "$binary" "$@"
