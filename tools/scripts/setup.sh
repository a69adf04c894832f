#!/usr/bin/env bash
# Installs, idempotently, everything a fresh Debian bookworm machine needs to build, scan, push
# and test: Debian packages (builder, registry, apps' Python dependencies) and the npm workspace.
# Safe to run again: it only installs what is missing.
#   --product-tools    only the Go tools the product runs (trivy, cosign: `product` in
#                      tools/test-tools.txt), into tools/.bin; npm start builds them in the
#                      background. Without Go it says how to get them and exits 0.
#   --test-tools       also every Go tool of tools/test-tools.txt (the tests run all of them)
#   --test-tools-only  only those tools (they need Go, nothing from Debian or npm): test-all.sh
#                      starts their build first and installs the rest while it runs
#   --missing          with a tools option: print the tools that would be built, build nothing
# A tool marked `optional` in the list (Kyverno's CLI: the longest build) is linked when the
# machine's tool cache has it, and built only when AUREN_OPTIONAL_TOOLS names it
# (e.g. AUREN_OPTIONAL_TOOLS=kyverno); the specs that run it are skipped without it.
set -euo pipefail
cd "$(dirname "$0")/../.."

TOOLS=none          # none | product | all
ONLY_TOOLS=false
LIST_MISSING=false
for arg in "$@"; do
  case "$arg" in
    --product-tools) TOOLS=product; ONLY_TOOLS=true ;;
    --test-tools) TOOLS=all ;;
    --test-tools-only) TOOLS=all; ONLY_TOOLS=true ;;
    --missing) LIST_MISSING=true ;;
    *) echo "setup: unknown option $arg (known: --product-tools, --test-tools, --test-tools-only, --missing)" >&2; exit 2 ;;
  esac
done

APT_PACKAGES=(
  buildah skopeo umoci docker-registry nginx openssl apache2-utils git ca-certificates curl
  mmdebstrap arch-test qemu-user-static binfmt-support
  python3 python3-fastapi python3-uvicorn python3-pytest python3-httpx
  python3-redis python3-kafka python3-psycopg2
  chromium
)

# Foreign platforms (the arm64 base root filesystem, RUN steps of linux/arm64 images) run their
# programs under QEMU user emulation: Debian's qemu-user-static handler registered with the
# kernel's binfmt_misc. The registration is kernel-wide and needs root and a writable /proc; where
# that is not allowed, say so and go on: builds for this machine's platform need none of it.
setup_qemu() {
  local dir=/proc/sys/fs/binfmt_misc conf=/usr/lib/binfmt.d/qemu-aarch64.conf entry
  entry="$dir/qemu-aarch64"
  local fix="run this script as root on the host (or: sudo mount -t binfmt_misc binfmt_misc $dir && sudo sh -c 'cat $conf > $dir/register'); until then build for this machine only: AUREN_PLATFORMS=linux/amd64"
  if [ "$(uname -m)" = aarch64 ]; then echo "setup: arm64 runs natively"; return 0; fi
  if [ -e "$entry" ] && head -n1 "$entry" | grep -qx enabled; then
    echo "setup: QEMU arm64 emulation registered ($(sed -n 's/^interpreter //p' "$entry"))"; return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: WARNING: cannot register QEMU arm64 emulation (not root): linux/arm64 builds will fail. Fix: $fix" >&2; return 0
  fi
  if [ ! -e "$dir/register" ] && ! mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null; then
    echo "setup: WARNING: cannot mount binfmt_misc on $dir (read-only /proc or no privilege, e.g. an unprivileged container): linux/arm64 builds will fail. Fix: $fix" >&2; return 0
  fi
  if [ -e "$entry" ]; then
    echo 1 > "$entry" 2>/dev/null || { echo "setup: WARNING: cannot enable $entry. Fix: $fix" >&2; return 0; }
  elif [ ! -r "$conf" ] || ! cat "$conf" > "$dir/register" 2>/dev/null; then
    echo "setup: WARNING: cannot register $conf in $dir/register: linux/arm64 builds will fail. Fix: $fix" >&2; return 0
  fi
  echo "setup: registered QEMU arm64 emulation ($(sed -n 's/^interpreter //p' "$entry"))"
}

# Debian packages, QEMU for foreign platforms, the npm workspace.
install_machine() {
  local missing=() pkg name status sudo=""
  # One dpkg-query for the whole list (a process per package cost a quarter of a second).
  local -A installed=()
  while IFS=$'\t' read -r name status; do
    if [ "$status" = "install ok installed" ]; then installed[$name]=1; fi
  done < <(dpkg-query -W -f='${Package}\t${Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true)
  for pkg in "${APT_PACKAGES[@]}"; do
    [ -n "${installed[$pkg]:-}" ] || missing+=("$pkg")
  done

  if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: Debian packages present"
  fi

  setup_qemu

  # npm ci when node_modules is missing or older than the lockfile (npm writes this marker).
  # A node_modules that is a link belongs to another checkout (test clones share the workspace's):
  # npm ci would empty the folder it points at, so it is never run through one.
  if [ -L node_modules ]; then
    echo "setup: node_modules links to $(readlink node_modules); not installing through the link"
  elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "setup: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  else
    echo "setup: node_modules up to date"
  fi
}

# The tools are Go programs built from the Go module proxy at the versions pinned in
# tools/test-tools.txt. Built binaries live in a per-machine cache keyed by tool and version
# (a fresh clone on the same machine reuses them); tools/.bin (git-ignored) links to them.
# A cached binary is trusted only if Go's own build info names the pinned package and version.
#
# A tool marked `module=<module path>` cannot be `go install`ed: its go.mod has replace
# directives, which `go install <pkg>@<version>` refuses. It is built with `go build` inside the
# module's own folder, downloaded from the proxy at the pinned version (build_in_module). Go stamps
# the main module of such a build `(devel)`, so its version is recorded in a stamp file beside the
# binary (<name>.built: module, version and the binary's SHA-256), written once the build is in
# place; a binary without a matching stamp is built again.
go_binary_is() { # file package version [ldflags] [module]
  [ -x "$1" ] || return 1
  local info; info="$(go version -m "$1" 2>/dev/null)" || return 1
  grep -qE "^[[:space:]]+path[[:space:]]+$2\$" <<<"$info" || return 1
  if [ -n "${5:-}" ]; then
    module_stamp_is "$1" "$5" "$3" || return 1
  else
    grep -qE "^[[:space:]]+mod[[:space:]]+[^[:space:]]+[[:space:]]+$3([[:space:]]|\$)" <<<"$info" || return 1
  fi
  [ -z "${4:-}" ] || grep -qF -- "-ldflags=$4" <<<"$info" || grep -qF -- "-ldflags=\"$4\"" <<<"$info"
}
module_stamp() { # file module version
  echo "$2 $3 sha256:$(sha256sum <"$1" | cut -d' ' -f1)"
}
module_stamp_is() { # file module version
  [ -f "$1.built" ] && [ "$(cat "$1.built")" = "$(module_stamp "$@")" ]
}
# Builds <package> from the <module>@<version> folder of the module cache into <output>. The
# folder is read-only, so nothing is written there: -mod=mod lets go resolve the module's own
# go.mod (with its replace directives) without a vendor folder, and -o puts the binary outside.
build_in_module() { # output module package version ldflags [VAR=value...]
  local out="$1" module="$2" pkg="$3" version="$4" ldflags="$5" info moddir rel; shift 5
  # Outside any go.mod, so that the download is not taken for a change of this checkout's module.
  info="$(cd "$(dirname "$out")" && go mod download -json "$module@$version")" || true
  moddir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  if [ ! -d "$moddir" ]; then echo "go mod download gave no folder for $module@$version: $info"; return 1; fi
  rel="${pkg#"$module"}"
  (cd "$moddir" && env "$@" go build -mod=mod -o "$out" ${ldflags:+-ldflags="$ldflags"} "./${rel#/}")
}

# A product tool already on PATH (outside tools/.bin) at the pinned version is used as it is: a
# team's own trivy or cosign package, or one a CI image ships. Without Go its build info cannot
# be read, so its own version output decides.
binary_is() { # file package version [ldflags] [module]
  if command -v go >/dev/null; then go_binary_is "$@"; return; fi
  if [ -n "${5:-}" ]; then [ -x "$1" ] && module_stamp_is "$1" "$5" "$3"; return; fi
  [ -x "$1" ] && "$1" version 2>/dev/null | grep -qE "(^|[^0-9.])${3#v}([^0-9.]|\$)"
}
on_path_at_version() { # name package version
  local found; found="$(PATH="$(sed -E "s#(^|:)$PWD/tools/\.bin(:|\$)#\1#" <<<"$PATH")" command -v "$1" 2>/dev/null)" || return 1
  binary_is "$found" "$2" "$3"
}

install_tools() { # product | all
  local scope="$1" cache="${AUREN_TOOLS_CACHE:-$HOME/.cache/auren/tools}" bin="tools/.bin"
  # The list is read whole before any build: a checkout that changes it mid-build must not be
  # read half old, half new.
  local lines=() line
  mapfile -t lines < tools/test-tools.txt
  local name pkg version extra dir built=0 word buildenv ldflags module product optional missing=()
  local wanted=()
  for line in "${lines[@]}"; do
    read -r name pkg version extra <<<"$line"
    case "$name" in ''|'#'*) continue ;; esac
    product=false; optional=false; buildenv=(); ldflags=""; module=""
    for word in $extra; do
      case "$word" in
        product) product=true ;;
        optional) optional=true ;;
        ldflags=*) ldflags="${word#ldflags=}" ;;
        module=*) module="${word#module=}" ;;
        *) buildenv+=("$word") ;;
      esac
    done
    if [ "$scope" = product ] && ! $product; then continue; fi
    wanted+=("$name")
    dir="$cache/$name@$version"
    if [ "$scope" = product ] && on_path_at_version "$name" "$pkg" "$version"; then
      $LIST_MISSING || echo "setup: $name $version on PATH ($(command -v "$name")), used as it is"
      continue
    fi
    if binary_is "$dir/$name" "$pkg" "$version" "$ldflags" "$module"; then
      $LIST_MISSING || { mkdir -p "$bin"; [ "$(readlink "$bin/$name" 2>/dev/null)" = "$dir/$name" ] || ln -sfn "$dir/$name" "$bin/$name"; }
      continue
    fi
    if $optional && ! grep -qwF "$name" <<<"${AUREN_OPTIONAL_TOOLS:-}"; then
      $LIST_MISSING || echo "setup: $name $version not built (optional; AUREN_OPTIONAL_TOOLS=$name builds it): the specs that run it are skipped"
      continue
    fi
    missing+=("$name")
    $LIST_MISSING && continue
    if ! command -v go >/dev/null; then
      local how="install Go 1.24 or newer (https://go.dev/dl/) and run again, or put $name $version on PATH"
      if [ "$scope" = product ]; then
        echo "setup: WARNING: $name $version is not on PATH and cannot be built here (no Go): $how. Until then scans say why they did not run and pushes are not signed." >&2
        continue
      fi
      echo "setup: the test tools are built with Go, which is not installed: $how" >&2
      return 1
    fi
    mkdir -p "$cache" "$bin"
    # One build at a time per cache: two runs must not build the same tool twice.
    exec 9>"$cache/.lock"; flock 9
    if ! go_binary_is "$dir/$name" "$pkg" "$version" "$ldflags" "$module"; then
      local seeded=false seed
      # AUREN_TOOLS_SEED: space-separated folders of binaries built before (e.g. by CI's image); used only when
      # their build info names exactly the pinned package and version.
      for seed in ${AUREN_TOOLS_SEED:-}; do
        if go_binary_is "$seed/$name" "$pkg" "$version" "$ldflags" "$module"; then
          mkdir -p "$dir"; cp "$seed/$name" "$dir/$name.tmp" && mv "$dir/$name.tmp" "$dir/$name"
          [ -z "$module" ] || cp "$seed/$name.built" "$dir/$name.built"
          echo "setup: $name $version taken from $seed"; seeded=true; break
        fi
      done
      if ! $seeded; then
        local tmp; tmp="$(mktemp -d "$cache/.build-$name.XXXXXX")"
        local start=$SECONDS ok=true
        if [ -n "$module" ]; then
          echo "setup: building $name $version (go build $pkg in the folder of $module@$version)"
          build_in_module "$tmp/$name" "$module" "$pkg" "$version" "$ldflags" "${buildenv[@]}" >"$tmp/build.log" 2>&1 || ok=false
        else
          echo "setup: building $name $version (go install $pkg@$version)"
          env "${buildenv[@]}" GOBIN="$tmp" go install ${ldflags:+-ldflags="$ldflags"} "$pkg@$version" >"$tmp/build.log" 2>&1 || ok=false
        fi
        if ! $ok; then
          echo "setup: building $name $version failed:" >&2; tail -n 20 "$tmp/build.log" >&2
          rm -rf "$tmp"; exec 9>&-; return 1
        fi
        mkdir -p "$dir"; rm -f "$dir/$name.built"; mv "$tmp/$name" "$dir/$name"; rm -rf "$tmp"
        [ -z "$module" ] || module_stamp "$dir/$name" "$module" "$version" >"$dir/$name.built"
        echo "setup: built $name $version in $((SECONDS - start)) s"; built=$((built + 1))
      fi
    fi
    exec 9>&-
    [ "$(readlink "$bin/$name" 2>/dev/null)" = "$dir/$name" ] || ln -sfn "$dir/$name" "$bin/$name"
  done
  if $LIST_MISSING; then ((${#missing[@]} == 0)) || echo "${missing[*]}"; return 0; fi
  if ((built == 0 && ${#missing[@]} == 0)); then echo "setup: tools present (${wanted[*]}) in $bin or on PATH"; fi
}

$ONLY_TOOLS || $LIST_MISSING || install_machine
if [ "$TOOLS" != none ]; then install_tools "$TOOLS"; fi
