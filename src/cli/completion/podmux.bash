# bash completion for podmux (and kubectl-podmux). Pods and workloads come from kubectl when it
# is installed; flags and commands always complete.
_podmux_flags="-n --namespace -c --container -i --stdin -t --tty -q --quiet -v --verbose -h --help
 --kubeconfig --context --cluster --user -s --server --token --certificate-authority
 --as --as-group --as-uid
 --insecure-skip-tls-verify --request-timeout --pod-running-timeout --escape --keepalive --eof-grace
 -l --selector --field-selector -A --all-namespaces --all-pods --all-containers -P --parallel
 --qps --burst --timeout --fail-fast --retries -o --output --group-max --kill-on-close --layout
 --version --prefix --max-bytes --max-entries --max-lag"

_podmux_kubectl() {
  command -v kubectl >/dev/null 2>&1 || return
  local ns=() i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -n|--namespace) ns=(-n "${COMP_WORDS[i+1]}") ;;
      --namespace=*) ns=(-n "${COMP_WORDS[i]#--namespace=}") ;;
    esac
  done
  kubectl "${ns[@]}" get "$@" -o name --request-timeout=3s 2>/dev/null
}

_podmux() {
  local cur prev words cword
  _init_completion 2>/dev/null || { cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"; }
  local i cmd="" dashdash=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      --) dashdash=1 ;;
      exec|attach|shell|cp|version|help) [ -z "$cmd" ] && cmd="${COMP_WORDS[i]}" ;;
    esac
  done
  [ $dashdash = 1 ] && { COMPREPLY=($(compgen -c -- "$cur")); return; }
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "prefix group json raw" -- "$cur")); return ;;
    --escape) COMPREPLY=($(compgen -W "~ none" -- "$cur")); return ;;
    --layout) COMPREPLY=($(compgen -W "panes lines" -- "$cur")); return ;;
    --kubeconfig|--certificate-authority) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -n|--namespace)
      COMPREPLY=($(compgen -W "$(_podmux_kubectl namespaces | sed 's|^namespace/||')" -- "$cur")); return ;;
    -c|--container|--context|--cluster|--user|-s|--server|--token|-l|--selector|--field-selector|\
    --request-timeout|--pod-running-timeout|--keepalive|--eof-grace|-P|--parallel|--qps|--burst|--timeout|--retries|\
    --group-max|--prefix|--max-bytes|--max-entries|--max-lag)
      return ;;
  esac
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "--version --help" -- "$cur")); return; fi
    COMPREPLY=($(compgen -W "exec attach shell cp version help" -- "$cur")); return
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$_podmux_flags" -- "$cur")); return
  fi
  case "$cmd" in
    help) COMPREPLY=($(compgen -W "exec attach shell cp" -- "$cur")) ;;
    exec|attach|shell)
      local names
      names="$(_podmux_kubectl pods | sed 's|^pod/||') $(_podmux_kubectl deploy,sts,ds,rs,job |
        sed 's|^deployment\.apps/|deploy/|; s|^statefulset\.apps/|sts/|; s|^daemonset\.apps/|ds/|; s|^replicaset\.apps/|rs/|; s|^job\.batch/|job/|')"
      COMPREPLY=($(compgen -W "$names" -- "$cur")) ;;
    cp) COMPREPLY=($(compgen -f -- "$cur")) ;; # local paths; POD: is typed
  esac
}
complete -F _podmux podmux kubectl-podmux
