# sagate — see README.md. `make test` runs every test; `make demo` shows it working.
GO ?= go
BIN ?= bin

.PHONY: all build test deps vet demo bench soak fuzz clean

all: build

deps:
	@scripts/ensure-deps.sh redis postgres curl

build:
	$(GO) build -o $(BIN)/sagate ./cmd/sagate
	$(GO) build -o $(BIN)/caddy ./cmd/caddy

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -count=1 -timeout 12m ./...

# The demo: Redis, admin, sample API and a Caddy sidecar; KEEP=1 leaves them running.
demo:
	@KEEP=$(KEEP) scripts/demo.sh

# Benchmarks side by side with plain Caddy reverse_proxy (installs wrk); see BENCHMARKS.md.
bench:
	@scripts/bench.sh

clean:
	rm -rf $(BIN)
