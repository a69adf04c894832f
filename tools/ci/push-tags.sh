#!/usr/bin/env bash
# Pushes back the `<project>@<version>` tags that docker-push created on this runner, and only
# those: `git push --tags` would also try every tag the checkout fetched.
#
#   push-tags.sh snapshot   remember the tags present now (before docker-push)
#   push-tags.sh push       push the tags created since the snapshot
set -euo pipefail

state="${RUNNER_TEMP:-/tmp}/auren-tags-before.txt"

case "${1:-}" in
  snapshot)
    git tag --list | sort > "$state"
    echo "push-tags: $(wc -l < "$state") tags before release"
    ;;
  push)
    if [ ! -f "$state" ]; then
      echo "push-tags: no snapshot at $state; run '$0 snapshot' before docker-push" >&2
      exit 2
    fi
    mapfile -t new < <(git tag --list | sort | comm -13 "$state" -)
    if [ "${#new[@]}" -eq 0 ]; then
      echo "push-tags: no new tags"
      exit 0
    fi
    refs=()
    for tag in "${new[@]}"; do refs+=("refs/tags/${tag}"); done
    echo "push-tags: pushing ${new[*]}"
    git push --atomic origin "${refs[@]}"
    ;;
  *)
    echo "usage: $0 snapshot|push" >&2
    exit 2
    ;;
esac
