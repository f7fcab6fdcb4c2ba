#!/usr/bin/env bash
# podman's Docker-compatible API on a unix socket, for DockerOperator (and anything that speaks
# the Docker API) on a host without a Docker engine.
#
#   dags/scripts/podman-service.sh start SOCKET   start it in the background unless it answers
#   dags/scripts/podman-service.sh stop  SOCKET   stop the one this script started
#
# Uses the project's containers.conf (runc, ulimits, host network) unless CONTAINERS_CONF is set.
set -euo pipefail

cmd=${1:?start|stop}
socket=${2:?socket path}
pidfile=$socket.pid
logfile=$socket.log
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")/../.." && pwd)/docker/containers.conf}

answers() { curl -fsS --max-time 2 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; }

case $cmd in
  start)
    if answers; then
      echo "podman-service: already answering on $socket"
      exit 0
    fi
    mkdir -p "$(dirname "$socket")"
    rm -f "$socket"
    # --time=0: never exit for lack of clients. setsid: not stopped by the caller's Ctrl-C.
    setsid podman system service --time=0 "unix://$socket" >"$logfile" 2>&1 < /dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if answers; then
        echo "podman-service: listening on $socket (pid $(cat "$pidfile"), log $logfile)"
        exit 0
      fi
      sleep 0.2
    done
    echo "podman-service: no answer on $socket after 20 s; see $logfile" >&2
    tail -20 "$logfile" >&2 || true
    exit 1
    ;;
  stop)
    if [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 1 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.2; done
      echo "podman-service: stopped"
    fi
    rm -f "$pidfile" "$socket"
    ;;
  *)
    echo "usage: $0 start|stop SOCKET" >&2
    exit 2
    ;;
esac
