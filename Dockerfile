# syntax=docker/dockerfile:1
# The calibration job's image for AWS Batch (docs/calibration-job.md). GPU-capable: gpu.js's WebGPU
# backend runs on Dawn (the `webgpu` package), which needs glibc >= 2.38 and a Vulkan loader, so the
# runtime is Ubuntu 24.04 with the NVIDIA base; without a GPU the job falls back to WebAssembly/CPU.
#
#   docker build -t selfcal/calibration-job .
#   docker run --rm --gpus all -e SELFCAL_JOB_CONFIG_JSON="$(cat job.json)" selfcal/calibration-job

# 1. Bundle the entrypoint (TypeScript -> one CommonJS file; npm packages stay external).
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY twin ./twin
COPY cloud ./cloud
RUN npx esbuild cloud/calibration-job/main.ts --bundle --platform=node --target=node20 --packages=external --outfile=dist/job/main.js

# 2. Production dependencies only (no install scripts: the job needs no native addon built here).
FROM node:20-bookworm AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 3. Runtime: Ubuntu 24.04 (glibc 2.39) with the NVIDIA container base, the Vulkan loader and Node 20.
FROM nvidia/cuda:12.6.3-base-ubuntu24.04
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libvulkan1 libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/vulkan/icd.d \
 && printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3"}}\n' \
      > /etc/vulkan/icd.d/nvidia_icd.json \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin selfcal
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# The NVIDIA runtime mounts the Vulkan driver only when `graphics` is among the capabilities.
ENV NODE_ENV=production \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist/job ./dist/job
COPY package.json ./
USER 10001
ENTRYPOINT ["node", "dist/job/main.js"]
