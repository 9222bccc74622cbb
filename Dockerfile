# syntax=docker/dockerfile:1
# Build: dev dependencies, TypeScript → dist/. Deps: production dependencies for the target
# architecture alone, cut to what Node.js loads. Runtime: those, the built server and the
# bundled models, as a non-root user, under tini.
#
#   docker build -t ml-inference-api .                          # ONNX Runtime + TF.js on WebAssembly
#   docker build --build-arg TFJS_NODE=true -t ml-inference-api:tfjs-node .   # + native TensorFlow
#
# npm run image builds it and smoke-tests the container (docs/deployment.md).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# No install script is needed to compile: onnxruntime-node's would download CUDA libraries,
# @tensorflow/tfjs-node's libtensorflow.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-if-stale.mjs ./scripts/
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
# Set by BuildKit and buildah (amd64, arm64): which native binaries ship.
ARG TARGETARCH
# The native TensorFlow backend for TF.js (@tensorflow/tfjs-node, whose install downloads about
# 400 MB of libtensorflow). Off by default: the bundled models run on ONNX Runtime, and TF.js
# runs on WebAssembly. When asked for, the build fails unless the native backend loads.
ARG TFJS_NODE=false
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
COPY scripts/image/prune-modules.mjs ./scripts/image/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && if [ "$TFJS_NODE" = true ]; then \
       npm rebuild @tensorflow/tfjs-node \
       && node -e "const tf = require('@tensorflow/tfjs-node'); if (tf.getBackend() !== 'tensorflow') throw new Error('the native TensorFlow backend did not initialise'); console.log('tfjs-node', tf.version.tfjs, tf.getBackend())"; \
     elif [ "$TFJS_NODE" = false ]; then \
       npm uninstall --no-save --omit=dev --ignore-scripts --no-audit --no-fund @tensorflow/tfjs-node; \
     else echo "TFJS_NODE must be true or false, not '$TFJS_NODE'" >&2; exit 1; fi \
  && node scripts/image/prune-modules.mjs --arch "$TARGETARCH" node_modules \
  && node -e "require('onnxruntime-node'); require('sharp'); require('@tensorflow/tfjs'); require('@tensorflow/tfjs-backend-wasm')" \
  && ! find node_modules/onnxruntime-node -name '*providers_cuda*' | grep -q . \
  && rm -rf scripts \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
  && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log
# MALLOC_ARENA_MAX: glibc otherwise gives each of the many threads (libuv pool, libvips,
# workers) its own malloc arena; two arenas cut peak RSS under load by about 50 MB.
# XDG_CACHE_HOME: ONNX Runtime keeps a device id in ~/.cache; under /tmp, the container writes
# nothing outside /tmp and runs on a read-only root filesystem.
# INFERENCE_BACKEND=auto: native TensorFlow where the image has it (TFJS_NODE=true), else
# WebAssembly.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=8000 \
    GRPC_PORT=8081 \
    MODEL_REPOSITORY=/app/models \
    MODEL_CACHE_DIR=/tmp/model-cache \
    XDG_CACHE_HOME=/tmp/.cache \
    INFERENCE_BACKEND=auto
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
