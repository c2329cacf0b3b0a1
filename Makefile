# Thrust: a RocketMQ-compatible broker with a deterministic simulator.
# `make` lists the targets.

GO        ?= go
GOFLAGS   ?=
BIN       := bin
# Nested modules: tests that need the official RocketMQ client or other
# dependencies the broker's own module must not carry.
NESTED    := broker/interop broker/message/gocheck broker/namesrv/gocheck
FUZZTIME  ?= 30s

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build mqnamesrv, mqbroker, mqsim, mqbench into bin/
	$(GO) build $(GOFLAGS) -o $(BIN)/ ./cmd/...

.PHONY: run
run: build ## run a name server and a broker in one process on 127.0.0.1 (store in ~/store)
	$(BIN)/mqbroker -standalone -c conf/broker.conf

.PHONY: test
test: ## vet, lint and every test, nested modules included (fuzz seeds run too)
	$(GO) vet ./...
	$(GO) test $(GOFLAGS) -count=1 ./...
	@for m in $(NESTED); do \
		if [ -f $$m/go.mod ]; then echo "== $$m"; (cd $$m && $(GO) vet ./... && $(GO) test $(GOFLAGS) -count=1 ./...) || exit 1; fi; \
	done

.PHONY: test-race
test-race: ## the main module's tests under the race detector
	$(GO) test -race -count=1 ./...

.PHONY: lint
lint: ## gofmt, vet and the determinism/layering lint test
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 ./internal/lint

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	$(GO) test -run=^$$ -fuzz=FuzzFrame -fuzztime=$(FUZZTIME) ./broker/remoting
	$(GO) test -run=^$$ -fuzz=FuzzJSONHeader -fuzztime=$(FUZZTIME) ./broker/remoting
	$(GO) test -run=^$$ -fuzz=FuzzBinaryHeader -fuzztime=$(FUZZTIME) ./broker/remoting
	$(GO) test -run=^$$ -fuzz=FuzzDecodeRecord -fuzztime=$(FUZZTIME) ./broker/message
	$(GO) test -run=^$$ -fuzz=FuzzDecodeBatch -fuzztime=$(FUZZTIME) ./broker/message
	$(GO) test -run=^$$ -fuzz=FuzzRecoverSegment -fuzztime=$(FUZZTIME) ./broker/store

.PHONY: sim
sim: ## mqsim: a 200-seed sweep must pass, and every planted bug must be caught by its checker
	$(GO) build -o $(BIN)/mqsim ./cmd/mqsim
	$(BIN)/mqsim sweep -seeds 1..200 -report out/mqsim
	$(BIN)/mqsim bugs -verify -seeds 1..200 -report out/mqsim-bugs

.PHONY: bench
bench: ## store put (SYNC vs ASYNC) and pull benchmarks, printing msg/s and bytes/s
	$(GO) test -run=^$$ -bench=. -benchtime=2s ./broker/store

.PHONY: bench-quick
bench-quick: build ## mqbench's two-minute preset into out/bench-quick (report.html, report.md)
	$(BIN)/mqbench run -workload benchmarks/workloads/quick.yaml -out out/bench-quick

.PHONY: bench-full
bench-full: build ## mqbench's full matrix, three repetitions (about an hour), into out/bench-full
	$(BIN)/mqbench run -workload benchmarks/workloads/full.yaml -out out/bench-full

.PHONY: nats
nats: ## install nats-server (pinned) for mqbench's JetStream rows
	benchmarks/install-nats.sh

.PHONY: ci
ci: export MQBENCH_REQUIRE_JETSTREAM = 1
ci: nats lint test sim ## what .ci/run runs on a clean clone (installs nats-server for mqbench's smoke test)

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)
