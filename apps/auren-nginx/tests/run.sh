#!/usr/bin/env bash
# Entry point of `nx test auren-nginx`.
set -euo pipefail
cd "$(dirname "$0")"
# The tests' temporary files (and so every nginx prefix and port file) live under a folder of
# this run, so what they leave running can be found by that folder's name on its command line.
run_tmp=$(mktemp -d)
trap 'rm -rf "$run_tmp"' EXIT
export TMPDIR=$run_tmp
bash ./test-config.sh
bash ./test-proxy.sh
if left=$(pgrep -af -- "$run_tmp/"); then
  echo "FAIL: the tests left processes running:" >&2
  echo "$left" >&2
  # Stopped here, by their ids, so that a failing run does not leave them behind either.
  kill $(pgrep -f -- "$run_tmp/") 2>/dev/null || true
  exit 1
fi
echo "ok - no process outlives the tests"
