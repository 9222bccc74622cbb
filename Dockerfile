# syntax=docker/dockerfile:1
# Build: dev dependencies, TypeScript → dist/. Runtime: production dependencies only, with
# @tensorflow/tfjs-node (the native TensorFlow backend), as a non-root user, under tini.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node's install script would download CUDA libraries; its CPU binaries are in the
# package. package.json's allowScripts leaves the script out; this covers npm versions without it.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=optional
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-if-stale.mjs ./scripts/
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# Installs @tensorflow/tfjs-node (an optional dependency, allowed to run its install script in
# package.json's allowScripts) with its libtensorflow download; fails the build if the native
# backend does not load, rather than shipping an image that falls back to WebAssembly. ONNX
# Runtime is CPU only: the build fails if a CUDA provider was downloaded or the runtime does
# not load.
RUN npm ci --omit=dev --no-audit --no-fund \
  && node -e "require('@tensorflow/tfjs-node')" \
  && node -e "require('onnxruntime-node')" \
  && ! find node_modules/onnxruntime-node -name '*providers_cuda*' | grep -q . \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
  && rm -rf /var/lib/apt/lists/*
# MALLOC_ARENA_MAX: glibc otherwise gives each of the many threads (libuv pool, libvips,
# workers) its own malloc arena; two arenas cut peak RSS under load by about 50 MB.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=8000 \
    GRPC_PORT=8081 \
    MODEL_REPOSITORY=/app/models \
    MODEL_CACHE_DIR=/tmp/model-cache \
    INFERENCE_BACKEND=tensorflow
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The demo page's static files (/demo).
COPY public ./public
# The gRPC service's .proto files, read at start (the protocol's official one, with its licence).
COPY specs/open-inference-protocol/open_inference_grpc.proto specs/open-inference-protocol/LICENSE ./specs/open-inference-protocol/
COPY proto ./proto
# The bundled repository (<name>/<version>/ folders). To serve others, mount a repository
# on /app/models, or set MODEL_REPOSITORY=s3://bucket/prefix.
COPY models ./models
USER node
# HTTP (REST, /v2, /docs, /metrics) and gRPC (the Open Inference Protocol, h2c).
EXPOSE 8000 8081
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini is PID 1: it forwards SIGTERM to node (graceful shutdown) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
# A 4 MB young generation (V8's default grows to 16 MB per semi-space under load): the same
# throughput with about 40 MB less resident memory (docs/performance.md).
CMD ["node", "--max-semi-space-size=4", "dist/server.js"]
