# Helpers both stack scripts (stack.sh, k8s.sh) source.

is_alive() { # pid: running and not a zombie
  local stat
  # read, not $(<...): under set -e bash exits silently when $(<file) cannot open the file,
  # which is exactly the case of a process that is gone (a stale pidfile after a reboot).
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) } # the state letter follows the parenthesised command name
  [[ -n $stat && ${stat:0:1} != Z ]]
}
