# Grafana datasource plugin; included from the top-level Makefile, paths relative to the repo root.
GO             ?= go
PLUGIN_DIR     := plugin
PLUGIN_ID      := minewatch-mining-datasource
PLUGIN_VERSION := $(shell node -p "require('./$(PLUGIN_DIR)/package.json').version" 2>/dev/null || echo 0.0.0)
PLUGIN_DIST    := $(PLUGIN_DIR)/dist
PLUGIN_EXE     := gpx_minewatch_mining_datasource_linux_amd64
PLUGIN_ZIP     := $(PLUGIN_DIR)/$(PLUGIN_ID)-$(PLUGIN_VERSION).zip

.PHONY: plugin plugin-frontend plugin-backend plugin-test plugin-check plugin-deps

plugin-deps:
	@test -d $(PLUGIN_DIR)/node_modules || (cd $(PLUGIN_DIR) && npm ci --no-audit --no-fund)

plugin-frontend: plugin-deps
	cd $(PLUGIN_DIR) && node scripts/build.mjs

plugin-backend:
	mkdir -p $(PLUGIN_DIST)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -ldflags '-s -w' -o $(PLUGIN_DIST)/$(PLUGIN_EXE) ./$(PLUGIN_DIR)/pkg
	chmod 0755 $(PLUGIN_DIST)/$(PLUGIN_EXE)

plugin: plugin-frontend plugin-backend
	$(PLUGIN_DIR)/scripts/package.sh $(PLUGIN_DIST) $(PLUGIN_ID) $(PLUGIN_ZIP)

plugin-test: plugin-deps
	cd $(PLUGIN_DIR) && npx tsc --noEmit && npx eslint src && npx jest --ci

plugin-check:
	$(PLUGIN_DIR)/scripts/check-dist.py $(PLUGIN_DIST)
