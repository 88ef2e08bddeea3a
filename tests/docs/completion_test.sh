#!/usr/bin/env bash
# completion_test.sh PKGCTL COMPLETION_SCRIPT SOURCE_DIR
#
# Sources the bash completion of pkgctl and calls its function as bash would, with
# COMP_WORDS and COMP_CWORD set, checking COMPREPLY: the commands (every one that
# `pkgctl --help` lists), subcommands, options per command, option values, and package
# and node names - from a daemon (a fake pkgctl on PATH that answers `view --format
# line`), from the cluster file through the real pkgctl's `config check`, from the file
# alone when it does not check, and within the timeout when pkgctl hangs.
set -euo pipefail
pkgctl=$1
completion=$2
source_dir=$3
# shellcheck source=/dev/null
source "$(dirname "$0")/help_commands.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cmcl-completion-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# shellcheck source=/dev/null
source "$completion"

# complete WORD...: the completions of the last WORD (may be empty) after the others,
# sorted, on one line. The name cache is dropped first, so each case asks again.
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  unset _pkgctl_cache_key
  COMPREPLY=()
  _pkgctl
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

# expect DESCRIPTION EXPECTED WORD...: the completions are exactly EXPECTED (sorted).
expect() {
  local what=$1 expected=$2
  shift 2
  local got
  got=$(complete_words "$@")
  expected=$(tr ' ' '\n' <<< "$expected" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
  [ "$got" = "$expected" ] || fail "$what: expected \"$expected\", got \"$got\""
}

export CMCL_CONFIG=$tmp/none.yaml  # No cluster file unless a case sets one.
export CMCL_SOCKET=$tmp/none.sock

# 1. Commands, subcommands and options; no daemon and no file needed.
expect "top-level commands" \
  "check clear cluster config disable enable events explain guest halt inventory move node package readiness run view" \
  pkgctl ""
expect "a command by prefix" "node" pkgctl no
expect "global options" "--help --output --socket" pkgctl --
expect "commands after global options" "readiness run" pkgctl -o json --socket /x r
expect "--output values" "json table" pkgctl -o ""
expect "node subcommands" "halt maintenance readmit run" pkgctl node ""
expect "cluster subcommands" "arm disarm halt run" pkgctl cluster ""
expect "config subcommands" "apply check show" pkgctl config ""
expect "package subcommands" "maintenance" pkgctl package ""
expect "guest subcommands" "import" pkgctl guest ""
expect "options of guest import" "--dir --help --libvirt --nodes" pkgctl guest import --
expect "nothing after --libvirt" "" pkgctl guest import --libvirt ""
expect "inventory subcommands" "probe" pkgctl inventory ""
expect "options of inventory probe" "--help --root" pkgctl inventory probe --
expect "options of move" \
  "--help --memory --no-wait --node --preview --timeout --vcpus" pkgctl move hpvm1 --
expect "options of run" \
  "--help --keep-switching --no-wait --node --preview --timeout" pkgctl run --
expect "options of node maintenance" "--freeze --help --no-wait --preview --timeout" \
  pkgctl node maintenance n1 on --
expect "options of cluster halt" "--force --help --no-wait --timeout" pkgctl cluster halt --
expect "options of check" "--help --node --offline" pkgctl check hpvm1 --
expect "view --format values" "hpvmstatus line table" pkgctl view --format ""
expect "node maintenance NODE on|off" "off on" pkgctl node maintenance n1 ""
expect "nothing after --timeout" "" pkgctl move hpvm1 --timeout ""

# Every command of pkgctl --help is completed.
top=" $(complete_words pkgctl "") "
for command in $(HelpCommands "$pkgctl" | cut -d' ' -f1 | sort -u); do
  [[ $top == *" $command "* ]] || fail "pkgctl --help lists \"$command\", the completion does not"
done
for line in "node:n" "cluster:c" "config:co" "package:p" "guest:g" "inventory:i"; do
  command=${line%%:*}
  subs=" $(complete_words pkgctl "$command" "") "
  for sub in $(HelpCommands "$pkgctl" | awk -v c="$command" '$1 == c { print $2 }'); do
    [[ $subs == *" $sub "* ]] || fail "pkgctl --help lists \"$command $sub\", the completion does not"
  done
done

# 2. Names from a daemon: a fake pkgctl on PATH answers view --format line.
mkdir -p "$tmp/bin"
cat > "$tmp/bin/pkgctl" << 'FAKE'
#!/usr/bin/env bash
# A stand-in for pkgctl with a daemon: the names of `view --format line` only.
[[ " $* " == *" view --format line"* ]] || exit 2
echo "name=ivmcl"
echo "node:ivmcl01|name=ivmcl01"
echo "node:ivmcl01|interface:1|address=127.0.0.1:7101"
echo "node:ivmcl02|name=ivmcl02"
echo "package:hpvm1|name=hpvm1"
echo "package:hpvm1|node:ivmcl01|switching=enabled"
echo "package:hpvm1|service:guestmon|status=up"
echo "package:hpvm2|name=hpvm2"
FAKE
chmod +x "$tmp/bin/pkgctl"
PATH=$tmp/bin:$PATH
expect "packages from the daemon" "hpvm1 hpvm2" pkgctl run ""
expect "packages by prefix" "hpvm2" pkgctl halt hpvm2
expect "nodes for -n" "ivmcl01 ivmcl02" pkgctl move hpvm1 -n ""
expect "nodes for --owner-is-down" "ivmcl01 ivmcl02" pkgctl clear hpvm1 --owner-is-down ""
expect "nodes for node halt" "ivmcl01 ivmcl02" pkgctl node halt ""
expect "packages and nodes for view" "hpvm1 hpvm2 ivmcl01 ivmcl02" pkgctl view ""
expect "packages for package maintenance" "hpvm1 hpvm2" pkgctl package maintenance ""
expect "one package only" "" pkgctl run hpvm1 ""
# The fake sees the socket the command line names.
cat > "$tmp/bin/pkgctl" << 'FAKE'
#!/usr/bin/env bash
[ "$1 $2" = "--socket /elsewhere.sock" ] && echo "package:other|name=other"
exit 0
FAKE
expect "the socket of the command line" "other" pkgctl --socket /elsewhere.sock explain ""

# 3. No daemon: names from the cluster file, through the real pkgctl's config check.
cp -r "$source_dir/config/demo" "$tmp/config"
mkdir -p "$tmp/packages"
cp -r "$source_dir/packages/guest1" "$source_dir/packages/guest2" "$source_dir/packages/guest3" \
  "$tmp/packages/"
ln -s "$source_dir/packages/drivers" "$tmp/packages/drivers"
mkdir -p "$tmp/config/demo"
mv "$tmp/config/cluster.yaml" "$tmp/config/demo/cluster.yaml"
head -c 32 /dev/urandom > "$tmp/config/demo/cluster.key"
chmod 600 "$tmp/config/demo/cluster.key"
cat > "$tmp/bin/pkgctl" << FAKE
#!/usr/bin/env bash
# No daemon (exit 3 on view); everything else is the real pkgctl.
[[ " \$* " == *" view "* ]] && exit 3
exec "$pkgctl" "\$@"
FAKE
export CMCL_CONFIG=$tmp/config/demo/cluster.yaml
"$pkgctl" config check "$CMCL_CONFIG" > /dev/null || fail "the copied demo cluster does not check"
expect "packages from config check" "guest1 guest2 guest3" pkgctl run ""
expect "nodes from config check" "node1 node2 node3" pkgctl node run ""
expect "check --offline: PKG first" "guest1 guest2 guest3" pkgctl check --offline ""
expect "check PKG --offline: the file" "$tmp/config/demo/cluster.yaml" \
  pkgctl check guest1 --offline "$tmp/config/demo/cluster.y"
# The file a command line names wins over $CMCL_CONFIG.
CMCL_CONFIG=$tmp/none.yaml
expect "nodes from the file of check --offline" "node1 node2 node3" \
  pkgctl check guest1 --offline "$tmp/config/demo/cluster.yaml" -n ""
export CMCL_CONFIG=$tmp/config/demo/cluster.yaml

# 4. A cluster file that does not check (here: no key file): read directly.
rm "$tmp/config/demo/cluster.key"
expect "packages from the file alone" "guest1 guest2 guest3" pkgctl explain ""
expect "nodes from the file alone" "node1 node2 node3" pkgctl move guest1 -n ""

# 5. A pkgctl that hangs: the completion gives up within its timeout.
cat > "$tmp/bin/pkgctl" << 'FAKE'
#!/usr/bin/env bash
sleep 30
FAKE
export CMCL_CONFIG=$tmp/none.yaml
_PKGCTL_COMPLETION_TIMEOUT=1
start=$SECONDS
expect "a hanging pkgctl gives no names" "" pkgctl run ""
elapsed=$((SECONDS - start))
[ "$elapsed" -le 4 ] || fail "completion with a hanging pkgctl took ${elapsed}s"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "completion: commands, subcommands, options and names as expected"
