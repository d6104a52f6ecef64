# Grafana app plugin minewatch-campaign-app with the minewatch-mining-datasource datasource nested in
# it (dist/datasource/: its plugin.json, module.js and Go backend); included from the top-level
# Makefile, paths relative to the repo root.
GO             ?= go
PLUGIN_DIR     := plugin
PLUGIN_ID      := minewatch-campaign-app
PLUGIN_DS_ID   := minewatch-mining-datasource
PLUGIN_VERSION := $(shell node -p "require('./$(PLUGIN_DIR)/package.json').version" 2>/dev/null || echo 0.0.0)
PLUGIN_DIST    := $(PLUGIN_DIR)/dist
# Grafana looks for a nested plugin's executable beside its own plugin.json.
PLUGIN_DS_DIST := $(PLUGIN_DIST)/datasource
PLUGIN_EXE     := gpx_minewatch_mining_datasource
PLUGIN_ARCHES  := amd64 arm64
PLUGIN_ZIP     := $(PLUGIN_DIR)/$(PLUGIN_ID)-$(PLUGIN_VERSION).zip
# The harness's second Grafana major has @grafana/* packages of its own.
PLUGIN_G12     := $(PLUGIN_DIR)/harness/grafana-12

.PHONY: plugin plugin-frontend plugin-backend plugin-test plugin-harness plugin-check plugin-schema plugin-meta plugin-deps plugin-screenshots plugin-panels screenshots

plugin-deps:
	@test -d $(PLUGIN_DIR)/node_modules || (cd $(PLUGIN_DIR) && npm ci --no-audit --no-fund)
	@test -d $(PLUGIN_G12)/node_modules || (cd $(PLUGIN_G12) && npm ci --no-audit --no-fund --ignore-scripts)

plugin-frontend: plugin-deps
	cd $(PLUGIN_DIR) && node scripts/build.mjs

# linux/amd64 (what the catalogue requires) and linux/arm64, into the nested datasource's folder;
# go_plugin_build_manifest (at the top, where the validator reads it) lists the sha256 of every Go
# file of the source tree, as the SDK's build writes it.
plugin-backend:
	mkdir -p $(PLUGIN_DS_DIST)
	for arch in $(PLUGIN_ARCHES); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w' \
	    -o $(PLUGIN_DS_DIST)/$(PLUGIN_EXE)_linux_$$arch ./$(PLUGIN_DIR)/pkg || exit 1; \
	  chmod 0755 $(PLUGIN_DS_DIST)/$(PLUGIN_EXE)_linux_$$arch; \
	done
	$(PLUGIN_DIR)/scripts/go-manifest.sh . > $(PLUGIN_DIST)/go_plugin_build_manifest

plugin: plugin-frontend plugin-backend
	$(PLUGIN_DIR)/scripts/package.sh $(PLUGIN_DIST) $(PLUGIN_ID) $(PLUGIN_ZIP)

# Typecheck, lint, unit tests; then the packaged module.js in headless chromium for each Grafana
# major (harness/harness.test.mjs), and the version line.
plugin-test: plugin-deps plugin-harness
	cd $(PLUGIN_DIR) && npx tsc --noEmit && npx eslint src && npx jest --ci
	cd $(PLUGIN_DIR) && node scripts/check-versions.mjs

# The per-panel harness (dashboards/grafana_test.go driving harness/panels.mjs) runs in `go test
# ./...`: it needs @grafana/data from node_modules, so test-go installs them first.
test-go: plugin-deps

# The per-panel harness alone: every panel of every dashboard from the built backend over gRPC on
# a seeded VictoriaMetrics, through @grafana/data's transformations, overrides and reducers.
plugin-panels: plugin-deps
	$(GO) test -count=1 -run '^TestPanelsAsGrafanaShowsThem$$' -v ./dashboards

plugin-harness: plugin-frontend
	cd $(PLUGIN_DIR) && node --test --test-reporter=spec harness/

# plugin.json against Grafana's own plugin.schema.json. Not part of `make test` yet: the schema is
# Grafana's text (AGPL in grafana/grafana's docs), so it is not in this repository; it is looked for in
# $$GRAFANA_PLUGIN_SCHEMA or the shared folder (grafana/plugin.schema.json), which does not hold it today;
# no npm package ships it either (see the script's header). Both plugin.json files are checked.
plugin-schema: plugin
	node $(PLUGIN_DIR)/scripts/check-schema.mjs $(PLUGIN_DIST)/plugin.json $(PLUGIN_DS_DIST)/plugin.json

# In `make test` (through plugin-check) in the schema's stead, and honestly NOT the schema: both
# packaged plugin.json files against the TypeScript types of plugin metadata that @grafana/data
# publishes (PluginMeta, AppPluginMeta, DataSourcePluginMeta, adapted to the file in
# scripts/plugin-meta.ts), compiled with tsc. It catches unknown or misspelt keys, missing required
# keys, values of the wrong type and outside the enums; not the schema's patterns (id, version
# range), formats or per-type rules. The test shows it failing on broken copies.
plugin-meta: plugin-frontend
	cd $(PLUGIN_DIR) && node scripts/check-plugin-meta.mjs dist/plugin.json dist/datasource/plugin.json
	cd $(PLUGIN_DIR) && node --test scripts/check-plugin-meta.test.mjs

# The editors as Grafana renders them, into docs/screenshots/.
plugin-screenshots: plugin-frontend
	cd $(PLUGIN_DIR) && MINEWATCH_SCREENSHOTS=$(CURDIR)/docs/screenshots node --test --test-reporter=spec harness/

# Every dashboard at 1920×1080 (docs/screenshots/<dashboard>.png) drawn with @grafana/ui from the
# per-panel harness's frames, and the editors.
screenshots: plugin-deps plugin-screenshots
	MINEWATCH_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestPanelsAsGrafanaShowsThem$$' -v ./dashboards

# The zip against the plugin validator's rules; then the checker itself must refuse broken zips.
plugin-check: plugin plugin-meta
	python3 $(PLUGIN_DIR)/scripts/check-zip.py $(PLUGIN_ZIP) --source . --plugin-src $(PLUGIN_DIR)/src --package-json $(PLUGIN_DIR)/package.json
	PLUGIN_ZIP=$(PLUGIN_ZIP) python3 -m unittest discover -s $(PLUGIN_DIR)/scripts -p 'test_*.py' -v
