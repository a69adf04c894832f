#!/usr/bin/env bash
# Builds, scans and pushes the given projects' images for several platforms, one project after the
# other, each phase in its own foldable log group.
#
# Why three explicit `nx run` calls instead of one `nx affected -t docker-push`: the build takes
# CI-only options (--platforms, --cacheFrom, --cacheTo) and Nx does not forward a task's options
# to the tasks it depends on; it would rebuild the image without them (its hash includes the
# options). So the build runs first with the options, and scan and push run with
# --excludeTaskDependencies on the artifact the build wrote to dist/images/<project>/ — the digest
# that is scanned is the digest that is pushed.
#
# Environment:
#   AUREN_REGISTRY    host[:port]/namespace of the target registry (required)
#   AUREN_PLATFORMS   comma-separated platforms (default linux/amd64,linux/arm64)
#   AUREN_BUILDER     builder for the multi-platform build (default docker, i.e. buildx)
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <project>..." >&2
  exit 2
fi
: "${AUREN_REGISTRY:?set AUREN_REGISTRY (host[:port]/namespace), e.g. from the repository variable}"
platforms="${AUREN_PLATFORMS:-linux/amd64,linux/arm64}"
builder="${AUREN_BUILDER:-docker}"

for project in "$@"; do
  # The build cache lives beside the image, as tag "buildcache" of the same repository.
  cache="${AUREN_REGISTRY}/${project}:buildcache"

  echo "::group::${project}: build for ${platforms}"
  npx nx run "${project}:docker-build" --excludeTaskDependencies \
    --builder="${builder}" \
    --platforms="${platforms}" \
    --cacheFrom="${cache}" \
    --cacheTo="${cache}"
  echo "::endgroup::"

  echo "::group::${project}: scan"
  npx nx run "${project}:scan" --excludeTaskDependencies
  echo "::endgroup::"

  echo "::group::${project}: push"
  npx nx run "${project}:docker-push" --excludeTaskDependencies
  echo "::endgroup::"
done
