#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, start the embedded registry unless
# AUREN_REGISTRY names another one, build the base image, build/scan/push every app, and print
# a table of what was pushed. A commit already released and complete in the registry stops
# after checking that.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash tools/scripts/setup.sh
# Nx from the workspace's own install (setup.sh made it), not through npx: npx spends about 0.3 s
# finding what is already in node_modules/.bin.
nx=node_modules/.bin/nx

if [ -z "${AUREN_REGISTRY:-}" ]; then
  bash libs/registry-plugin/scripts/local-registry.sh --detach
else
  echo "start: using AUREN_REGISTRY=$AUREN_REGISTRY"
fi

# A commit whose every image is already released, and complete in the registry (the digest its
# release tag recorded, with its SBOM, scan verdict and signature), has nothing left to build,
# scan or push: say so, write the push records from the registry, and stop. No tool is needed
# for that. Arguments (for Nx) or AUREN_FULL_RUN=1 always run the whole pipeline.
mkdir -p tmp/start
if [ $# -eq 0 ] && [ "${AUREN_FULL_RUN:-}" != 1 ]; then
  if node libs/registry-plugin/bin/auren-registry.js released --write >tmp/start/released.txt 2>&1; then
    echo "start: this commit is released, and every image is complete in the registry: nothing to build, scan or push (AUREN_FULL_RUN=1 npm start fetches and scans each one here)"
    cat tmp/start/released.txt
    exit 0
  fi
  echo "start: not every image of this commit is released and complete in the registry; the pipeline runs:"
  sed 's/^/  /' tmp/start/released.txt | head -n 20
fi

# The product's own tools (trivy scans and makes SBOMs, cosign signs) at their pinned versions:
# used from PATH or the machine's tool cache when there, else built from the Go module proxy in
# the background, which takes minutes on a new machine. Meanwhile the base image's root
# filesystem is made, the other long step of a first run; its tars are kept, so the build
# step does not make them again.
missing_tools="$(bash tools/scripts/setup.sh --product-tools --missing)"
bash tools/scripts/setup.sh --product-tools >tmp/start/tools.log 2>&1 &
tools_pid=$!

if [ -n "$missing_tools" ]; then
  echo "start: building $missing_tools in the background (log: tmp/start/tools.log); making the base root filesystem meanwhile"
  "$nx" run base-image:rootfs --outputStyle=static
fi
if ! wait "$tools_pid"; then
  cat tmp/start/tools.log >&2
  echo "start: WARNING: the product tools did not build (above): images are pushed unscanned and unsigned where the policy allows" >&2
else
  cat tmp/start/tools.log
fi
export PATH="$PWD/tools/.bin:$PATH"

# The projects that have a docker-push target: the base image first (the apps depend on it).
"$nx" run-many -t docker-push --outputStyle=static "$@"

node libs/registry-plugin/bin/auren-registry.js pushed
