#!/usr/bin/env bash
# One-shot GPU check of the recalibration kernels (issue 6): the kernel conformance cases and the kernels
# benchmark on gpu.js's 'gpu' backend (WebGPU through Dawn → Vulkan), beside webasm, on a GPU machine.
# Not yet run on a GPU machine (none has been lent); verified end to end against the software-GPU root
# (scripts/webgpu-root.sh device-check: `prepare` here, `run` in a fresh Debian 13 layer with lavapipe, no
# npm and no xz), which is also how CI keeps it working.
#
# The device machine has no Node, no npm registry and maybe no Vulkan loader, so everything travels in
# .device/ (ignored by git, named in the device tool's `carry`):
#   1. here:  scripts/device-gpu-check.sh prepare
#        bundles test/unit/cloud/calibration-job/kernels/gpu-check-main.ts (conformance + bench) with
#        esbuild, copies gpu.js, acorn, gpu-mock.js and webgpu's linux-x64 Dawn binding (gzip), this
#        machine's node (gzip: every Linux has it, xz not) and the Vulkan/EGL loader packages (apt-get
#        download, as /work/.library/device/README.md describes) into .device/ (about 50 MiB).
#   2. there: scripts/device-gpu-check.sh run      (device tool: carry [".device"], timeout ~300 s)
#        unpacks node and the Dawn binding, unpacks each loader package whose library the machine lacks,
#        checks glibc (Dawn needs ≥ 2.38) and the Vulkan ICD, then runs the check; results in $OUT: gpu-check.json (every case's max |Δ ln L| and class, the bench
#        JSON with member-steps/s per backend, `gpuToWebasm` and the 30-day windows' wall times on the gpu),
#        gpu-check.log, env.txt. Exit status 1 if a case failed or the gpu backend did not run as
#        WebGPUKernel, 2 if the check could not start (no node, glibc too old).
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=.device

prepare() {
  rm -rf "$DEV" && mkdir -p "$DEV/node_modules" "$DEV/debs"
  # The parallel reference's worker entry is bundled beside gpu-check.js (the bench runs it on threads).
  npx esbuild gpu-check=test/unit/cloud/calibration-job/kernels/gpu-check-main.ts \
    parallel-likelihood-worker=cloud/calibration-job/kernels/parallel-likelihood-worker.ts --bundle \
    --platform=node --target=node20 --external:gpu.js --external:webgpu --outdir="$DEV" --log-level=warning
  for p in gpu.js acorn gpu-mock.js; do cp -r "node_modules/$p" "$DEV/node_modules/"; done
  mkdir -p "$DEV/node_modules/webgpu/dist"
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$DEV/node_modules/webgpu/"
  gzip -9 -c node_modules/webgpu/dist/linux-x64.dawn.node >"$DEV/node_modules/webgpu/dist/linux-x64.dawn.node.gz"
  gzip -9 -c "$(readlink -f "$(command -v node)")" >"$DEV/node.gz"
  local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null
  # shellcheck disable=SC2086
  (cd "$DEV/debs" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  du -sh "$DEV"
}

run() {
  local out="${OUT:-$PWD/device-out}"
  mkdir -p "$out"
  die() {
    echo "device-gpu-check: $*" | tee -a "$out/env.txt" >&2
    exit 2
  }
  # A loader package only where the machine lacks its library (never over the system's own).
  ldconfig
  for f in "$DEV"/debs/*.deb; do
    local lib
    lib="$(dpkg -c "$f" | sed -n 's|.*/\(lib[A-Za-z0-9_]*\.so\.[0-9]*\)\( ->.*\)\?$|\1|p' | head -1)"
    if [ -n "$lib" ] && ldconfig -p | grep -q "$lib "; then continue; fi
    echo "unpacking $(basename "$f") (${lib:-no library found in it})"
    dpkg -x "$f" /
  done
  ldconfig
  if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  local glibc
  glibc="$(ldd --version | head -1 | grep -oE '[0-9]+\.[0-9]+$' || true)"
  [ -n "$glibc" ] && [ "$(printf '%s\n' 2.38 "$glibc" | sort -V | head -1)" = 2.38 ] ||
    die "glibc ${glibc:-unknown} is older than 2.38: Dawn does not load"
  gzip -dc "$DEV/node.gz" >/tmp/node || die "cannot unpack node ($DEV/node.gz)"
  chmod +x /tmp/node
  /tmp/node --version >/dev/null || die "the carried node does not run here"
  gzip -dc "$DEV/node_modules/webgpu/dist/linux-x64.dawn.node.gz" >"$DEV/node_modules/webgpu/dist/linux-x64.dawn.node" ||
    die "cannot unpack the Dawn binding"
  {
    echo "glibc: $(ldd --version | head -1)"
    echo "node: $(/tmp/node --version)"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi: none'
    ldconfig -p | grep -E 'libvulkan|libEGL' || true
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
  } | tee "$out/env.txt"
  # The bundle resolves gpu.js and webgpu from .device/node_modules.
  set -o pipefail
  (cd "$DEV" && /tmp/node gpu-check.js "$out/gpu-check.json" gpu,webasm bench) 2>&1 | tee "$out/gpu-check.log"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
