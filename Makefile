# The two set-up commands of the README: `make demo` and `make test`.
GO ?= go

.PHONY: build demo test deps golden bench fuzz mutate

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
	$(GO) test -count=1 -timeout 40m ./...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME_TEST)

# Fuzz targets: their seed corpora (and testdata/fuzz, what fuzzing found)
# run as regression tests in `go test`; here each also fuzzes for FUZZTIME.
# `make test` gives each 2000 inputs (a count, not a duration: a duration
# that ends while an input runs fails with "context deadline exceeded"),
# `make fuzz` a minute.
FUZZTIME ?= 60s
FUZZTIME_TEST ?= 2000x
FUZZ_TARGETS = ./snapname:FuzzParse ./schema:FuzzLoad ./providers/archive:FuzzVerifyMemberNames ./watch:FuzzWebhook
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

# Mutation testing (gremlins, installed here at a pinned version): one
# TARGET line per package; slow, every mutant reruns its package's tests.
GREMLINS_VERSION ?= v0.6.0
mutate:
	$(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)
	./scripts/mutate.sh $(MUTATE_PKGS)

# Rewrites every golden file and testscript cmp file after an intended
# change (internal/golden reads DRSYNC_UPDATE); review the diff. Only the
# packages whose tests use internal/golden run.
golden:
	DRSYNC_UPDATE=1 $(GO) test -count=1 $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | awk '/internal\/golden/ { print $$1 }')

bench: deps build
	./bench/plan-vs-btrbk.sh
	./bench/plan-scale.sh
	./bench/history.sh
	./bench/sample-vs-find.sh
	./bench/verify-vs-diff.sh
	./bench/recover-vs-raw.sh
	./bench/drill-vs-raw.sh
	./bench/send-vs-raw.sh
	./bench/offsite-vs-raw.sh
	./bench/watch-latency.sh
