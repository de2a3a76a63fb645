#!/usr/bin/env bash
# One-shot GPU check of the recalibration kernels (issue 6): the kernel conformance cases and the kernels
# benchmark on gpu.js's 'gpu' backend (WebGPU through Dawn → Vulkan), beside webasm, on a GPU machine.
# UNTESTED on a GPU machine (none was lent when it was written); the prepare step and the bundle were
# run on the development machine.
#
# The device machine has no Node, no npm registry and maybe no Vulkan loader, so everything travels in
# .device/ (ignored by git, named in the device tool's `carry`):
#   1. here:  scripts/device-gpu-check.sh prepare
#        bundles test/unit/cloud/calibration-job/kernels/gpu-check-main.ts (conformance + bench) with
#        esbuild, copies gpu.js, acorn, gpu-mock.js and webgpu's linux-x64 Dawn binding, this machine's
#        node (xz-compressed) and the Vulkan/EGL loader packages (apt-get download, as
#        /work/.library/device/README.md describes) into .device/ (about 50 MiB).
#   2. there: scripts/device-gpu-check.sh run      (device tool: carry [".device"], timeout ~300 s)
#        unpacks the loaders and node, checks glibc (Dawn needs ≥ 2.38) and the Vulkan ICD, then runs
#        the check; results in $OUT: gpu-check.json (every case's max |Δ ln L| and class, the bench
#        JSON with member-steps/s per backend and the 30-day-window wall times), gpu-check.log, env.txt.
#        Exit status 1 if a case failed or the gpu backend did not run as WebGPUKernel.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=.device

prepare() {
  grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
  rm -rf "$DEV" && mkdir -p "$DEV/node_modules" "$DEV/debs"
  npx esbuild test/unit/cloud/calibration-job/kernels/gpu-check-main.ts --bundle --platform=node \
    --target=node20 --external:gpu.js --external:webgpu --outfile="$DEV/gpu-check.js" --log-level=warning
  for p in gpu.js acorn gpu-mock.js; do cp -r "node_modules/$p" "$DEV/node_modules/"; done
  mkdir -p "$DEV/node_modules/webgpu/dist"
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$DEV/node_modules/webgpu/"
  cp node_modules/webgpu/dist/linux-x64.dawn.node "$DEV/node_modules/webgpu/dist/"
  xz -T0 -6 -c "$(readlink -f "$(command -v node)")" >"$DEV/node.xz"
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
  for f in "$DEV"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  xz -dc "$DEV/node.xz" >/tmp/node && chmod +x /tmp/node
  {
    echo "glibc: $(ldd --version | head -1)"
    echo "node: $(/tmp/node --version)"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
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
