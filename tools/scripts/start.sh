#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, start the embedded registry unless
# AUREN_REGISTRY names another one, build the base image, build/scan/push every app, and print
# a table of what was pushed.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash tools/scripts/setup.sh
# Tools that `setup.sh --test-tools` built (trivy for SBOMs and scans, cosign for signing) are
# used when present; npm start does not need them.
[ -d tools/.bin ] && export PATH="$PWD/tools/.bin:$PATH"

if [ -z "${AUREN_REGISTRY:-}" ]; then
  bash libs/registry-plugin/scripts/local-registry.sh --detach
else
  echo "start: using AUREN_REGISTRY=$AUREN_REGISTRY"
fi

# The projects that have a docker-push target: the base image first (the apps depend on it).
npx nx run-many -t docker-push --outputStyle=static "$@"

node libs/registry-plugin/bin/auren-registry.js pushed
