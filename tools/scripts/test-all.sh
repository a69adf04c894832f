#!/usr/bin/env bash
# Every test: the plugin's unit and integration tests (real registries on free ports, real
# buildah builds, real git), the end-to-end affected tests, the workspace checks (workflows,
# compose files) and each app's own tests through its Nx `test` target. Ends with one
# "N passed, N failed" line totalled over every suite.
#
# On a machine that has never built them, the real test tools (tools/test-tools.txt) take longer
# than any suite: they build from the Go module proxy in the background while the suites that do
# not run them go first. Plugin specs that run a tool say so with an `@auren-test-tools <tools>`
# line and run once the tools they name are built: the quick builds come first in the list, so
# most of those specs run while Trivy, the longest build, is still compiling. The first suites
# never see tools/.bin on PATH, on any machine, so a spec that needs a tool but lacks the line
# fails everywhere, not only on a fresh machine.
set -uo pipefail
cd "$(dirname "$0")/../.."

results="tmp/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0
started=$SECONDS
stage() { echo "test-all: $1 ($((SECONDS - started)) s)"; }

# The tools need only Go: their build starts before the Debian packages and npm install. A tool
# is linked into tools/.bin only once it is built at its pinned version, so this run starts from
# an empty folder: every link in it is a tool ready for the specs that name it.
rm -rf tools/.bin
tools_done="$results/test-tools.exit"
{ bash tools/scripts/setup.sh --test-tools-only >"$results/test-tools.log" 2>&1; echo $? >"$tools_done"; } &
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

# The tools a spec names on its `@auren-test-tools` line (up to a comma or a parenthesis: what
# follows is optional or explanation).
spec_tools() { sed -n 's#^// @auren-test-tools \([^(,]*\).*#\1#p' "$1" | head -n 1; }
tools_built() { local tool; for tool in $1; do [ -x "tools/.bin/$tool" ] || return 1; done; }

# The real scanner, registry and clients (trivy, crane, oras, distribution 3, cosign), at their
# pinned versions, ahead of anything else on PATH.
export PATH="$PWD/tools/.bin:$PATH"
pending=($tool_specs)
declare -A needs
for spec in "${pending[@]}"; do needs[$spec]="$(spec_tools "$spec")"; done
round=0
stage "suites with the test tools, each once the tools it names are built"
while ((${#pending[@]})); do
  # Read before the links: a build that has ended has made every link it will make.
  ended=false; [ -f "$tools_done" ] && ended=true
  ready=(); waiting=()
  for spec in "${pending[@]}"; do
    if tools_built "${needs[$spec]}"; then ready+=("$spec"); else waiting+=("$spec"); fi
  done
  if ((${#ready[@]})); then
    round=$((round + 1))
    stage "${#ready[@]} specs whose tools are built ($(ls tools/.bin | tr '\n' ' '))"
    run_jest "registry-plugin-tools-$round" "$plugin/jest.config.js" --runTestsByPath "${ready[@]}"
    pending=("${waiting[@]}")
  elif $ended; then
    break
  else
    sleep 5
  fi
done
wait "$tools_pid"
cat "$results/test-tools.log"
if ((${#pending[@]})) || [ "$(cat "$tools_done")" != 0 ]; then
  echo "test-all: the test tools did not all build (above), so ${#pending[@]} specs that run them did not run: ${pending[*]}" >&2
  echo failed > "$results/target-test-tools.failed"; status=1
fi
stage "all suites ran"

node tools/scripts/test-totals.mjs "$results" || status=1
exit $status
