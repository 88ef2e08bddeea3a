#!/usr/bin/env bash
# man_lists_every_command_test.sh PKGCTL PKGCTL_MAN_PAGE
#
# pkgctl.8 and `pkgctl --help` cannot drift apart: every command the help lists under
# COMMANDS ("view", "node halt", ...) heads an entry of the man page, every alias it lists
# under ALIASES heads one, and every long option of every command's own help page
# (`pkgctl view --help`, ...) and of `pkgctl --help` appears in the man page.
set -euo pipefail
pkgctl=$1
page=$2
# shellcheck source=/dev/null
source "$(dirname "$0")/help_commands.sh"

# The page as plain words: no font escapes or quotes, "\-" as "-", the macro name of a
# request line dropped (".BI run \" PKG\"" -> "run  PKG").
plain=$(sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/"//g' \
            -e 's/^\.[A-Z][A-Z]* *//' "$page")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

commands=$(HelpCommands "$pkgctl")
[ "$(wc -l <<< "$commands")" -ge 15 ] || fail "found only these commands in pkgctl --help: $commands"
while read -r command; do
  grep -Eq "^$command( |$)" <<< "$plain" || fail "pkgctl.8 has no entry for \"$command\""
done <<< "$commands"

aliases=$(HelpAliases "$pkgctl")
[ "$(wc -l <<< "$aliases")" -ge 10 ] || fail "found only these aliases in pkgctl --help: $aliases"
while read -r alias; do
  grep -Eq "(^|, )$alias( |$)" <<< "$plain" || fail "pkgctl.8 has no entry for the alias $alias"
done <<< "$aliases"

first_words=$(cut -d' ' -f1 <<< "$commands" | sort -u)
for command in "" $first_words; do
  # shellcheck disable=SC2086 # an empty command is `pkgctl --help` itself
  options=$("$pkgctl" $command --help | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u)
  for option in $options; do
    grep -Fq -- "$option" <<< "$plain" || fail "pkgctl.8 does not mention $option (pkgctl $command --help)"
  done
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "pkgctl.8 lists all $(wc -l <<< "$commands") commands and $(wc -l <<< "$aliases") aliases of pkgctl --help, and every option"
