#!/usr/bin/env bash
# Runs the workspace's embedded local registry (CNCF distribution) on 127.0.0.1:5000 by default.
# It ships with the plugin: the registry project's serve target (executor `serve`) and the local
# garbage collector run it from the installed package, in the workspace root.
#   local-registry.sh              run in the foreground (Ctrl-C stops it)
#   local-registry.sh --detach     start in the background unless it already answers; wait until it does
#   local-registry.sh --stop       stop a detached registry
#   local-registry.sh --status     exit 0 when it answers
# Environment: AUREN_LOCAL_REGISTRY_ADDR (default 127.0.0.1:5000), AUREN_LOCAL_REGISTRY_DIR
# (default <workspace>/.auren/registry: add .auren/ to .gitignore), AUREN_REGISTRY_READONLY=true
# for garbage collection, AUREN_WORKSPACE_ROOT (default: the current folder).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "${AUREN_WORKSPACE_ROOT:-.}"
ADDR="${AUREN_LOCAL_REGISTRY_ADDR:-127.0.0.1:5000}"
DIR="${AUREN_LOCAL_REGISTRY_DIR:-$PWD/.auren/registry}"
READONLY="${AUREN_REGISTRY_READONLY:-false}"
PIDFILE="$DIR/registry.pid"
LOG="$DIR/registry.log"
mkdir -p "$DIR/data"

answers() { curl -fsS -o /dev/null --max-time 2 "http://$ADDR/v2/" 2>/dev/null; }

if ! command -v docker-registry >/dev/null; then
  echo "docker-registry is not installed: apt-get install docker-registry (Debian and Ubuntu's CNCF distribution)" >&2
  exit 2
fi

sed -e "s|@DATA_DIR@|$DIR/data|" -e "s|@ADDR@|$ADDR|" -e "s|@READONLY@|$READONLY|" \
  "$HERE/local-registry.yml" > "$DIR/config.yml"

case "${1:-}" in
  --status)
    answers && echo "registry answers at http://$ADDR" && exit 0
    echo "registry does not answer at http://$ADDR" >&2; exit 1 ;;
  --stop)
    if [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null; then
      while kill -0 "$(cat "$PIDFILE")" 2>/dev/null; do sleep 0.1; done
      rm -f "$PIDFILE"; echo "registry stopped"
    else
      echo "no detached registry running"
    fi
    exit 0 ;;
  --detach)
    if answers; then echo "registry already answers at http://$ADDR"; exit 0; fi
    nohup docker-registry serve "$DIR/config.yml" >>"$LOG" 2>&1 &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 100); do
      if answers; then echo "registry started at http://$ADDR (data: $DIR/data, log: $LOG)"; exit 0; fi
      if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
      sleep 0.1
    done
    echo "registry did not start at $ADDR; last log lines:" >&2; tail -n 20 "$LOG" >&2; exit 1 ;;
  "")
    if answers; then echo "something already answers at http://$ADDR; set AUREN_LOCAL_REGISTRY_ADDR to use another address" >&2; exit 1; fi
    exec docker-registry serve "$DIR/config.yml" ;;
  *)
    echo "usage: local-registry.sh [--detach|--stop|--status]" >&2; exit 2 ;;
esac
