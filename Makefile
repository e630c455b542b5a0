# sagate — see README.md. `make test` runs every test; `make demo` shows it working.
GO ?= go
BIN ?= bin

.PHONY: all build test deps vet clean

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

clean:
	rm -rf $(BIN)
