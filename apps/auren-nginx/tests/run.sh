#!/usr/bin/env bash
# Entry point of `nx test auren-nginx`.
set -euo pipefail
cd "$(dirname "$0")"
bash ./test-config.sh
bash ./test-proxy.sh
