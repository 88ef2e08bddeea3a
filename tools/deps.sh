#!/usr/bin/env bash
# Installs the Debian 12 packages cmcl needs, only those missing (idempotent; a
# no-op in about a second when everything is present).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libboost-dev libboost-system-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libyaml-cpp-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev iproute2 util-linux procps
  clang libclang-rt-14-dev
)
# promtool: metrics_test checks the real /metrics text with `promtool check metrics`
# (issue 12: in the CI tier). Debian ships it only in the prometheus server package,
# about 19 MB to fetch and 96 MB installed; CMCL_WITHOUT_PROMTOOL=1 leaves it out (the
# test then skips, saying so).
if [ "${CMCL_WITHOUT_PROMTOOL:-0}" != 1 ]; then
  packages+=(prometheus)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "cmcl: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
