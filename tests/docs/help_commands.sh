# shellcheck shell=bash
# help_commands.sh: sourced by the tests of tests/docs. HelpCommands PKGCTL prints every
# command that `pkgctl --help` lists under COMMANDS, one per line, with its subcommand
# ("view", "node halt", "cluster arm", ...): the lines indented by exactly four spaces,
# split at " / ", each expanded over its "a|b|c" alternatives, up to the first word that
# is not a lower-case command word (PKG, [-n, --for, ...).
HelpCommands() {
  local help line part word
  help=$("$1" --help)
  local in_commands=0
  while IFS= read -r line; do
    if [[ $line =~ ^[A-Z] ]]; then
      [ "$line" = COMMANDS ] && in_commands=1 || in_commands=0
      continue
    fi
    if [ "$in_commands" != 1 ] || ! [[ $line =~ ^\ \ \ \ [a-z] ]]; then continue; fi
    line=${line#    }
    while [ -n "$line" ]; do
      part=${line%% / *}
      if [ "$part" = "$line" ]; then line=""; else line=${line#* / }; fi
      local -a prefix=() alternatives=()
      for word in $part; do
        if [[ $word =~ ^[a-z]+$ ]]; then
          prefix+=("$word")
        elif [[ $word =~ ^[a-z]+(\|[a-z]+)+$ ]]; then
          IFS='|' read -r -a alternatives <<< "$word"
          break
        else
          break
        fi
      done
      if [ ${#alternatives[@]} -gt 0 ]; then
        for word in "${alternatives[@]}"; do echo "${prefix[*]} $word"; done
      elif [ ${#prefix[@]} -gt 0 ]; then
        echo "${prefix[*]}"
      fi
    done
  done <<< "$help"
}

# HelpAliases PKGCTL: the alias names `pkgctl --help` lists under ALIASES: the first word
# of each usage line, and a second usage on the same line ("cmrunnode [NODE], cmhaltnode").
HelpAliases() {
  "$1" --help | awk '/^[A-Z]/ { section = $0; next }
                     section == "ALIASES" && /^        [a-z]/ {
                       print $1
                       if (match($0, /\], (cm|hpvm)[a-z]+ /)) print substr($0, RSTART + 3, RLENGTH - 4)
                     }' | sort -u
}
