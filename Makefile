# minewatch — the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
FUZZTIME ?= 15s
BIN     := bin

.PHONY: all build deps test test-go fuzz eval demo bench clean

all: build

build:
	$(GO) build -o $(BIN)/ ./exporter/cmd/...

# Debian packages the tests run against (installs only what is missing).
deps:
	./.ci/deps.sh

# Every test: Go unit and integration tests against the real components,
# short fuzzing of the packet path, and the plugin's frontend checks.
test: deps test-go fuzz plugin-test plugin plugin-check

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeNetFlow$$' -fuzztime $(FUZZTIME) ./exporter/flow
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSFlow$$' -fuzztime $(FUZZTIME) ./exporter/flow

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./exporter/...

clean:
	rm -rf $(BIN) plugin/dist

-include plugin/plugin.mk
