#!/usr/bin/env bash
# A software-GPU test environment for the 'gpu' backend (issue 13): a Debian 13 root with the job image's
# runtime packages (the Dockerfile's RUNTIME_PACKAGES: Node 20 from Debian, the Vulkan loader) plus Mesa's
# lavapipe (Vulkan on the CPU), so Dawn (the `webgpu` package, glibc >= 2.38) finds an adapter and gpu.js
# runs its WebGPU kernels without a GPU. Made from Debian's packages only; a correctness path, not a speed
# claim.
#
#   scripts/webgpu-root.sh ensure          make the root, or reuse the cached one (prints its path)
#   scripts/webgpu-root.sh layer           print what it is made of (the Dockerfile's runtime stage)
#   scripts/webgpu-root.sh exec CMD [ARG…] run CMD in this checkout inside the root
#   scripts/webgpu-root.sh check           the gpu backend's conformance cases, the device lifetime and
#                                          `selfcal calibrate --backend gpu` against `--backend reference`
#                                          (jest, test/unit/cloud/calibration-job/kernels, WebGPU required)
#   scripts/webgpu-root.sh bench           `npm run bench -- kernels` inside the root (member-steps/s of
#                                          gpu on lavapipe, webasm and the reference, same run)
#   scripts/webgpu-root.sh device-check    scripts/device-gpu-check.sh end to end: `prepare` here, `run`
#                                          inside a throwaway layer over the root (as on a device machine)
#
# Needs root (debootstrap, mount, chroot) on Linux x86-64; elsewhere every command but `ensure` prints
# "SKIPPED: <reason>" and exits 0, unless SELFCAL_WEBGPU_REQUIRED=1 (.ci/run sets it), where a skip is a
# failure (exit 3). check, bench and device-check stop after SELFCAL_WEBGPU_TIMEOUT_S (default 900) seconds
# (exit 124). Debian's nodejs has no npx: tools run through their own entry points. The root is cached in $SELFCAL_WEBGPU_ROOT (default /var/cache/selfcal/webgpu-root-<key>,
# the key a hash of the package list): made in a temporary folder and renamed when complete, so a killed
# build is never reused; a lock serialises concurrent runs. Every command runs in its own mount namespace
# (unshare) over an overlay of the root whose upper layer is thrown away: the checkout is bound at its own
# path, with /proc, /sys, /dev and a fresh /tmp; the mounts vanish with the process, however it ends, and
# the cached root stays as made.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
SUITE=trixie
MIRROR="${SELFCAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The software Vulkan driver (lavapipe), standing in for NVIDIA's, and vulkaninfo to name the adapter.
EXTRA_PACKAGES="mesa-vulkan-drivers vulkan-tools"

runtime_packages() {
  # The runtime stage's package list, from the Dockerfile (one source for the image and this root).
  sed -n 's/^ARG RUNTIME_PACKAGES="\([^"]*\)"$/\1/p' "$HERE/Dockerfile"
}

runtime_run() {
  # The runtime stage's RUN command (the one after ARG RUNTIME_PACKAGES), continuation lines joined, as
  # Docker hands it to /bin/sh -c.
  awk '/^ARG RUNTIME_PACKAGES=/ { arg = 1; next }
       arg && /^RUN / { run = 1; sub(/^RUN /, "") }
       run { line = $0; more = sub(/\\$/, "", line); printf "%s", line; if (!more) exit }' "$HERE/Dockerfile"
}

KEY="$(printf '%s\n' "$SUITE" "$MIRROR" "$(runtime_packages)" "$(runtime_run)" "$EXTRA_PACKAGES" | sha256sum | cut -c1-12)"
ROOT="${SELFCAL_WEBGPU_ROOT:-/var/cache/selfcal/webgpu-root-$KEY}"

log() { printf '[webgpu-root] %s\n' "$*" >&2; }

skip() {
  if [ "${SELFCAL_WEBGPU_REQUIRED:-}" = 1 ]; then
    log "FAILED (SELFCAL_WEBGPU_REQUIRED=1): $*"
    exit 3
  fi
  echo "SKIPPED: $*"
  exit 0
}

# Why this machine cannot make or enter the root, or nothing.
unsupported() {
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "needs Linux x86-64, this is $(uname -s)-$(uname -m)"; return; }
  [ "$(id -u)" = 0 ] || { echo "needs root (debootstrap, mount, chroot); running as uid $(id -u)"; return; }
  command -v unshare >/dev/null || { echo "unshare (util-linux) is missing"; return; }
  unshare --mount true 2>/dev/null || { echo "cannot make a mount namespace here (unshare --mount failed)"; return; }
  [ -n "$(runtime_packages)" ] || { echo "Dockerfile has no ARG RUNTIME_PACKAGES line"; return; }
  [ -n "$(runtime_run)" ] || { echo "Dockerfile has no RUN after ARG RUNTIME_PACKAGES"; return; }
  [ -d "$HERE/node_modules/webgpu" ] || { echo "node_modules/webgpu is missing: run npm ci first"; return; }
  return 0
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  log "installing debootstrap (Debian's package)"
  apt-get install -y debootstrap >/dev/null 2>&1 ||
    (apt-get update >/dev/null 2>&1 && apt-get install -y debootstrap >/dev/null 2>&1)
}

ensure() {
  local why
  why="$(unsupported)" && [ -z "$why" ] || skip "$why"
  mkdir -p "$(dirname "$ROOT")"
  exec 9>"$ROOT.lock"
  flock 9
  if [ -f "$ROOT/.selfcal-webgpu-root" ]; then
    echo "$ROOT"
    return 0
  fi
  ensure_debootstrap || skip "debootstrap is not installed and apt-get could not install it"
  local tmp="$ROOT.partial.$$"
  rm -rf "$ROOT".partial.*
  log "making a Debian $SUITE root in $ROOT (debootstrap from $MIRROR, about a minute)"
  if ! debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1; then
    tail -5 "$tmp.log" >&2
    rm -rf "$tmp"
    skip "debootstrap $SUITE from $MIRROR failed (log above)"
  fi
  # The image's runtime layer, as the Dockerfile makes it, then the software Vulkan driver.
  log "running the Dockerfile's runtime RUN (RUNTIME_PACKAGES=\"$(runtime_packages)\"), then installing $EXTRA_PACKAGES"
  if ! chroot "$tmp" env DEBIAN_FRONTEND=noninteractive RUNTIME_PACKAGES="$(runtime_packages)" \
    sh -ec "$(runtime_run)" >>"$tmp.log" 2>&1 ||
    ! chroot "$tmp" env DEBIAN_FRONTEND=noninteractive sh -ec \
      "apt-get update && apt-get install -y --no-install-recommends $EXTRA_PACKAGES && apt-get clean" \
      >>"$tmp.log" 2>&1; then
    tail -5 "$tmp.log" >&2
    rm -rf "$tmp"
    skip "the runtime layer (Dockerfile) or $EXTRA_PACKAGES did not install in the $SUITE root (log above)"
  fi
  rm -f "$tmp.log"
  printf '%s\n' "suite=$SUITE" "mirror=$MIRROR" "runtime=$(runtime_run)" "extra=$EXTRA_PACKAGES" \
    "made=$(date -u +%FT%TZ)" >"$tmp/.selfcal-webgpu-root"
  rm -rf "$ROOT"
  mv "$tmp" "$ROOT"
  echo "$ROOT"
}

# Runs "$*" (a command line for sh, in the checkout) inside the root, in a mount namespace of its own,
# over an overlay of the root whose upper layer is thrown away afterwards.
in_root() {
  local scratch root status=0
  scratch="$(mktemp -d /tmp/webgpu-root-overlay.XXXXXX)"
  mkdir -p "$scratch/upper" "$scratch/work" "$scratch/merged"
  root="$scratch/merged"
  unshare --mount --propagation private -- bash -euc '
    root="$1" lower="$2" scratch="$3" checkout="$4"; shift 4
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$scratch/upper,workdir=$scratch/work" "$root"
    # /tmp first: a checkout under /tmp (CI clones may live there) is bound on top of it, not hidden.
    mount -t tmpfs tmpfs "$root/tmp"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mkdir -p "$root$checkout"
    mount --bind "$checkout" "$root$checkout"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      CI="${CI:-}" SELFCAL_REQUIRE_WEBGPU=1 FORCE_COLOR=0 ${ROOT_ENV:-} sh -c "cd \"\$0\" && $*" "$checkout"
  ' webgpu-root "$root" "$ROOT" "$scratch" "$HERE" "$@" || status=$?
  rm -rf "$scratch"
  return "$status"
}

# check and bench name lavapipe's ICD: the image's NVIDIA ICD file has no driver behind it here, and the
# loader's warnings about it would fill the log (device-check keeps the image's discovery, as on a device).
LAVAPIPE="VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.json"

check() {
  ensure >/dev/null
  export ROOT_ENV="$LAVAPIPE"
  log "vulkan: $(in_root 'vulkaninfo --summary 2>/dev/null | sed -n "s/^[[:space:]]*deviceName *= *//p" | head -1' || true)"
  log "node in the root: $(in_root 'node --version')"
  # A wall limit: a Dawn that never settles hangs the process rather than failing it (seen with gpu.js's
  # onuncapturederror unpatched), and CI should say so in minutes, not at its own limit.
  in_root "timeout --kill-after=10 ${SELFCAL_WEBGPU_TIMEOUT_S:-900} node node_modules/jest/bin/jest.js --ci \
    test/unit/cloud/calibration-job/kernels"
}

bench() {
  ensure >/dev/null
  export ROOT_ENV="$LAVAPIPE"
  # The same bundle as `npm run bench` (dist/bench/run.js, packages from node_modules); JSON to
  # bench-results/ and stdout.
  in_root "node_modules/.bin/esbuild run=test/bench/run.ts \
    parallel-likelihood-worker=cloud/calibration-job/kernels/parallel-likelihood-worker.ts --bundle \
    --platform=node --target=node20 --packages=external --outdir=dist/bench --log-level=warning &&
    timeout --kill-after=10 ${SELFCAL_WEBGPU_TIMEOUT_S:-900} node dist/bench/run.js kernels"
}

device_check() {
  ensure >/dev/null
  "$HERE/scripts/device-gpu-check.sh" prepare
  local out="${OUT:-$HERE/device-out}"
  mkdir -p "$out"
  # As on a device machine: a fresh layer, the carried node and loaders, no npm; $OUT inside the checkout.
  in_root "OUT=$out timeout --kill-after=10 ${SELFCAL_WEBGPU_TIMEOUT_S:-900} scripts/device-gpu-check.sh run"
}

case "${1:-}" in
  ensure) ensure ;;
  layer)
    # What the root is made of, from the Dockerfile (tests compare it with the image's runtime stage).
    printf 'RUNTIME_PACKAGES=%s\nRUN=%s\nEXTRA=%s\n' "$(runtime_packages)" "$(runtime_run)" "$EXTRA_PACKAGES"
    ;;
  exec)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 exec CMD [ARG…]" >&2; exit 2; }
    ensure >/dev/null
    in_root "$(printf '%q ' "$@")"
    ;;
  check | bench | device-check)
    why="$(unsupported)" && [ -z "$why" ] || skip "$why"
    case "$1" in
      check) check ;;
      bench) bench ;;
      device-check) device_check ;;
    esac
    ;;
  *)
    echo "usage: $0 ensure|layer|exec CMD…|check|bench|device-check" >&2
    exit 2
    ;;
esac
