# redis-autopilot — build, install what the tests need, test.
#
#   make dev     install everything, build, start a local 3-node cluster
#   make test    install everything, then vet and run every test
#
# `make deps` is idempotent and quick once things are installed; it needs
# root for apt-get and for /usr/local/bin.

SHELL       := /bin/bash
GO          ?= go
BIN         := bin/redis-autopilot
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CONSUL_VER  := 1.13.9
CONSUL_BIN  ?= /usr/local/bin/consul
VERSITYGW_VER := 1.8.0
VERSITYGW_BIN ?= /usr/local/bin/versitygw
APT_PKGS    := redis-server redis-sentinel redis-tools util-linux procps iproute2 nftables gzip zstd e2fsprogs
TEST_FLAGS  ?= -timeout 30m

.PHONY: all build deps apt-deps consul versitygw test vet dev bench clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/redis-autopilot

deps: apt-deps consul versitygw

apt-deps:
	@missing=""; for b in redis-server redis-sentinel redis-cli redis-check-rdb unshare nft ip zstd mkfs.ext4 fsfreeze mountpoint; do \
		command -v $$b >/dev/null || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages (missing:$$missing)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS) >/dev/null; \
	fi
	@# Debian starts redis-server as a service where it can; the tests start their own.
	@command -v systemctl >/dev/null && systemctl disable --now redis-server redis-sentinel >/dev/null 2>&1 || true

consul:
	@if $(CONSUL_BIN) version 2>/dev/null | grep -q "v$(CONSUL_VER)"; then exit 0; fi; \
	echo "building consul v$(CONSUL_VER) from the Go module proxy (tools/consul; ~2-3 minutes the first time)"; \
	cd tools/consul && GOFLAGS=-mod=mod $(GO) build -o $(CONSUL_BIN) github.com/hashicorp/consul

# versitygw is the real S3 server of the S3 store's tests (test/harness).
versitygw:
	@if $(VERSITYGW_BIN) --version 2>/dev/null | grep -q "v$(VERSITYGW_VER)"; then exit 0; fi; \
	echo "building versitygw v$(VERSITYGW_VER) from the Go module proxy (tools/versitygw; ~2 minutes the first time)"; \
	cd tools/versitygw && GOFLAGS=-mod=mod $(GO) build -ldflags "-X main.Version=v$(VERSITYGW_VER)" -o $(VERSITYGW_BIN) github.com/versity/versitygw/cmd/versitygw

vet:
	$(GO) vet ./...

# ./test/cluster first: go test starts packages' tests in the order it
# lists them, and the longest package would otherwise start only after
# most of the others (a fresh clone's make test took 740-760 s so).
test: deps vet
	$(GO) test $(TEST_FLAGS) ./test/cluster ./...

dev: deps build
	$(BIN) dev

clean:
	rm -rf bin

# make e2e: the container test of the user's path (root; podman + runc +
# debootstrap, installed when missing): builds the Dockerfile on a local
# Debian base, runs Consul + 3 redis containers, forces a failover and checks
# Consul follows it. Not part of `make test`. See test/e2e/doc.go.
.PHONY: e2e
e2e:
	test/e2e/run.sh

# make reliability: the fault-injection suite (test/reliability, build tag
# `reliability`; root for cgroups, nft and tmpfs). Short mode by default, a
# few minutes; RELIABILITY_LONG=1 runs every scenario for RELIABILITY_DURATION
# (default 30m). RELIABILITY_SEED repeats a run. Not part of `make test`.
RELIABILITY_TIMEOUT ?= 120m
.PHONY: reliability
reliability: deps
	$(GO) test -tags reliability -count=1 -v -timeout $(RELIABILITY_TIMEOUT) ./test/reliability

# make matrix: the cluster, backup, PITR, lifecycle, etc and cmd tests again on
# Debian 13's Redis 8.0 and Valkey 8.1 (make test runs them on the host's
# Redis 7.0.15): a trixie root filesystem made with debootstrap and cached
# in MATRIX_CACHE (default /var/cache/redis-autopilot), the test binaries
# compiled here and run inside it with unshare + chroot. Root. See
# test/matrix/run.sh. MATRIX_BENCH=1 adds the failover benchmark per flavour.
.PHONY: matrix
matrix: deps
	test/matrix/run.sh
