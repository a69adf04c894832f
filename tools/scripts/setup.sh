#!/usr/bin/env bash
# Installs, idempotently, everything a fresh Debian bookworm machine needs to build, scan, push
# and test: Debian packages (builder, registry, apps' Python dependencies) and the npm workspace.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

APT_PACKAGES=(
  buildah skopeo umoci docker-registry debootstrap nginx openssl apache2-utils git ca-certificates curl
  python3 python3-fastapi python3-uvicorn python3-pytest python3-httpx
  python3-redis python3-kafka python3-psycopg2
  chromium
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present"
fi

# npm ci when node_modules is missing or older than the lockfile (npm writes this marker).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "setup: node_modules up to date"
fi
