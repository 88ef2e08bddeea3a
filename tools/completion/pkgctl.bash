# bash completion for pkgctl(8), the cmcl operator's tool.
#
# Installed by `cmake --install` as share/bash-completion/completions/pkgctl (loaded on
# demand by the bash-completion package); or source it by hand:
#   source tools/completion/pkgctl.bash
#
# Completes the global options, the commands and their subcommands, each command's
# options, and package and node names. Names come from the running cluster
# (`pkgctl view --format line` on the socket the command line names, else $CMCL_SOCKET,
# else the default), else from the cluster file (`pkgctl -o json config check` of
# $CMCL_CONFIG, else /etc/cmcl/cmcl.yaml; when that file does not check - e.g. the key
# file is not readable - its node names and package folders are read directly). Every
# call of pkgctl is bounded by a timeout, so completion never hangs on a stuck daemon;
# the names are kept for a few seconds. Needs nothing but bash (not the bash-completion
# package's helpers).
#
# Tested by tests/docs/completion_test.sh; keep it in step with `pkgctl COMMAND --help`.

# Seconds a call of pkgctl may take, and how long its names are kept.
_PKGCTL_COMPLETION_TIMEOUT=${_PKGCTL_COMPLETION_TIMEOUT:-2}
_PKGCTL_COMPLETION_CACHE_SECONDS=5

_pkgctl_run_bounded() {
  if command -v timeout > /dev/null 2>&1; then
    timeout "$_PKGCTL_COMPLETION_TIMEOUT" "$@" < /dev/null 2> /dev/null
  else
    "$@" < /dev/null 2> /dev/null
  fi
}

# The node and package names of a cluster file, read without pkgctl: the `name:` of each
# entry under the top-level `nodes:`, and the `name:` of each package folder's
# package.yaml under `packages:`. Prints "node NAME" and "package NAME" lines.
_pkgctl_names_from_yaml() {
  local file=$1 dir folder line name
  [ -r "$file" ] || return 0
  dir=${file%/*}
  [ "$dir" = "$file" ] && dir=.
  # item_indent: the indentation of the entries of `nodes:` (deeper lists are inventory).
  local section="" item_indent=""
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    if [[ $line =~ ^([a-z_]+): ]]; then
      section=${BASH_REMATCH[1]}
      item_indent=""
      continue
    fi
    if [ "$section" = nodes ] && [[ $line =~ ^([[:space:]]*)-[[:space:]]*\{?[[:space:]]*name:[[:space:]]*([A-Za-z0-9][A-Za-z0-9_.-]*) ]]; then
      [ -n "$item_indent" ] || item_indent=${#BASH_REMATCH[1]}
      ((${#BASH_REMATCH[1]} == item_indent)) && printf 'node %s\n' "${BASH_REMATCH[2]}"
    elif [ "$section" = packages ] && [[ $line =~ ^[[:space:]]*-[[:space:]]*([^[:space:]]+) ]]; then
      folder=${BASH_REMATCH[1]}
      folder=${folder%\"}
      folder=${folder#\"}
      [[ $folder == /* ]] || folder=$dir/$folder
      name=""
      [ -r "$folder/package.yaml" ] &&
        name=$(sed -n 's/^name:[[:space:]]*\([A-Za-z0-9][A-Za-z0-9_.-]*\).*/\1/p' \
          "$folder/package.yaml" 2> /dev/null | head -n 1)
      [ -n "$name" ] || name=${folder##*/}
      printf 'package %s\n' "$name"
    fi
  done < "$file"
}

# Prints "node NAME" and "package NAME" lines for the cluster, from the daemon when one
# answers on SOCKET, else from CONFIG. PKGCTL SOCKET CONFIG
_pkgctl_fetch_names() {
  local pkgctl=$1 socket=$2 config=$3 out line
  local -a socket_flag=()
  [ -n "$socket" ] && socket_flag=(--socket "$socket")
  if out=$(_pkgctl_run_bounded "$pkgctl" "${socket_flag[@]}" view --format line) &&
    [ -n "$out" ]; then
    while IFS= read -r line; do
      [[ $line =~ ^(node|package):[^|]*\|name=(.+)$ ]] &&
        printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    done <<< "$out"
    return 0
  fi
  if out=$(_pkgctl_run_bounded "$pkgctl" -o json config check "$config") &&
    [[ $out == *'"nodes":['* ]]; then
    # One compact JSON object: {"file",...,"nodes":[{"name":...}],"packages":[{"name":
    # ..., "nodes":["..."]}],"warnings":[...]}; only objects carry "name".
    local nodes=${out#*\"nodes\":\[} packages=${out#*\"packages\":\[}
    nodes=${nodes%%\"packages\":\[*}
    packages=${packages%%\"warnings\":*}
    local kind text
    for kind in node package; do
      [ "$kind" = node ] && text=$nodes || text=$packages
      while [[ $text =~ \"name\":\"([^\"]+)\" ]]; do
        printf '%s %s\n' "$kind" "${BASH_REMATCH[1]}"
        text=${text#*"${BASH_REMATCH[0]}"}
      done
    done
    return 0
  fi
  _pkgctl_names_from_yaml "$config"
}

# Sets _pkgctl_words to the names of KIND (node, package or both); the names are cached
# for a few seconds per socket and file. Not to be called in a subshell (the cache would
# be lost). KIND PKGCTL SOCKET CONFIG
_pkgctl_names() {
  local kind=$1 key="$3|$4" now=${EPOCHSECONDS:-$SECONDS}
  if [ "$key" != "${_pkgctl_cache_key-}" ] ||
    ((now - ${_pkgctl_cache_time:-0} > _PKGCTL_COMPLETION_CACHE_SECONDS)); then
    _pkgctl_cache_names=$(_pkgctl_fetch_names "$2" "$3" "$4")
    _pkgctl_cache_key=$key
    _pkgctl_cache_time=$now
  fi
  _pkgctl_words=""
  local entry_kind name
  while read -r entry_kind name; do
    [ -n "$name" ] || continue
    if [ "$kind" = both ] || [ "$kind" = "$entry_kind" ]; then
      _pkgctl_words+="$name "
    fi
  done <<< "$_pkgctl_cache_names"
}

# COMPREPLY: the files and folders that start with WORD.
_pkgctl_files() {
  compopt -o filenames 2> /dev/null
  mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

_pkgctl() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # pkgctl itself: the word typed when it is a path to an executable, else from PATH.
  local pkgctl=${COMP_WORDS[0]}
  [[ $pkgctl == */* && -x $pkgctl ]] || pkgctl=pkgctl

  local commands="view run halt move check readiness events enable disable clear explain
    node package cluster config guest inventory"
  local global_opts="--socket -o --output -h --help"
  local wait_opts="--no-wait --timeout"

  # Split the words before the cursor: global options (and their values), the command,
  # its subcommand, and the positional words after them.
  local socket="" config=${CMCL_CONFIG:-/etc/cmcl/cmcl.yaml}
  local command="" sub="" i word offline=0
  local -a positional=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    case $word in
      --socket)
        socket=${COMP_WORDS[i + 1]-}
        ((i++))
        continue
        ;;
      -o | --output)
        ((i++))
        continue
        ;;
      --socket=*)
        socket=${word#--socket=}
        continue
        ;;
      # Options of commands that take a value: skip the value.
      -n | --node | --vcpus | --memory | --timeout | --limit | -l | --format | --for | --owner-is-down \
        | --libvirt | -d | --dir | --nodes | --root)
        ((i++))
        continue
        ;;
      --offline)
        offline=1
        continue
        ;;
      -*) continue ;;
    esac
    if [ -z "$command" ]; then
      command=$word
    elif [ -z "$sub" ] && [[ $command =~ ^(node|package|cluster|config|guest|inventory)$ ]]; then
      sub=$word
    else
      positional+=("$word")
    fi
  done
  # `check PKG ... [CLUSTER_YAML]` and `config check|apply [CLUSTER_YAML]` name the file.
  if [ "$command" = check ] && ((${#positional[@]} > 1)); then
    config=${positional[1]}
  elif [ "$command" = config ] && ((${#positional[@]} > 0)); then
    config=${positional[0]}
  fi

  # The value of an option.
  case $prev in
    --socket)
      _pkgctl_files "$cur"
      return 0
      ;;
    -o | --output)
      mapfile -t COMPREPLY < <(compgen -W "table json" -- "$cur")
      return 0
      ;;
    --format)
      mapfile -t COMPREPLY < <(compgen -W "table line hpvmstatus" -- "$cur")
      return 0
      ;;
    -n | --node | --owner-is-down)
      _pkgctl_names node "$pkgctl" "$socket" "$config"
      mapfile -t COMPREPLY < <(compgen -W "$_pkgctl_words" -- "$cur")
      return 0
      ;;
    -d | --dir)
      _pkgctl_files "$cur"
      return 0
      ;;
    # Domain names would need libvirtd (and may hang); node lists are comma-separated.
    --vcpus | --memory | --timeout | --limit | -l | --for | --libvirt | --nodes)
      return 0
      ;;
  esac

  if [ -z "$command" ]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$global_opts" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
    fi
    return 0
  fi

  # words: the non-option candidates; opts: the options of the command.
  local words="" opts="-h --help" npos=${#positional[@]}
  case $command in
    view)
      opts+=" -v --verbose --format"
      ((npos == 0)) && _pkgctl_names both "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      ;;
    run)
      opts+=" -n --node --keep-switching -t --preview $wait_opts"
      ((npos == 0)) && _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      ;;
    halt)
      opts+=" -t --preview $wait_opts"
      ((npos == 0)) && _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      ;;
    move)
      opts+=" -n --node --vcpus --memory -t --preview $wait_opts"
      ((npos == 0)) && _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      ;;
    check)
      opts+=" -n --node --offline"
      if ((npos == 0)); then
        _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      elif ((npos == 1 && offline)) && [[ $cur != -* ]]; then
        _pkgctl_files "$cur"  # check PKG --offline CLUSTER_YAML
        return 0
      fi
      ;;
    enable)
      opts+=" -n --node -t --preview"
      ((npos == 0)) && _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      ;;
    disable)
      opts+=" -n --node"
      ((npos == 0)) && _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      ;;
    clear)
      opts+=" --owner-is-down $wait_opts"
      ((npos == 0)) && _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      ;;
    explain)
      ((npos == 0)) && _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      ;;
    readiness) ;;
    guest)
      case $sub in
        "") words="import" ;;
        import) opts+=" --libvirt -d --dir --nodes" ;;
      esac
      ;;
    inventory)
      case $sub in
        "") words="probe" ;;
        probe) opts+=" --root" ;;
      esac
      ;;
    events) opts+=" -l --limit" ;;
    node)
      case $sub in
        "") words="halt run readmit maintenance" ;;
        halt) opts+=" -t --preview $wait_opts" ;;
        run | readmit) opts+=" $wait_opts" ;;
        maintenance) opts+=" --freeze -t --preview $wait_opts" ;;
      esac
      if [ -n "$sub" ] && ((npos == 0)); then
        _pkgctl_names node "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
      elif [ "$sub" = maintenance ] && ((npos == 1)); then
        words="on off"
      fi
      ;;
    package)
      case $sub in
        "") words="maintenance" ;;
        maintenance)
          opts+=" -t --preview $wait_opts"
          if ((npos == 0)); then
            _pkgctl_names package "$pkgctl" "$socket" "$config" && words=$_pkgctl_words
          elif ((npos == 1)); then
            words="on off"
          fi
          ;;
      esac
      ;;
    cluster)
      case $sub in
        "") words="run halt disarm arm" ;;
        run) opts+=" -n --node $wait_opts" ;;
        halt) opts+=" -f --force $wait_opts" ;;
        disarm) opts+=" --for $wait_opts" ;;
        arm) opts+=" -t --preview $wait_opts" ;;
      esac
      ;;
    config)
      case $sub in
        "") words="check apply show" ;;
        check | apply)
          [ "$sub" = apply ] && opts+=" $wait_opts"
          if [[ $cur != -* ]] && ((npos == 0)); then
            _pkgctl_files "$cur"
            return 0
          fi
          ;;
      esac
      ;;
    *) return 0 ;;
  esac

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  fi
  return 0
}

complete -F _pkgctl pkgctl
