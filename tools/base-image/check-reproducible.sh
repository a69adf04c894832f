#!/usr/bin/env bash
# Proves the base root filesystem is reproducible: builds it twice from this commit, into two
# empty folders, the second time with an empty .deb cache too (as a clean machine would), and
# compares the tars byte for byte. Exits 1 and names the differing entries when they differ.
#
# Usage: check-reproducible.sh [--platforms=linux/amd64[,linux/arm64]]   (default linux/amd64)
# Both builds read the Debian mirror a few minutes apart; a package published in between would
# show up as a difference in packages-<arch>.lock, which is printed first.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE/../../"
platforms="linux/amd64"
for arg in "$@"; do
  case "$arg" in
    --platforms=*) platforms="${arg#--platforms=}" ;;
    *) echo "check-reproducible: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

work="$(mktemp -d "${TMPDIR:-/tmp}/auren-rootfs-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/a" "$work/b" "$work/empty-cache"

AUREN_PLATFORMS="$platforms" bash "$HERE/build-rootfs.sh" --out="$work/a"
AUREN_PLATFORMS="$platforms" AUREN_DEB_CACHE="$work/empty-cache" bash "$HERE/build-rootfs.sh" --out="$work/b"

status=0
for tar in "$work"/a/rootfs-*.tar; do
  name="$(basename "$tar")"
  a="$(sha256sum <"$tar" | cut -d' ' -f1)"
  b="$(sha256sum <"$work/b/$name" | cut -d' ' -f1)"
  if [ "$a" = "$b" ]; then
    echo "reproducible: $name sha256:$a (both builds)"
  else
    status=1
    lock="packages-${name#rootfs-}"; lock="${lock%.tar}.lock"
    echo "NOT reproducible: $name sha256:$a vs sha256:$b" >&2
    diff "$work/a/$lock" "$work/b/$lock" >&2 && echo "  same packages; differing entries (size, mode, time, name):" >&2
    diff <(tar -tvf "$tar" --full-time) <(tar -tvf "$work/b/$name" --full-time) | head -n 20 >&2 || true
    # Same listing, different bytes: compare the files' contents.
    if diff -q <(tar -tvf "$tar" --full-time) <(tar -tvf "$work/b/$name" --full-time) >/dev/null; then
      mkdir -p "$work/xa" "$work/xb"
      tar -xf "$tar" -C "$work/xa" --exclude=./dev; tar -xf "$work/b/$name" -C "$work/xb" --exclude=./dev
      diff -rq --no-dereference "$work/xa" "$work/xb" | head -n 20 >&2 || true
      rm -rf "$work/xa" "$work/xb"
    fi
  fi
done
exit $status
