#!/usr/bin/env bash
# cmcl's main job (README.md): install what is missing, build, then run a live 3-node
# cluster on loopback (config/demo/cluster.yaml) with three guest packages and narrate
# it: view; a move; a move refused by migration validation (the guest keeps running); a
# node crash and the failover, timed; a daemon-only crash where cmcl-guard fences; the
# events; then it stops everything it started.
#
# Each node runs as a "machine": a PID namespace (unshare) holding its cmcld, its
# cmcl-guard and its guests, so a node crash kills all of them at once (DESIGN.md
# section 7). Needs root (namespaces). Everything lives under /tmp/cmcl-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools/deps.sh
echo "building cmcld, cmcl-guard and pkgctl (a few minutes the first time) ..."
cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMCL_CORE_TESTS=OFF \
  > /dev/null
cmake --build build/rel -j "${CMCL_JOBS:-2}" --target cmcld cmcl-guard pkgctl > /dev/null
cmcld=$root/build/rel/cmcld/cmcld
guard=$root/build/rel/cmcld/guard/cmcl-guard
pkgctl_bin=$root/build/rel/pkgctl/pkgctl
config=$root/config/demo/cluster.yaml
demo=/tmp/cmcl-demo

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
run() { printf '\033[1m$ %s\033[0m\n' "$*"; "$@" || true; }
pkgctl() { "$pkgctl_bin" --socket "$demo/$node.sock" "$@"; }
ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }

declare -A init_pid daemon_pid launcher_pid
cleanup() {
  for n in node1 node2 node3; do
    [ -n "${init_pid[$n]:-}" ] && kill -9 "${init_pid[$n]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

power_on() {  # $1 = node: a PID namespace whose init reaps orphans
  local n=$1
  unshare --pid --fork --mount-proc --kill-child -- \
    /bin/sh -c "trap '' TERM INT; while :; do wait; sleep 1; done" > /dev/null 2>&1 &
  local u=$!
  disown "$u"  # No "Killed" job notice when the demo crashes this machine.
  for _ in $(seq 50); do
    init_pid[$n]=$(cat /proc/$u/task/$u/children 2>/dev/null | awk '{print $1}')
    [ -n "${init_pid[$n]}" ] && return 0
    sleep 0.1
  done
  echo "demo: cannot start the machine of $n" >&2
  exit 1
}

start_daemon() {  # $1 = node
  local n=$1
  nsenter --target "${init_pid[$n]}" --pid --mount -- "$cmcld" --config "$config" --node "$n" \
    --socket "$demo/$n.sock" --guard "$guard" --log-file "$demo/$n.log" &
  launcher_pid[$n]=$!
  disown "${launcher_pid[$n]}"
  for _ in $(seq 100); do
    daemon_pid[$n]=$(cat /proc/${launcher_pid[$n]}/task/${launcher_pid[$n]}/children 2>/dev/null \
                     | awk '{print $1}')
    [ -n "${daemon_pid[$n]}" ] && "$pkgctl_bin" --socket "$demo/$n.sock" view > /dev/null 2>&1 \
      && return 0
    sleep 0.1
  done
  echo "demo: cmcld of $n did not start; its log:" >&2
  tail -20 "$demo/$n.log" >&2
  exit 1
}

# status_of PKG as seen by $node: "up node2", "down -", ...
status_of() {
  pkgctl -o json view | tr '{' '\n' | grep "\"name\": *\"$1\"" | head -1 |
    sed -n 's/.*"status": *"\([a-z_]*\)".*"node": *\(null\|"\([a-z0-9]*\)"\).*/\1 \3/p'
}
wait_up() {  # PKG [NOT_ON]: until PKG is up (on a node other than NOT_ON), at most 60 s
  for _ in $(seq 1200); do
    local s; s=$(status_of "$1")
    case "$s" in "up "*) [ "$s" != "up ${2:-}" ] && { echo "$s"; return 0; } ;; esac
    sleep 0.05
  done
  echo "demo: $1 did not come up${2:+ away from $2}" >&2
  return 1
}

# Only our own leftovers: earlier demo runs stopped everything they started.
rm -rf "$demo"
mkdir -p "$demo/disks"
[ -f config/demo/cluster.key ] || (umask 077 && head -c 32 /dev/urandom > config/demo/cluster.key)

say "Starting a 3-node cluster on 127.0.0.1-3 (node_timeout 2s), each node in its own PID namespace"
for n in node1 node2 node3; do power_on "$n"; start_daemon "$n"; done
node=node1
for p in guest1 guest2 guest3; do wait_up "$p" > /dev/null; done
run pkgctl view

say "Move guest1 to node2: validate, halt on node1, start on node2"
run pkgctl move guest1 -n node2

# node3 sees guest3's disk with another WWID than node1 and node2 do.
from=$(status_of guest3 | awk '{print $2}')
to=$([ "$from" = node3 ] && echo node1 || echo node3)
say "Move guest3 to $to: $to's WWID for guest3's disk differs from $from's, so nothing is halted"
run pkgctl move guest3 -n "$to"
echo "guest3 is still: $(status_of guest3)"

say "Readiness: which failovers would be refused right now, and why"
run pkgctl readiness

victim=$(status_of guest2 | awk '{print $2}')
say "Node crash: every process of $victim (cmcld, cmcl-guard, guests) killed at once"
node=$([ "$victim" = node1 ] && echo node3 || echo node1)
t0=$(ms)
kill -9 "${init_pid[$victim]}"; init_pid[$victim]=""
after=$(wait_up guest2 "$victim")
t1=$(ms)
echo "guest2 is $after, $((t1 - t0)) ms after $victim crashed (lease 2 s, then the failover)"
run pkgctl view

say "Bring $victim back"
power_on "$victim"; start_daemon "$victim"
sleep 2
run pkgctl view

# The coordinator's own node, if it runs a package: losing the coordinator must cost no
# other node its guests (a new one is elected and grants before their leases run out,
# docs/DESIGN_CHANGES.md).
coordinator=$(pkgctl -o json view | sed -n 's/.*"coordinator": *"\([a-z0-9]*\)".*/\1/p')
holder=""
for p in guest1 guest2 guest3; do
  h=$(status_of "$p" | awk '{print $2}')
  if [ -n "$h" ] && [ "$h" = "$coordinator" ]; then holder=$h; pkg=$p; break; fi
done
if [ -z "$holder" ]; then  # The coordinator runs no package: crash guest1's node.
  pkg=guest1; holder=$(status_of guest1 | awk '{print $2}')
fi
node=$(for n in node1 node2 node3; do [ "$n" != "$holder" ] && echo "$n"; done | head -1)
declare -A records
for p in guest1 guest2 guest3; do
  records[$p]=$(wc -l < "$demo/disks/$p.img.ledger" 2>/dev/null || echo 0)
done
say "Daemon-only crash: kill -9 of cmcld on $holder (coordinator: $coordinator); its guard fences $pkg by the lease deadline"
t0=$(ms)
kill -9 "${daemon_pid[$holder]}"
after=$(wait_up "$pkg" "$holder")
t1=$(ms)
echo "$pkg is $after, $((t1 - t0)) ms after $holder's cmcld died"
echo "coordinator now: $(pkgctl -o json view | sed -n 's/.*"coordinator": *"\([a-z0-9]*\)".*/\1/p')"
for p in guest1 guest2 guest3; do
  [ "$p" = "$pkg" ] && continue
  now=$(wc -l < "$demo/disks/$p.img.ledger" 2>/dev/null || echo 0)
  echo "$p: $([ "$now" = "${records[$p]}" ] && echo "never stopped" || echo "STOPPED AND STARTED AGAIN") ($(status_of "$p"))"
done
echo "$holder's cmcl-guard log:"
sed 's/^/    /' "$demo/$holder/guard.log" 2>/dev/null || true
echo "$pkg's disk ledger (start/stop/kill, CLOCK_BOOTTIME ms, node, epoch, pid):"
sed 's/^/    /' "$demo/disks/$pkg.img.ledger" 2>/dev/null || true

run pkgctl view

say "The cluster's event history"
run pkgctl events --limit 25

say "Stopping everything the demo started"
for n in node1 node2 node3; do
  [ -n "${daemon_pid[$n]:-}" ] && kill -TERM "${daemon_pid[$n]}" 2>/dev/null || true
done
sleep 3
cleanup
init_pid=()
echo "done. Logs are in $demo/*.log"
