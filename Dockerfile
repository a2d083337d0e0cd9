# redis-autopilot container image: Redis 8 (or Valkey 8, or Redis 7), Sentinel
# and a Consul agent from Debian / the Go module proxy, supervised by
# redis-autopilot as PID 1.
#
#   docker build -t redis-autopilot .                                   # Debian 13, Redis 8.0
#   docker build --build-arg FLAVOR=valkey -t redis-autopilot:valkey .  # Debian 13, Valkey 8.1
#   docker build --build-arg BASE=debian:bookworm-slim -t redis-autopilot:redis7 .  # Debian 12, Redis 7.0
#
# FLAVOR (redis or valkey) picks the server packages (redis-server,
# redis-sentinel, redis-tools or valkey-server, valkey-sentinel,
# valkey-tools) and sets REDIS_FLAVOR in the image. Debian 12 has no Valkey.
#
# Both base images are build arguments so the image also builds where no
# image registry is reachable (see test/e2e: a debootstrap'ed Debian base
# imported as localhost/debian:trixie):
#
#   podman build --format docker --build-arg BASE=localhost/debian:trixie \
#       --build-arg GO_BASE=localhost/debian:trixie -t redis-autopilot .
#
# GO_BASE may be any Debian-based image: when it has no Go (or another
# version), the builder installs Debian's golang-go only to download the Go
# toolchain GO_VERSION from the Go module proxy (golang.org/toolchain), then
# builds with that. An official golang:<GO_VERSION>-bookworm image skips this.
# No BuildKit features are used; layers are ordered so that the Consul build
# is cached until tools/consul changes, and redis-autopilot's dependencies
# until go.mod/go.sum change.

ARG GO_BASE=debian:trixie-slim
ARG BASE=debian:trixie-slim

# ---------------------------------------------------------------- builder
FROM ${GO_BASE} AS builder

ARG GO_VERSION=1.26.8
ENV GOTOOLCHAIN=local \
    CGO_ENABLED=0 \
    GOFLAGS=-buildvcs=false \
    PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The Go toolchain. Debian's golang-go (1.19 in bookworm, 1.24 in trixie) is
# only a bootstrap: the toolchain module is fetched with `go mod download`
# and unpacked to /usr/local/go by hand (what GOTOOLCHAIN=go1.x does for
# Go >= 1.21; done by hand so that bookworm's 1.19 works too).
RUN set -eu; \
    if [ "$(go env GOVERSION 2>/dev/null || true)" = "go${GO_VERSION}" ]; then exit 0; fi; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends golang-go ca-certificates >/dev/null; \
    boot=/usr/lib/go/bin/go; \
    mod="golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-$($boot env GOARCH)"; \
    dir=$(cd /tmp && GOPATH=/tmp/gopath GOFLAGS=-modcacherw $boot mod download -json "$mod" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'); \
    test -x "$dir/bin/go" || chmod -R a+rX,u+w "$dir"; \
    rm -rf /usr/local/go; cp -a "$dir" /usr/local/go; \
    chmod a+x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/*; \
    apt-get purge -y -qq --auto-remove golang-go >/dev/null; \
    rm -rf /tmp/gopath /var/lib/apt/lists/*; \
    go version

WORKDIR /src

# Consul agent v1.13.9 from its own tools module (it must not pin the main
# module's consul/api). Its module download (1.3 GB) and build cache (1.3
# GB) live in /tmp for this one step and are removed with it: the layer
# holds only /out/consul. Kept in layers they cost 2.6 GB of disk, and
# podman's commit of each needs about twice its size again in temporary
# files.
COPY tools/consul/ tools/consul/
RUN cd tools/consul && \
    export GOMODCACHE=/tmp/consul-mod GOCACHE=/tmp/consul-cache GOFLAGS="-mod=mod -modcacherw -buildvcs=false" && \
    go build -trimpath -ldflags "-s -w" -o /out/consul github.com/hashicorp/consul && \
    rm -rf /tmp/consul-mod /tmp/consul-cache && \
    /out/consul version

# redis-autopilot. Its direct dependencies are downloaded and compiled in
# a layer of their own (every package of each module that builds), so that a
# source change recompiles only redis-autopilot's own packages.
COPY go.mod go.sum ./
RUN go mod download && \
    mods=$(go list -m -f '{{if not (or .Main .Indirect)}}{{.Path}}/...{{end}}' all) && \
    pkgs=$(go list -e -f '{{if and .GoFiles (ne .Name "main") (not (or .Error .DepsErrors))}}{{.ImportPath}}{{end}}' $mods) && \
    go build -trimpath $pkgs
COPY . .
ARG VERSION=dev
# The build cache is dropped from this last layer (its own packages, 130
# MB): the next build starts again from the layer above, so nothing reads
# it, and each source change would leave another copy on the builder's disk.
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/redis-autopilot ./cmd/redis-autopilot && \
    rm -rf "$(go env GOCACHE)" && \
    /out/redis-autopilot version

# ---------------------------------------------------------------- image
FROM ${BASE}

ARG FLAVOR=redis
# The node runs these programs (redis-autopilot's REDIS_FLAVOR setting).
ENV REDIS_FLAVOR=${FLAVOR}

# <flavor>-tools brings <flavor>-check-rdb/-check-aof (used to verify
# backups) and <flavor>-cli (operators' tool); the server depends on it
# anyway. policy-rc.d keeps the packages' maintainer scripts from starting
# services during the build. /etc/redis/conf.d is REDIS_CONFIG_INCLUDE_DIR:
# mount your *.conf files there.
RUN set -eu; \
    case "${FLAVOR}" in redis|valkey) ;; *) echo "FLAVOR must be redis or valkey, not ${FLAVOR}" >&2; exit 1;; esac; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update -qq; \
    if ! apt-cache show "${FLAVOR}-server" >/dev/null 2>&1; then \
        echo "this base image's Debian has no ${FLAVOR}-server (Valkey needs Debian 13 trixie or newer)" >&2; exit 1; \
    fi; \
    apt-get install -y -qq --no-install-recommends \
        "${FLAVOR}-server" "${FLAVOR}-sentinel" "${FLAVOR}-tools" ca-certificates >/dev/null; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d; \
    mkdir -p /data /etc/redis/conf.d /opt/consul/data /opt/consul/config; \
    "${FLAVOR}-server" --version

COPY --from=builder /out/consul /out/redis-autopilot /usr/local/bin/

LABEL org.opencontainers.image.title="redis-autopilot" \
      org.opencontainers.image.description="Redis or Valkey with Sentinel and Consul, supervised by redis-autopilot" \
      org.opencontainers.image.source="https://github.com/autopilotpattern/redis-autopilot"

# 6379 redis, 26379 sentinel, 8008 metrics and status (HTTP_ADDR).
EXPOSE 6379 26379 8008
VOLUME /data

# The supervisor gives redis REDIS_STOP_GRACE (60s) for its final save: give
# the container at least that (docker stop -t 75, compose stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/redis-autopilot", "health"]

ENTRYPOINT ["/usr/local/bin/redis-autopilot"]
CMD ["run"]
