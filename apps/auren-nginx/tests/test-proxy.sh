#!/usr/bin/env bash
# Runs the real configuration in a live nginx (temporary prefix, ephemeral port) in front of
# two stub backends and checks routing, path rewriting, headers and access control.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}

work=$(mktemp -d)
pids=()
cleanup() {
  nginx_stop "$work/p"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# An interrupted run (Ctrl-C, nx stopping the task) stops its processes too.
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for_file() { for _ in $(seq 1 50); do [[ -s "$1" ]] && return 0; sleep 0.1; done; fail "timed out waiting for $1"; }

"$PY" "$APP_DIR/tests/stub_backend.py" auren-api "$work/api.port" & pids+=($!)
"$PY" "$APP_DIR/tests/stub_backend.py" biometric-bridge "$work/bridge.port" & pids+=($!)
wait_for_file "$work/api.port"; wait_for_file "$work/bridge.port"
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

prepare_prefix "$work/p" "127.0.0.1:$(cat "$work/api.port")" "127.0.0.1:$(cat "$work/bridge.port")"
# Only the listen address differs from the image: an ephemeral loopback port, so parallel
# runs and a host nginx do not collide.
sed -i -E "s/^([[:space:]]*)listen 8080 default_server;/\1listen 127.0.0.1:${port} default_server;/; /listen \[::\]:8080/d" \
  "$work/p/conf.d/auren.conf"
nginx_start "$work/p" -g 'daemon off;' 2>"$work/nginx.err" >"$work/access.log"; pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 1 50); do curl -fs "$base/health" >/dev/null 2>&1 && break; sleep 0.1; done

get() { curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' "$@"; }
json() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$work/body" "$1"; }

code=$(get "$base/health"); [[ $code == 200 ]] || fail "/health returned $code"
grep -q '"service":"auren-nginx"' "$work/body" || fail "/health is not nginx's own"
grep -qi '^x-request-id: [0-9a-f]\{32\}' "$work/headers" || fail "no X-Request-ID on responses"
grep -qi '^x-content-type-options: nosniff' "$work/headers" || fail "security headers missing"
if grep -qi '^server: nginx/' "$work/headers"; then fail "server_tokens leaks the version"; fi
pass "/health answered by nginx with request id and security headers"

code=$(get "$base/api/dashboard/summary?user_id=a1" -H 'X-Forwarded-For: 203.0.113.9')
[[ $code == 200 ]] || fail "/api/ returned $code"
[[ $(json 'd["backend"]') == auren-api ]] || fail "/api/ did not reach auren-api"
[[ $(json 'd["path"]') == "/api/dashboard/summary?user_id=a1" ]] || fail "/api/ path was rewritten: $(json 'd["path"]')"
[[ $(json 'd["headers"]["x-forwarded-for"]') == "203.0.113.9, 127.0.0.1" ]] || fail "X-Forwarded-For not appended"
[[ $(json 'd["headers"]["x-request-id"]') =~ ^[0-9a-f]{32}$ ]] || fail "X-Request-ID not forwarded"
[[ $(json 'd["headers"].get("connection", "")') != close ]] || fail "upstream keepalive disabled (Connection: close)"
pass "/api/ proxied to auren-api with the full URI and forwarding headers"

code=$(get "$base/api/health"); [[ $code == 200 && $(json 'd["path"]') == /health && $(json 'd["backend"]') == auren-api ]] \
  || fail "/api/health should map to auren-api /health"
code=$(get "$base/bridge/health"); [[ $code == 200 && $(json 'd["path"]') == /health && $(json 'd["backend"]') == biometric-bridge ]] \
  || fail "/bridge/health should map to biometric-bridge /health"
code=$(get "$base/bridge/metrics"); [[ $code == 200 && $(json 'd["path"]') == /metrics ]] \
  || fail "/bridge/metrics from loopback should reach the bridge"
code=$(get "$base/docs"); [[ $code == 200 && $(json 'd["backend"]') == auren-api ]] || fail "/docs should reach auren-api"
pass "health, metrics and docs routes map to the right backend paths"

for path in /bridge/anything / /etc/passwd; do
  code=$(get "$base$path"); [[ $code == 404 ]] || fail "$path returned $code, expected 404"
done
code=$(get -X POST --data-binary @<(head -c 2000000 /dev/zero) "$base/api/biometrics/samples")
[[ $code == 413 ]] || fail "a 2 MB body returned $code, expected 413"
pass "unknown paths are 404 and oversized bodies 413"

# Access log lines are JSON with the request id (the format log shippers parse).
"$PY" - "$work/access.log" <<'PYEOF' || fail "access log is not one JSON object per line"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no access log lines"
for l in lines:
    assert len(json.loads(l)["request_id"]) == 32
PYEOF
pass "access log is JSON lines with request ids"
