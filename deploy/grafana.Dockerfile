# Grafana with the minewatch app plugin (minewatch-campaign-app, the datasource
# minewatch-mining-datasource nested in it) in it, so that `docker compose up`
# on a fresh clone needs no manual step. The plugin is built by the same make
# target the tests run natively (`make plugin`, part of `make test`): frontend
# with Node, backend for linux/amd64 and arm64 with Go, the validator's layout.
# Build from the repository root: docker build -f deploy/grafana.Dockerfile .
ARG GRAFANA_IMAGE=grafana/grafana:11.6.0

FROM node:20-bookworm AS plugin
COPY --from=golang:1.26-bookworm /usr/local/go /usr/local/go
RUN apt-get update \
 && apt-get install -y --no-install-recommends zip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make plugin

FROM ${GRAFANA_IMAGE}
COPY --from=plugin /src/plugin/dist /var/lib/grafana/plugins/minewatch-campaign-app
