# syntax=docker/dockerfile:1
# The calibration job's image for AWS Batch (docs/calibration-job.md). GPU-capable: gpu.js's WebGPU
# backend runs on Dawn (the `webgpu` package), which needs glibc >= 2.38 and a Vulkan loader, so the
# runtime is Debian 13 with the Vulkan loader; without a GPU the job runs the TypeScript reference on
# every core (worker threads).
#
#   docker build -t selfcal/calibration-job .
#   docker run --rm --gpus all -e SELFCAL_JOB_CONFIG_JSON="$(cat job.json)" selfcal/calibration-job

# 1. Bundle the entrypoint (TypeScript -> CommonJS; npm packages stay external) and, beside it, the
#    entries of the worker threads: those that evaluate the members on every core
#    (kernels/parallel-likelihood.ts looks for dist/job/parallel-likelihood-worker.js next to
#    dist/job/main.js) and those that settle an FMU model's steady states (platform/fmi/steady-state-pool.ts
#    looks for dist/job/steady-state-worker.js there).
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY twin ./twin
COPY platform ./platform
COPY cloud ./cloud
RUN npx esbuild main=cloud/calibration-job/main.ts \
      parallel-likelihood-worker=cloud/calibration-job/kernels/parallel-likelihood-worker.ts \
      steady-state-worker=platform/fmi/steady-state-worker.ts \
      --bundle --platform=node --target=node20 --packages=external --outdir=dist/job

# 2. Production dependencies only (no install scripts: the job needs no native addon built here).
FROM node:20-bookworm AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 3. Runtime: Debian 13 (glibc 2.41, so Dawn loads) with Debian's Node 20 and the Vulkan loader. The same
#    packages make the software-GPU root the CI runs the 'gpu' backend in (scripts/webgpu-root.sh reads
#    RUNTIME_PACKAGES from here and adds Mesa's lavapipe). On a GPU instance the NVIDIA container runtime
#    mounts the driver, its Vulkan library (libGLX_nvidia.so.0) included, only when `graphics` is among
#    NVIDIA_DRIVER_CAPABILITIES; the ICD file below points the loader at it. Without a GPU, `auto` runs
#    the TypeScript reference on every core.
FROM debian:trixie-slim
ARG RUNTIME_PACKAGES="ca-certificates nodejs libvulkan1"
RUN apt-get update \
 && apt-get install -y --no-install-recommends $RUNTIME_PACKAGES \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/vulkan/icd.d \
 && printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3"}}\n' \
      > /etc/vulkan/icd.d/nvidia_icd.json \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin selfcal
ENV NODE_ENV=production \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist/job ./dist/job
COPY package.json ./
USER 10001
ENTRYPOINT ["node", "dist/job/main.js"]
