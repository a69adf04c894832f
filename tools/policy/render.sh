#!/usr/bin/env bash
# Prints one of this folder's ClusterImagePolicy files with its placeholders filled, ready for
# `kubectl apply -f -` (README.md here):
#   render.sh key         --images <glob> --public-key <cosign.pub>
#   render.sh keyless     --images <glob> --repository <owner/repo>
#   render.sh kyverno-key --images <pattern> --public-key <cosign.pub>
# --images is the pattern of the references the policy covers: policy-controller's glob, e.g.
# 'registry.example.com/auren/**', or Kyverno's wildcard, e.g. 'registry.example.com/auren/*'. Values that would change the YAML's structure are refused,
# not escaped: a glob or repository name never needs a quote, a backslash or a line break.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

fail() { echo "render: $1" >&2; exit 2; }
usage="usage: render.sh key|kyverno-key --images <pattern> --public-key <cosign.pub> | render.sh keyless --images <glob> --repository <owner/repo>"

kind="${1:-}"; [ $# -eq 0 ] || shift
images="" public_key="" repository=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || fail "$1 needs a value. $usage"
  case "$1" in
    --images) images="$2" ;;
    --public-key) public_key="$2" ;;
    --repository) repository="$2" ;;
    *) fail "unknown option $1. $usage" ;;
  esac
  shift 2
done

[ -n "$images" ] || fail "--images is missing. $usage"
[[ "$images" =~ ^[][A-Za-z0-9._:/@*?{},-]+$ ]] || fail "--images '$images' has characters a registry reference glob does not use"

case "$kind" in
  key|kyverno-key)
    [ -n "$public_key" ] || fail "--public-key is missing. $usage"
    [ -r "$public_key" ] || fail "--public-key $public_key cannot be read"
    # Only the public half belongs in a policy: a private key pasted by mistake is refused.
    grep -q -- '-----BEGIN PUBLIC KEY-----' "$public_key" || fail "$public_key is not a PEM public key (cosign.pub)"
    ! grep -q 'PRIVATE KEY' "$public_key" || fail "$public_key holds a private key; give the public half (cosign.pub)"
    template="$here/cluster-image-policy-key.yaml"
    [ "$kind" = key ] || template="$here/kyverno-verify-images-key.yaml"
    ;;
  keyless)
    [ -n "$repository" ] || fail "--repository is missing. $usage"
    [[ "$repository" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || fail "--repository '$repository' is not <owner>/<repo>"
    # The subject is a regular expression: a dot in the name matches only a dot.
    repository="${repository//./\\.}"
    template="$here/cluster-image-policy-keyless.yaml"
    ;;
  *) fail "$usage" ;;
esac

# ENVIRON, not -v: awk would read backslashes in -v values as escapes.
AUREN_IMAGES="$images" AUREN_REPOSITORY="$repository" AUREN_KEY_FILE="$public_key" awk '
  function replace(s, from, to,    at, out) {
    out = ""
    while ((at = index(s, from)) > 0) { out = out substr(s, 1, at - 1) to; s = substr(s, at + length(from)) }
    return out s
  }
  index($0, "__AUREN_PUBLIC_KEY__") {
    indent = substr($0, 1, index($0, "__AUREN_PUBLIC_KEY__") - 1)
    while ((getline line < ENVIRON["AUREN_KEY_FILE"]) > 0) if (line != "") print indent line
    next
  }
  {
    $0 = replace($0, "__AUREN_IMAGES__", ENVIRON["AUREN_IMAGES"])
    print replace($0, "__AUREN_REPOSITORY__", ENVIRON["AUREN_REPOSITORY"])
  }
' "$template"
