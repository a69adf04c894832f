#!/usr/bin/env bash
# Every test: the plugin's unit and integration tests (real registries on free ports, real
# buildah builds, real git), the end-to-end affected tests, the workspace checks (workflows,
# compose files) and each app's own tests through its Nx `test` target. Ends with one
# "N passed, N failed" line totalled over every suite.
#
# On a machine that has never built them, the real test tools (tools/test-tools.txt) take longer
# than any suite: they build from the Go module proxy in the background while the suites that do
# not run them go first. Plugin specs that run a tool say so with an `@auren-test-tools` line and
# run after the build. The first suites never see tools/.bin on PATH, on any machine, so a spec
# that needs a tool but lacks the line fails everywhere, not only on a fresh machine.
set -uo pipefail
cd "$(dirname "$0")/../.."

results="tmp/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0
started=$SECONDS
stage() { echo "test-all: $1 ($((SECONDS - started)) s)"; }

# The tools need only Go: their build starts before the Debian packages and npm install.
bash tools/scripts/setup.sh --test-tools-only >"$results/test-tools.log" 2>&1 &
tools_pid=$!
bash tools/scripts/setup.sh || exit 1

run_jest() { # name config [jest arguments…]
  local name="$1" config="$2"; shift 2
  echo "::group::jest $name"
  # --forceExit: a spec that fails in its set-up can leave a handle open (a registry it started
  # but never got to stop); the failure is already counted, and the run must not wait forever.
  npx jest --config "$config" --runInBand --forceExit --json --outputFile="$results/jest-$name.json" "$@" || status=1
  echo "::endgroup::"
}

plugin=libs/registry-plugin
plugin_specs="$(npx jest --config "$plugin/jest.config.js" --listTests)"
tool_specs="$(grep -l '^// @auren-test-tools ' $plugin_specs)"
other_specs="$(grep -L '^// @auren-test-tools ' $plugin_specs)"

stage "suites without the test tools"
[ -f tools/workspace-tests/jest.config.js ] && run_jest workspace tools/workspace-tests/jest.config.js
run_jest workflow-runner tools/workflow-runner/jest.config.js
# shellcheck disable=SC2086 # one path per word
run_jest registry-plugin "$plugin/jest.config.js" --runTestsByPath $other_specs

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

stage "waiting for the test tools"
if wait "$tools_pid"; then
  cat "$results/test-tools.log"
  # The real scanner, registry and clients (trivy, crane, oras, distribution 3, cosign), at
  # their pinned versions, ahead of anything else on PATH.
  export PATH="$PWD/tools/.bin:$PATH"
  stage "suites with the test tools"
  # shellcheck disable=SC2086
  run_jest registry-plugin-tools "$plugin/jest.config.js" --runTestsByPath $tool_specs
else
  cat "$results/test-tools.log" >&2
  echo "test-all: the test tools did not build (above), so the $(wc -w <<<"$tool_specs") specs that run them did not run" >&2
  echo failed > "$results/target-test-tools.failed"; status=1
fi
stage "all suites ran"

node tools/scripts/test-totals.mjs "$results" || status=1
exit $status
