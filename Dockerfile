# syntax=docker/dockerfile:1
# Build: dev dependencies, TypeScript → dist/. Runtime: production dependencies only,
# with @tensorflow/tfjs-node (native TensorFlow backend), as a non-root user.
FROM node:20.19.5-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20.19.5-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Installs @tensorflow/tfjs-node (an optional dependency) with its libtensorflow download.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20.19.5-bookworm-slim AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    MODEL_DIR=/app/models/cifar10 \
    INFERENCE_BACKEND=auto
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The bundled model; mount a volume on /app/models (or set MODEL_DIR) to serve another.
COPY models ./models
USER node
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini forwards SIGTERM to node (graceful shutdown) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/server.js"]
