#!/usr/bin/env bash
# mmdebstrap --customize-hook: runs on the host with the finished root filesystem as $1, before
# mmdebstrap's own cleanup (apt lists and caches, dpkg/apt logs, ldconfig's aux-cache) and before
# the tar is packed. It removes what else records the build machine or the build time, and
# writes the package list the image was made from. Nothing here runs inside the (possibly
# foreign-architecture) root, so it costs no QEMU time.
#
# Usage: customize-rootfs.sh [--save-debs <cache>] <root>
#   --save-debs  first keep the downloaded .debs in <cache> for the next build; each file is
#                renamed into place, so builds running at the same time never read a partial one
set -euo pipefail
cache=""
if [ "${1:-}" = --save-debs ]; then cache="$2"; shift 2; fi
root="$1"
if [ -n "$cache" ]; then
  for deb in "$root"/var/cache/apt/archives/*.deb; do
    [ -e "$deb" ] || continue
    name="${deb##*/}"
    [ -e "$cache/$name" ] && continue
    cp "$deb" "$cache/.$name.$$" && mv -f "$cache/.$name.$$" "$cache/$name"
  done
fi
[ -d "$root/var/lib/dpkg" ] || { echo "customize-rootfs: $root is not a Debian root filesystem" >&2; exit 2; }

# The host's resolver and name leak in (mmdebstrap copies them for debootstrap compatibility);
# container engines bind-mount their own over these paths at run time.
: > "$root/etc/resolv.conf"
: > "$root/etc/hostname"
# machine-id(5): an image used on many machines has none; one is made at first boot if needed.
rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
# Logs, backups of the previous state (debconf, dpkg) and caches say when and where it was made.
find "$root/var/log" -type f -delete
rm -f "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root/var/cache/ldconfig/aux-cache"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/tmp/*
mkdir -p "$root/var/lib/apt/lists/partial"

# The package list (name=version, sorted), read from the root's dpkg database by the host's
# dpkg-query: the same answer as inside, without emulating a foreign architecture. A rebuild
# that picked up a Debian security update shows up here, not as an unexplained digest change.
mkdir -p "$root/usr/share/auren"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Abbrev}${Package}=${Version}\n' \
  | sed -n 's/^ii *//p' | LC_ALL=C sort > "$root/usr/share/auren/packages.lock"
chmod 0644 "$root/usr/share/auren/packages.lock"
