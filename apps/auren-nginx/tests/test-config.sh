#!/usr/bin/env bash
# Validates the repository's nginx configuration with `nginx -t` in a temporary prefix,
# checks that the harness itself rejects a broken configuration, and asserts on the
# effective configuration (`nginx -T`) that the routes and hardening the services rely on exist.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The real config is valid.
prepare_prefix "$work/good"
out=$(nginx_in "$work/good" -t 2>&1) || { echo "$out" >&2; fail "nginx -t rejected the configuration"; }
pass "nginx -t accepts nginx.conf + conf.d/"

# 2. The harness would notice a broken config (a missing brace, an unknown upstream).
prepare_prefix "$work/broken"
echo 'server { listen 8081; location /x { proxy_pass http://auren_api; }' >> "$work/broken/conf.d/auren.conf"
if nginx_in "$work/broken" -t >/dev/null 2>&1; then fail "nginx -t accepted an unbalanced brace"; fi
prepare_prefix "$work/unknown"
sed -i 's/upstream auren_api/upstream auren_api_renamed/' "$work/unknown/conf.d/upstreams.conf"
if nginx_in "$work/unknown" -t >/dev/null 2>&1; then fail "nginx -t accepted a proxy_pass to an undefined upstream"; fi
pass "a broken configuration fails nginx -t"

# 3. The effective configuration has what the services and the image rely on.
dump=$(nginx_in "$work/good" -T 2>/dev/null)
require() {
  local pattern=$1 why=$2
  grep -Eq -- "$pattern" <<<"$dump" || fail "$why (no line matching: $pattern)"
}
refuse() {
  local pattern=$1 why=$2
  if grep -Eq -- "$pattern" <<<"$dump"; then fail "$why (found: $pattern)"; fi
}
require '^# configuration file .*/conf\.d/auren\.conf:' "conf.d/auren.conf is not included"
require '^# configuration file .*/conf\.d/upstreams\.conf:' "conf.d/upstreams.conf is not included"
require '^[[:space:]]*listen 8080 default_server;' "must listen on 8080 (non-root cannot bind 80)"
refuse  '^[[:space:]]*listen[[:space:]]+(80|443)[; ]' "a privileged port cannot be bound by uid 10001"
refuse  '^[[:space:]]*user[[:space:]]' "a user directive needs root; the image runs as uid 10001"
require '^pid run/nginx\.pid;' "the pid file must live under the writable run/ directory"
for t in client_body proxy fastcgi uwsgi scgi; do
  require "^[[:space:]]*${t}_temp_path[[:space:]]+run/" "$t temp path must be under run/"
done
require '^[[:space:]]*server_tokens off;' "server_tokens must be off"
require '^[[:space:]]*location = /health \{' "nginx's own /health is missing"
require '^[[:space:]]*location /api/ \{' "/api/ route to auren-api is missing"
require '^[[:space:]]*location = /api/health \{' "/api/health route is missing"
require '^[[:space:]]*location = /bridge/health \{' "/bridge/health route is missing"
require '^[[:space:]]*location = /bridge/metrics \{' "/bridge/metrics route is missing"
require 'proxy_pass http://auren_api;' "no location proxies to the auren_api upstream"
require 'proxy_pass http://biometric_bridge/health;' "bridge health is not proxied"
require '^[[:space:]]*proxy_set_header Connection "";' "upstream keepalive needs Connection \"\""
require '^[[:space:]]*proxy_set_header X-Request-ID \$request_id;' "request ids must reach the backends"
# /bridge/metrics must be restricted: the block has a `deny all` before its proxy_pass.
awk '/location = \/bridge\/metrics \{/{inblk=1} inblk&&/deny all;/{d=1} inblk&&/\}/{exit} END{exit !d}' <<<"$dump" \
  || fail "/bridge/metrics is not restricted with deny all"
# The original upstream names are in the repository file (the copy maps them to loopback).
grep -Eq '^[[:space:]]*server auren-api:8000[ ;]' "$APP_DIR/conf.d/upstreams.conf" || fail "auren_api must point at auren-api:8000"
grep -Eq '^[[:space:]]*server biometric-bridge:8001[ ;]' "$APP_DIR/conf.d/upstreams.conf" || fail "biometric_bridge must point at biometric-bridge:8001"
pass "required routes, upstreams and non-root settings are present"
