# Build, test and try the Go ambari-agent.

GO       ?= go
BIN      ?= bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
HASH     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X github.com/ambari-go/ambari-agent/internal/version.Version=$(VERSION) \
            -X github.com/ambari-go/ambari-agent/internal/version.Hash=$(HASH)

# make package VERSION=1.0.0 AMBARI_VERSION=2.7.8.0.0: the .deb and .rpm in
# $(DIST); both are refused without a release VERSION and AMBARI_VERSION.
DIST           ?= dist
AMBARI_VERSION ?=

.PHONY: all build test vet bench demo clean package

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ambari-agent ./cmd/ambari-agent
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ambari-sim ./cmd/ambari-sim

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...

# The gate: formatting, vet, and every test with the race detector; the
# end-to-end tests that run stack scripts (commands, status checks, recovery)
# run again with the scripts in fresh interpreters ([python]
# resident_runner=false).
E2E_SCRIPT_TESTS = ^(TestCommand|TestStatus|TestFullDisk)
test: vet
	$(GO) test -race -count=1 -timeout 30m ./...
	AMBARI_E2E_RESIDENT_RUNNER=false $(GO) test -race -count=1 -timeout 30m -run '$(E2E_SCRIPT_TESTS)' ./internal/e2e/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# One agent against the bundled server simulator and the demo stack, in a
# temporary home; Ctrl-C stops both.
demo: build
	./scripts/demo.sh

package:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/stage/ambari-agent ./cmd/ambari-agent
	$(GO) run ./packaging/build -version '$(VERSION)' -ambari-version '$(AMBARI_VERSION)' \
	    -binary $(DIST)/stage/ambari-agent -out $(DIST)

clean:
	rm -rf $(BIN) $(DIST)

# Fuzzing: each target in turn for FUZZTIME. Their seed corpora (f.Add and
# testdata/fuzz/) already run as ordinary tests in `make test`; a failing
# input is written to the package's testdata/fuzz/ to keep as a seed.
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./internal/stompws:FuzzDecoder \
	./internal/config:FuzzParse \
	./internal/cache:FuzzMerge \
	./internal/alerts:FuzzFormat \
	./internal/actionqueue:FuzzDecodeCommands

.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
