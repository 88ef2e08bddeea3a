#!/usr/bin/env bash
# cmcl's main job (README.md): install what is missing, build, and show the demo
# cluster. For now the demo validates the example configurations offline with
# `pkgctl config check` and runs the offline migration check (`pkgctl check
# --offline`) on moves that pass and moves that are refused; the live multi-node
# failover demo comes with the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMCL_CORE_TESTS=OFF \
  > /dev/null
cmake --build build/rel -j "${CMCL_JOBS:-2}" --target pkgctl
pkgctl=build/rel/pkgctl/pkgctl
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# Key files are secrets, so they are not in git (config/.gitignore): make each example's
# key on first use, as an operator would (INTERFACE.md "Configuration files").
for key in config/demo/cluster.key config/hpvm/cluster.key; do
  [ -f "$key" ] || (umask 077 && head -c 32 /dev/urandom > "$key")
done

say pkgctl config check config/demo/cluster.yaml
"$pkgctl" config check config/demo/cluster.yaml

say pkgctl config check config/hpvm/cluster.yaml
"$pkgctl" config check config/hpvm/cluster.yaml

# Offline migration validation: a refused command exits 1; the demo goes on.
check() { say pkgctl check "$@"; "$pkgctl" check "$@" || true; }
check guest1 --offline config/demo/cluster.yaml
check guest3 -n node3 --offline config/demo/cluster.yaml
check guest2 -n node3 --offline config/demo/cluster.yaml
check hpvm1 -n ivmcl02 --offline config/hpvm/cluster.yaml
