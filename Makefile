# leaseguard — see README.md. Targets run as root on Debian 12.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin
# Static, stripped builds for the line cards (and amd64 for the lab).
CROSS   := linux/amd64 linux/arm64 linux/mips linux/mipsle

.PHONY: all build deps cross test cross-unit-test demo bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/leaseguard ./cmd/leaseguard

deps:
	./.ci/deps

cross:
	@mkdir -p $(BIN)
	@for p in $(CROSS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		echo "build $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOMIPS=softfloat \
			$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/leaseguard-$$os-$$arch ./cmd/leaseguard || exit 1; \
	done
	@ls -l $(BIN)/leaseguard-* | awk '{printf "%-40s %6.2f MB\n", $$9, $$5/1048576}'

# The test command of the README: unit tests, fuzz seed corpora, the
# end-to-end tests against real peers in network namespaces, and the
# appliance images booted under QEMU (image/image.mk).
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -tags purego ./bpi/...
	$(MAKE) --no-print-directory cross-unit-test
	$(MAKE) --no-print-directory qemu-test

# The unit tests (-short: no network namespaces) of everything but the
# end-to-end harness, built for the line cards' architectures and run
# under qemu-user: arm64 runs bpi's AES assembly, big-endian mips finds
# byte-order mistakes in the codecs (netlink attributes are host order,
# DHCP is network order).
CROSS_UNIT_ARCHS := arm64:qemu-aarch64 mips:qemu-mips
cross-unit-test:
	@mkdir -p build; pkgs=$$($(GO) list ./... | grep -v /integration); \
	for a in $(CROSS_UNIT_ARCHS); do \
		echo "unit tests linux/$${a%%:*} under $${a#*:}"; \
		GOARCH=$${a%%:*} GOMIPS=softfloat $(GO) test -short -count=1 -exec $${a#*:} $$pkgs >build/cross-unit.log 2>&1; \
		rc=$$?; grep -v 'no test files' build/cross-unit.log; [ $$rc = 0 ] || exit $$rc; \
	done

demo: deps build
	$(GO) run ./integration/demo

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

# A short coverage-guided run of every fuzz target; FUZZTIME=5m for longer.
# What the fuzzer found interesting is kept in testdata/fuzz as seed corpus.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
			dir=$$($(GO) list -f '{{.Dir}}' $$pkg)/testdata/fuzz/$$f; mkdir -p $$dir; \
			cp -n $$($(GO) env GOCACHE)/fuzz/$$pkg/$$f/* $$dir/ 2>/dev/null || true; \
		done; \
	done

clean:
	rm -rf $(BIN) build

-include image/image.mk
