# minewatch — the two commands a newcomer needs are `make demo` and `make test`.
export PATH := /usr/local/go/bin:$(PATH)
GO      ?= go
# A count, not a duration: with a duration Go 1.26's fuzz coordinator can report
# "context deadline exceeded" at the deadline with no failing input (golang/go#75804,
# fixed in Go 1.27; seen in CI on FuzzDecodeSFlow). 100000 runs are ~15 s on 2 cores.
FUZZTIME ?= 100000x
BIN     := bin

.PHONY: all build deps test test-go fuzz eval eval-captures demo demo-deps bench bench-ingest clean

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

# The seeds (exporter/flow/testdata/fuzz: real vendor payloads and every input
# that once failed) also run as plain tests in test-go. A failure found here
# is written by Go below that folder; it is printed, so that it can be added
# to the corpus from CI's log and replayed by `go test`. Minimising a new input is
# bounded by a count too (-fuzzminimizetime), and FUZZTIME is a count (above).
FUZZ_TARGETS := FuzzDecodeNetFlow FuzzDecodeSFlow
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1000x ./exporter/flow || { \
	    echo "fuzz: $$t failed; new failing inputs (commit them under exporter/flow/testdata/fuzz/$$t):"; \
	    git status --porcelain --untracked-files=all exporter/flow/testdata/fuzz | while read -r _ f; do echo "== $$f"; cat "$$f"; done; \
	    exit 1; }; \
	done

# The native demo: fetches the Debian binaries it needs into .cache/debs when
# they are not installed (no root), then runs the stack on loopback.
demo: build demo-deps
	./$(BIN)/minewatch demo

demo-deps:
	./.ci/fetch-debs.sh

# The detection benchmark on the shipped scenarios (a few minutes, ~3 GB for the district).
eval: build
	./$(BIN)/minewatch eval --scenario exporter/scenarios/school-week.yaml \
		--scenario exporter/scenarios/district-day.yaml --scenario exporter/scenarios/hard-negatives.yaml

# The real mining captures of the shared test material through softflowd and pmacctd, the decoder and the scorer.
eval-captures: build
	./$(BIN)/minewatch eval --captures $${MINEWATCH_SHARED:-../shared}/testdata/real-mining-pcaps

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./exporter/...

# The load harness: the exporter against goflow2, nfcapd and pmacct over
# loopback, 3 interleaved runs each with bisection to 3 % (at most 48 minutes,
# usually about half; the bound is printed first), then the state-scale cases
# (10k-1M hosts, many sessions per host) and the profiles.
bench-ingest: build
	./$(BIN)/minewatch bench-ingest --start 100000 --profile docs/profile

clean:
	rm -rf $(BIN) plugin/dist

-include plugin/plugin.mk
