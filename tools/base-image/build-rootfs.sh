#!/usr/bin/env bash
# Makes the minimal Debian bookworm root filesystem of the in-house base image, reproducibly,
# from Debian packages (mmdebstrap, variant minbase), one tar per platform:
#   <OUT>/rootfs-<TARGETARCH>.tar     the build context of the Dockerfile next to this script
#   <OUT>/packages-<TARGETARCH>.lock  name=version of every installed package, sorted
#                                     (also inside the image: /usr/share/auren/packages.lock)
#   <OUT>/packages.json               {"linux/amd64": {"bash": "5.2.15-2+b7", …}, …}
# where <OUT> is dist/base-image (--out changes it).
#
# Usage: build-rootfs.sh [--platforms=linux/amd64,linux/arm64] [--out=DIR]
#   Platforms: AUREN_PLATFORMS when set (CI), else --platforms (the target's option), else the
#   host's. linux/amd64 is always made. Foreign platforms run their maintainer scripts under QEMU
#   (as root: apt-get install qemu-user-static binfmt-support arch-test registers it).
#
# Reproducible: the same commit and the same Debian mirror content give byte-identical tars.
# SOURCE_DATE_EPOCH is the date of the last commit touching tools/base-image (not HEAD, not the
# clock), so file times, /etc/shadow's "last change" and the tar headers come from it; the tar is
# sorted with numeric owners (mmdebstrap's defaults under SOURCE_DATE_EPOCH), and
# customize-rootfs.sh removes logs, caches, machine-id and the host's resolv.conf/hostname.
# Needs root (mmdebstrap --mode=root chroots). DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR override
# the mirrors.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../" && pwd)"
cd "$ROOT"
OUT="dist/base-image"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SUITE=bookworm
# Downloaded .debs, kept per machine between builds (not part of any output).
DEB_CACHE="${AUREN_DEB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/auren/debs}"
option_platforms=""

die() { echo "base-image: $1" >&2; exit "${2:-1}"; }

for arg in "$@"; do
  case "$arg" in
    --platforms=*) option_platforms="${arg#--platforms=}" ;;
    --out=*) OUT="${arg#--out=}" ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (expected --platforms=<list> or --out=<dir>)" 2 ;;
  esac
done

command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (Debian, Ubuntu: apt-get install mmdebstrap)" 2
[ "$(id -u)" -eq 0 ] || die "making the root filesystem needs root (mmdebstrap --mode=root chroots); run as root" 2

# Platform (OCI) → Debian architecture and the file name buildah's TARGETARCH selects.
debian_arch() {
  case "$1" in
    linux/amd64) echo amd64 ;;
    linux/arm64|linux/arm64/v8) echo arm64 ;;
    linux/arm/v7|linux/arm) echo armhf ;;
    linux/386) echo i386 ;;
    linux/ppc64le) echo ppc64el ;;
    linux/s390x) echo s390x ;;
    *) return 1 ;;
  esac
}
target_arch() {
  case "$1" in amd64|arm64|s390x) echo "$1" ;; armhf) echo arm ;; i386) echo 386 ;; ppc64el) echo ppc64le ;; esac
}

host_arch="$(dpkg --print-architecture)"
requested="${AUREN_PLATFORMS:-${option_platforms:-linux/$host_arch}}"
archs=(amd64)
IFS=',' read -r -a list <<<"$requested"
for platform in "${list[@]}"; do
  platform="$(echo "$platform" | tr -d '[:space:]')"
  [ -n "$platform" ] || continue
  arch="$(debian_arch "$platform")" || die "platform '$platform' has no Debian bookworm port here (known: linux/amd64, linux/arm64, linux/arm/v7, linux/386, linux/ppc64le, linux/s390x)" 2
  [[ " ${archs[*]} " == *" $arch "* ]] || archs+=("$arch")
done

# Foreign architectures: their maintainer scripts run under QEMU user emulation. arch-test
# runs a tiny program of that architecture, so this checks what mmdebstrap will need.
for arch in "${archs[@]}"; do
  [ "$arch" = "$host_arch" ] && continue
  if ! command -v arch-test >/dev/null || ! arch-test "$arch" >/dev/null 2>&1; then
    die "this machine cannot run $arch programs, which the $arch root filesystem needs.
  Fix: as root, apt-get install qemu-user-static binfmt-support arch-test (QEMU user emulation
  and its binfmt_misc handlers), or build for this machine only: AUREN_PLATFORMS=linux/$host_arch." 3
  fi
done

# The date of the base image's own last commit: the same for every machine and every later
# commit that does not touch tools/base-image.
epoch="$(git log -1 --format=%ct -- tools/base-image 2>/dev/null || true)"
if [ -z "$epoch" ]; then
  [ -n "${SOURCE_DATE_EPOCH:-}" ] || die "no git history for tools/base-image to date the root filesystem; commit it, or set SOURCE_DATE_EPOCH" 2
  epoch="$SOURCE_DATE_EPOCH"
fi

include="$(grep -v '^\s*#' "$HERE/packages.txt" | xargs | tr ' ' ',')"
mkdir -p "$OUT"

# What decides the tars besides the mirror's content: this folder's files, the architectures,
# the date, the mirrors and mmdebstrap. When they are what made the tars already in $OUT, those
# are kept, as Nx's cache of the rootfs target would keep them (docker-build's prebuild runs this
# after `nx run base-image:rootfs`). AUREN_ROOTFS_REBUILD=1 makes them again.
# The files are hashed by name, not by path: a checkout in another folder has the same inputs.
inputs="$({ printf '%s\n' "${archs[*]}" "$epoch" "$MIRROR" "$SECURITY_MIRROR"; mmdebstrap --version; (cd "$HERE" && sha256sum ./*); } | sha256sum | cut -d' ' -f1)"
made_already() {
  [ "${AUREN_ROOTFS_REBUILD:-}" != 1 ] && [ "$(cat "$OUT/.inputs" 2>/dev/null)" = "$inputs" ] && [ -f "$OUT/packages.json" ] || return 1
  local arch
  for arch in "${archs[@]}"; do [ -f "$OUT/rootfs-$(target_arch "$arch").tar" ] || return 1; done
}
if made_already; then
  echo "base-image: $OUT already holds the root filesystem of these inputs (${archs[*]}, SOURCE_DATE_EPOCH=$epoch); kept"
  exit 0
fi
rm -f "$OUT/.inputs"
# A platform asked for last time but not now must not linger in the build context.
rm -f "$OUT"/rootfs-*.tar "$OUT"/packages-*.lock "$OUT"/packages.json "$OUT/rootfs.tar"
work="$(mktemp -d "${TMPDIR:-/tmp}/auren-rootfs.XXXXXX")"
trap 'rm -rf "$work"' EXIT

for arch in "${archs[@]}"; do
  name="$(target_arch "$arch")"
  started=$SECONDS
  echo "base-image: mmdebstrap $SUITE $arch (minbase +$include, SOURCE_DATE_EPOCH=$epoch)"
  cache="$DEB_CACHE/$SUITE-$arch"
  mkdir -p "$cache"
  # merged-usr: bookworm's merged /usr made by symlinks, without the usrmerge package (which
  # would pull in perl). The .deb cache only saves downloads: apt checks every file's hash.
  if ! SOURCE_DATE_EPOCH="$epoch" mmdebstrap --mode=root --variant=minbase --architectures="$arch" \
      --include="$include" --format=tar \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --aptopt="$HERE/apt.conf" --dpkgopt="$HERE/dpkg.cfg" \
      --skip=essential/unlink \
      --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
      --setup-hook="cp -p '$cache'/*.deb \"\$1/var/cache/apt/archives/\" 2>/dev/null || true" \
      --customize-hook="bash '$HERE/customize-rootfs.sh' --save-debs '$cache' \"\$1\"" \
      "$SUITE" "$work/rootfs-$name.tar" \
      "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main" \
      >"$work/mmdebstrap-$arch.log" 2>&1; then
    tail -n 40 "$work/mmdebstrap-$arch.log" >&2
    die "mmdebstrap failed for $arch (log above)"
  fi
  tar -xOf "$work/rootfs-$name.tar" ./usr/share/auren/packages.lock >"$OUT/packages-$name.lock"
  mv "$work/rootfs-$name.tar" "$OUT/rootfs-$name.tar"
  echo "base-image: wrote $OUT/rootfs-$name.tar ($(du -h "$OUT/rootfs-$name.tar" | cut -f1), $(wc -l <"$OUT/packages-$name.lock") packages, sha256 $(sha256sum "$OUT/rootfs-$name.tar" | cut -c1-16)…) in $((SECONDS - started)) s"
done

# One JSON record of every platform's packages, for image.json.
node -e '
  const fs = require("fs"), path = require("path");
  const [out, ...pairs] = process.argv.slice(1);
  const record = {};
  for (const pair of pairs) {
    const [platform, file] = pair.split("=");
    record[platform] = Object.fromEntries(fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => l.split("=")));
  }
  fs.writeFileSync(path.join(out, "packages.json"), JSON.stringify(record, null, 2) + "\n");
' "$OUT" $(for arch in "${archs[@]}"; do n="$(target_arch "$arch")"; p="linux/$n"; [ "$n" = arm ] && p=linux/arm/v7; echo "$p=$OUT/packages-$n.lock"; done)
echo "$inputs" >"$OUT/.inputs"
