# The two set-up commands of the README: `make demo` and `make test`.
GO ?= go

.PHONY: build demo test deps golden bench

build:
	$(GO) build -o drsync ./cmd/drsync

deps:
	./scripts/install-deps.sh

# Builds a loop-mounted btrfs sandbox from the embedded homelab example,
# plans, applies, plans again, lists what exists and tears it down.
demo: deps build
	./drsync demo

# Every test: unit, golden, CLI scripts and integration tests on real
# loop-mounted btrfs (skipped with the reason where not root).
test: deps
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# Rewrites every golden file and testscript cmp file after an intended
# change (internal/golden reads DRSYNC_UPDATE); review the diff. Only the
# packages whose tests use internal/golden run.
golden:
	DRSYNC_UPDATE=1 $(GO) test -count=1 $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | awk '/internal\/golden/ { print $$1 }')

bench: deps build
	./bench/plan-vs-btrbk.sh
