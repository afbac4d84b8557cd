# klassify's container image: the CLI, production dependencies only, and the shipped model.
# Kafka is the cluster's (or docker-compose.yml's), so no Java is needed here. Unbuilt in this project's CI
# (no Docker engine there); test/unit/dockerfile.test.ts lints it with hadolint and checks the rules below.
# Build: docker build -t klassify:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
ARG NODE_VERSION=22.21.1

# 1. Compile TypeScript with the dev dependencies.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the root "prepare" script would build before the sources are copied; onnxruntime-node's
# install script only fetches CUDA files, which .npmrc skips anyway.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY consumers ./consumers
COPY inference-pool ./inference-pool
COPY brands ./brands
COPY rollout ./rollout
COPY bench ./bench
RUN npm run build

# 2. Production dependencies alone, in their own stage so that npm's cache never reaches the image.
FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
# Set by BuildKit (amd64 | arm64); onnxruntime-node names them x64 | arm64.
ARG TARGETARCH=amd64
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && arch="$(if [ "$TARGETARCH" = amd64 ]; then echo x64; else echo "$TARGETARCH"; fi)" \
 && test -f "$ort/linux/$arch/onnxruntime_binding.node" \
 && find "$ort" -mindepth 2 -maxdepth 2 ! -path "$ort/linux/$arch" -exec rm -rf {} + \
 && rm -rf /root/.npm
# The find above drops onnxruntime-node's binaries for other systems (about 240 MB of its 287 MB).

# 3. Runtime: node, production node_modules, the compiled CLI, schemas, dashboard assets and the model.
FROM node:${NODE_VERSION}-bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="klassify" \
      org.opencontainers.image.description="Real-time text classification on Kafka (kafkajs, ONNX Runtime)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/node:${NODE_VERSION}-bookworm-slim"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY schemas ./schemas
COPY src/observe/dashboard ./src/observe/dashboard
# The demo's brands file (klassify start --demo).
COPY brands/example-brands.json ./brands/example-brands.json
COPY compiled-models ./compiled-models
# The image's "node" user, by number: Kubernetes' runAsNonRoot can only verify a numeric user.
USER 1000:1000
EXPOSE 9464
# klassify drains, writes and commits on SIGTERM (src/shutdown.ts); a second signal exits at once.
STOPSIGNAL SIGTERM
# No curl in slim images: node's own fetch. /healthz stays open when a metrics token is set.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.KLASSIFY_METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["start"]
