# Shared helpers for the auren-nginx tests. Source it; do not run it.
#
# prepare_prefix DIR [API_ADDR] [BRIDGE_ADDR]
#   Copies the repository config (nginx.conf, conf.d/) into DIR, a throwaway nginx prefix,
#   byte for byte except conf.d/upstreams.conf, where each `server <host>:<port>` line gets
#   its host replaced: the service names (auren-api, biometric-bridge) only resolve on the
#   container network, and nginx refuses a config whose upstream hosts do not resolve.
#   By default the names map to 127.0.0.1 with the same port; API_ADDR / BRIDGE_ADDR
#   (host:port) override the address, for the live proxy test.

NGINX_BIN=${NGINX_BIN:-nginx}
APP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

prepare_prefix() {
  local dir=$1 api=${2:-} bridge=${3:-}
  mkdir -p "$dir/run"
  cp "$APP_DIR/nginx.conf" "$dir/nginx.conf"
  cp -R "$APP_DIR/conf.d" "$dir/conf.d"
  # Upstream names must be exactly these two; anything else is a config change the
  # tests should be told about.
  local names
  names=$(sed -nE 's/^[[:space:]]*server[[:space:]]+([A-Za-z0-9.-]+):[0-9]+.*/\1/p' "$APP_DIR/conf.d/upstreams.conf" | sort | tr '\n' ' ')
  [[ "$names" == "auren-api biometric-bridge " ]] || fail "upstreams.conf names '$names', expected 'auren-api biometric-bridge'"
  sed -E \
    -e "s/^([[:space:]]*server[[:space:]]+)auren-api:([0-9]+)/\1${api:-127.0.0.1:\2}/" \
    -e "s/^([[:space:]]*server[[:space:]]+)biometric-bridge:([0-9]+)/\1${bridge:-127.0.0.1:\2}/" \
    "$APP_DIR/conf.d/upstreams.conf" > "$dir/conf.d/upstreams.conf"
}

# nginx_in DIR ARGS... : nginx with DIR as prefix and DIR/nginx.conf as configuration.
nginx_in() {
  local dir=$1; shift
  "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" "$@"
}

# nginx_start DIR ARGS... : nginx_in in the background, with $! its master's pid. A function
# run with `&` is a subshell of its own, and $! then names that subshell: killing it leaves the
# nginx it started running.
nginx_start() {
  local dir=$1; shift
  "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" "$@" &
}

# nginx_stop DIR : stops the nginx whose pid file (pid run/nginx.pid in nginx.conf) is in DIR,
# and waits until the master has gone (it stops its workers first).
nginx_stop() {
  local pid
  pid=$(cat "$1/run/nginx.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
