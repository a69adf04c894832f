#!/usr/bin/env bash
# Makes a minimal Debian bookworm root filesystem from Debian packages (debootstrap) and packs
# it as dist/base-image/rootfs.tar, the build context of tools/base-image/Dockerfile.
# Needs root (debootstrap chroots). DEBIAN_MIRROR overrides the mirror.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="dist/base-image"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
INCLUDE="$(grep -v '^#' tools/base-image/packages.txt | xargs | tr ' ' ',')"

if ! command -v debootstrap >/dev/null; then
  echo "debootstrap is not installed: run tools/scripts/setup.sh" >&2; exit 2
fi
work="$(mktemp -d /tmp/auren-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "base-image: debootstrap $SUITE from $MIRROR (variant minbase, +$INCLUDE)"
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# Security updates and the same apt sources a Debian container image has.
cat > "$work/rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $SUITE-security main
SOURCES
# Keep images small the way the official slim images do: no package caches, no docs.
cat > "$work/rootfs/etc/apt/apt.conf.d/90auren-slim" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
cat > "$work/rootfs/etc/dpkg/dpkg.cfg.d/90auren-nodoc" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
DPKG
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* \
  "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man" "$work/rootfs/usr/share/info" \
  "$work/rootfs/var/log/"* "$work/rootfs/var/cache/debconf/"*-old "$work/rootfs/debootstrap" 2>/dev/null || true
mkdir -p "$work/rootfs/usr/share/doc"

mkdir -p "$OUT"
# Numeric owners and sorted entries: the tarball depends only on the files.
tar --sort=name --numeric-owner --xattrs -C "$work/rootfs" -cf "$OUT/rootfs.tar.tmp" .
mv "$OUT/rootfs.tar.tmp" "$OUT/rootfs.tar"
echo "base-image: wrote $OUT/rootfs.tar ($(du -h "$OUT/rootfs.tar" | cut -f1))"
