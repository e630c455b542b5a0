# sagate — see README.md. `make test` runs every test; `make demo` shows it working.
GO ?= go
BIN ?= bin

.PHONY: all build test test-redis-ha test-hosts deps vet demo bench bench-fleet bench-sidecar-memory bench-scale soak chaos fuzz xcaddy-test clean

all: build

deps:
	@scripts/ensure-deps.sh redis postgres curl chromium node systemd hosts

build:
	$(GO) build -o $(BIN)/sagate ./cmd/sagate
	$(GO) build -o $(BIN)/caddy ./cmd/caddy

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# Every test with -race, then a bounded fuzz step on the parsers that face clients.
# A count, not a duration: go1.26's fuzz coordinator can fail a duration run at its
# deadline with "context deadline exceeded" and no failing input (go.dev/issue/75804,
# fixed in go1.27). 100000 executions take about 10 s per target on 2 cores.
FUZZTIME ?= 100000x
test: deps vet
	$(GO) test -race -count=1 -timeout 12m -skip '$(HA_TESTS)' ./...
	$(MAKE) --no-print-directory test-redis-ha
	$(MAKE) --no-print-directory test-hosts
	$(MAKE) --no-print-directory fuzz

# Redis Sentinel and Cluster failover with real servers (internal/testing/redistest), the
# sidecars under load: about a minute on 2 cores. Part of `make test`.
HA_TESTS = ^Test(Sentinel|Cluster)
test-redis-ha:
	$(GO) test -race -count=1 -timeout 10m -run '$(HA_TESTS)' ./internal/testing/redistest ./keystore/redissync ./keystore/keycache ./e2e

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseAuthorization$$' -fuzztime $(FUZZTIME) ./caddymodule/httpauth
	$(GO) test -run '^$$' -fuzz '^FuzzSanitize$$' -fuzztime $(FUZZTIME) ./caddymodule/httpauth
	$(GO) test -run '^$$' -fuzz '^FuzzCleanPath$$' -fuzztime $(FUZZTIME) ./caddymodule/httpauth
	$(GO) test -run '^$$' -fuzz '^FuzzCheckKey$$' -fuzztime $(FUZZTIME) ./keystore/wire
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRecord$$' -fuzztime $(FUZZTIME) ./keystore/wire
	$(GO) test -run '^$$' -fuzz '^FuzzOpenSealed$$' -fuzztime $(FUZZTIME) ./keystore/wire
	$(GO) test -run '^$$' -fuzz '^FuzzEncodeRecord$$' -fuzztime $(FUZZTIME) ./keystore/wire

# The demo: Redis, admin, sample API and a Caddy sidecar; KEEP=1 leaves them running.
demo:
	@KEEP=$(KEEP) scripts/demo.sh

# Benchmarks side by side with plain Caddy reverse_proxy (installs wrk); see BENCHMARKS.md.
bench:
	@scripts/bench.sh

# What a fleet of sidecars costs one Redis (internal/tools/bench/fleet; see BENCHMARKS.md):
# for each size in FLEET_SIZES, at most FLEET_REAL Caddy processes and simulated followers
# for the rest; revocation p50/p99 to the last one, Redis connections and idle CPU per
# sidecar, a Redis restart. Writes docs/bench/sidecars.csv. About 6 minutes with the defaults.
FLEET_SIZES ?= 1,10,50,100
FLEET_REAL ?= 5
FLEET_IDLE ?= 30s
FLEET_REVOCATIONS ?= 200
FLEET_CSV ?= docs/bench/sidecars.csv
bench-fleet:
	@scripts/ensure-deps.sh redis
	$(GO) build -o $(BIN)/sagate ./cmd/sagate
	$(GO) build -o $(BIN)/caddy ./cmd/caddy
	$(GO) build -o $(BIN)/upstream ./examples/upstream
	$(GO) build -o $(BIN)/fleet ./internal/tools/bench/fleet
	$(BIN)/fleet -bin $(BIN) -sizes $(FLEET_SIZES) -real $(FLEET_REAL) -idle $(FLEET_IDLE) \
		-revocations $(FLEET_REVOCATIONS) -csv $(FLEET_CSV)
	@scripts/plot-fleet.sh $(FLEET_CSV)

# A sidecar's memory with a full cache, against the keys Redis holds (BENCHMARKS.md, "A fleet
# of sidecars"): for each N of MEMORY_REDIS_KEYS keys in Redis and each cache_size C of
# MEMORY_CACHE_SIZES, the Caddy's RSS after C distinct keys and after 2C, to MEMORY_CSV.
# About 5 minutes the first time (the stores are kept in bin/bench-cache), 3 after.
MEMORY_REDIS_KEYS ?= 10000 100000 1000000
MEMORY_CACHE_SIZES ?= 10000 100000
MEMORY_CSV ?= docs/bench/sidecar-memory.csv
bench-sidecar-memory:
	@MEMORY_REDIS_KEYS="$(MEMORY_REDIS_KEYS)" MEMORY_CACHE_SIZES="$(MEMORY_CACHE_SIZES)" MEMORY_CSV="$(MEMORY_CSV)" \
		GO="$(GO)" BIN="$(BIN)" scripts/bench-sidecar-memory.sh

# The keys cost curves (BENCHMARKS.md, "Scale: keys"): full sync, repair and Redis memory
# per number of keys, to docs/bench/keys.csv and its charts. SCALE_KEYS sets the sizes
# (e.g. "10000 100000 1000000 10000000": the last takes about 11 minutes idle and 8 GB of
# memory); SCALE_EXACT_MAX, up to which size a repair sealing every key is timed too.
SCALE_KEYS ?= 10000 100000 1000000
SCALE_EXACT_MAX ?= 1000000
SCALE_CSV ?= docs/bench/keys.csv
bench-scale:
	$(GO) run ./internal/tools/bench/keyscale -sizes "$(SCALE_KEYS)" -exact-max $(SCALE_EXACT_MAX) -out $(SCALE_CSV)
	@scripts/plot-keys.sh $(SCALE_CSV)

# At least 60 s at full speed with valid, revoked and garbage keys while keys are revoked
# and roles change: zero wrong decisions, flat memory and goroutines (see internal/tools/soak).
soak:
	@scripts/soak.sh

# Chaos (e2e/chaos_test.go): two admins on one PostgreSQL, two Caddy sidecars, traffic and
# about six changes a second, random faults (Redis killed, frozen past a failover, emptied;
# a replica, a Sentinel, an admin, a sidecar killed) on one Redis, Sentinel and Cluster; every
# answer checked against what the admins acknowledged. CHAOS_DURATION per topology;
# CHAOS_SEED replays a run (the seed is printed). `make test` runs 20 s of each.
CHAOS_DURATION ?= 3m
chaos: deps
	CHAOS_DURATION=$(CHAOS_DURATION) CHAOS_SEED=$(CHAOS_SEED) $(GO) test -count=1 -timeout 60m -v -run '^Test(ChaosSingleRedis|SentinelChaos|ClusterChaos)$$' ./e2e

# docs/walkthrough.md across hosts: network namespaces with their own addresses (one
# Redis, two admins on PostgreSQL, three API hosts), then an API host, the Redis host and
# an admin lost in turn (e2e/hosts_test.go). Needs root, ip netns, socat and python3;
# says so and skips when it cannot run. About 25 s on 2 cores once built; a step of `make test`.
test-hosts: deps
	SAGATE_HOSTS_TEST=1 $(GO) test -count=1 -timeout 10m -v -run '^TestWalkthroughAcrossHosts$$' ./e2e

# Builds a Caddy with xcaddy from this checkout, as xcaddy.md says, and one with
# caddy-ratelimit too, whose global limit operations.md describes (slow; on demand).
xcaddy-test:
	command -v xcaddy >/dev/null || $(GO) install github.com/caddyserver/xcaddy/cmd/xcaddy@latest
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" SAGATE_XCADDY_TEST=1 $(GO) test -count=1 -timeout 60m -run '^TestXcaddy(Build|GlobalRateLimit)$$' -v ./caddymodule

clean:
	rm -rf $(BIN)

# Static binaries of sagate and of Caddy with the module for linux/amd64 and linux/arm64,
# with their version (VERSION=v1.2.3, default: the tag on HEAD or a pseudo-version) and
# SHA256SUMS, into dist/ (DIST=…); ARCHES="linux/amd64" for fewer. On demand, not in test.
.PHONY: release
release:
	@GO=$(GO) scripts/release.sh
