#!/usr/bin/env bash
# Every test: the plugin's unit and integration tests (real registries on free ports, real
# buildah builds, real git), the end-to-end affected tests, the workspace checks (workflows,
# compose files) and each app's own tests through its Nx `test` target. Ends with one
# "N passed, N failed" line totalled over every suite.
set -uo pipefail
cd "$(dirname "$0")/../.."

bash tools/scripts/setup.sh --test-tools || exit 1
# The real scanner, registry and clients the tests run (trivy, crane, oras, distribution 3,
# cosign), at their pinned versions, ahead of anything else on PATH.
export PATH="$PWD/tools/.bin:$PATH"

results="tmp/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0

run_jest() { # name config
  echo "::group::jest $1"
  npx jest --config "$2" --runInBand --json --outputFile="$results/jest-$1.json" || status=1
  echo "::endgroup::"
}

run_jest registry-plugin libs/registry-plugin/jest.config.js
[ -f tools/workspace-tests/jest.config.js ] && run_jest workspace tools/workspace-tests/jest.config.js
run_jest workflow-runner tools/workflow-runner/jest.config.js

# The apps' own tests, one Nx target each; pytest writes JUnit XML for the totals.
for app in $(npx nx show projects --withTarget test --json | node -e 'JSON.parse(require("fs").readFileSync(0,"utf8")).filter(p=>!["registry-plugin","workspace-tests","workflow-runner"].includes(p)).forEach(p=>console.log(p))'); do
  echo "::group::nx run $app:test"
  if PYTEST_ADDOPTS="--junitxml=$PWD/$results/app-$app.xml" npx nx run "$app:test" --skip-nx-cache --outputStyle=static; then
    echo ok > "$results/target-$app.ok"
  else
    echo failed > "$results/target-$app.failed"; status=1
  fi
  echo "::endgroup::"
done

node tools/scripts/test-totals.mjs "$results" || status=1
exit $status
