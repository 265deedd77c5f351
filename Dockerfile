# syntax=docker/dockerfile:1
# One image for every RealApp process: the four services, the migrations, the provider sandbox and
# the ops scripts. docker-compose.yml picks the process with `command`, e.g.
#   node dist/apps/queue-api/src/main.js
# Build: docker build -t realapp .

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- dependencies, with the dev tools the build needs (swc) ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# ---- compile every project with SWC into dist/ (tools/dev/build.mjs) ----
FROM deps AS build
COPY tsconfig.base.json tsconfig.json .swcrc nx.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
RUN node tools/dev/build.mjs

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# tini reaps children and forwards SIGTERM so Nest's shutdown hooks run; the PostgreSQL client runs
# tools/ops/backup.sh, restore.sh and verify-restore.sh from this same image.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini postgresql-client ca-certificates \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    HOST=0.0.0.0
WORKDIR /app
COPY --chown=node:node package.json ./
COPY --from=prod-deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node tools/ops ./tools/ops
RUN mkdir -p /var/log/realapp /var/backups/realapp && chown node:node /var/log/realapp /var/backups/realapp
USER node
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/apps/queue-api/src/main.js"]
