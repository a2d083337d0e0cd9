#!/usr/bin/env bash
# make matrix: the cluster tests and the backup tests against every server
# the image can run besides the host's: Redis 8.0 and Valkey 8.1 from Debian
# 13 (trixie). make test runs the same tests against the host's Redis 7.0.15.
#
# No image is built: a trixie root filesystem is made once with debootstrap
# and the servers of both flavours installed in it (they do not conflict),
# cached under MATRIX_CACHE. The test binaries are compiled on the host
# (go test -c) and run inside it with unshare (own PID and mount
# namespaces; the host's loopback network) and chroot, the repository, the
# binaries and Consul mounted in. Each flavour runs with REDIS_FLAVOR set:
# the nodes and the test harness use its programs.
#
#   MATRIX_CACHE=/var/cache/redis-autopilot   the cached root filesystems
#   MATRIX_FLAVORS="redis valkey"              flavours to run
#   MATRIX_PACKAGES="./test/cluster ./backup ./backup/pitr ./lifecycle ./etc ./cmd/redis-autopilot"
#   MATRIX_RUN=regexp                          only these tests (-test.run)
#   MATRIX_COUNT=1                             runs of each test (-test.count)
#   MATRIX_BENCH=1                             also the failover and backup benchmarks: one row per
#                                              flavour, and one for the host's Redis (MATRIX_BENCH_MB=50)
#   MATRIX_LOG=/tmp/redis-autopilot-matrix.log the full test output
#
# It never passes without running: when it cannot run it says so and fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH" GOTOOLCHAIN=local

cache=${MATRIX_CACHE:-/var/cache/redis-autopilot}
suite=trixie
mirror=http://deb.debian.org/debian
# Both flavours' servers, and what make deps installs on the host for the
# tests (kill, nft, mkfs.ext4, fsfreeze, zstd, ip).
servers="redis-server redis-sentinel redis-tools valkey-server valkey-sentinel valkey-tools util-linux procps iproute2 nftables gzip zstd e2fsprogs"
flavors=${MATRIX_FLAVORS:-redis valkey}
packages=${MATRIX_PACKAGES:-./test/cluster ./backup ./backup/pitr ./lifecycle ./etc ./cmd/redis-autopilot}
log=${MATRIX_LOG:-/tmp/redis-autopilot-matrix.log}
minbase=$cache/$suite-minbase
rootfs=$cache/$suite-servers

cannot_run() {
	printf '\n!!!! MATRIX CANNOT RUN: %s !!!!\n\n' "$*" >&2
	echo "MATRIX: FAIL (did not run)"
	exit 2
}

[[ $(id -u) == 0 ]] || cannot_run "needs root (debootstrap, unshare, chroot); run: sudo make matrix"
command -v go >/dev/null || cannot_run "go is not on PATH"
consul=$(command -v consul) || cannot_run "consul is not on PATH: make deps"
if ! command -v debootstrap >/dev/null; then
	echo "matrix: installing debootstrap (apt-get install debootstrap)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
		cannot_run "apt-get install debootstrap failed"
fi

# ensure_minbase makes $minbase with debootstrap unless a complete one is
# cached (test/e2e builds its base image from it too).
ensure_minbase() {
	[[ -f $minbase/.complete ]] && return 0
	local start=$SECONDS
	echo "matrix: debootstrap --variant=minbase $suite (once; cached in $minbase)"
	rm -rf "$minbase.tmp"
	mkdir -p "$cache"
	debootstrap --variant=minbase "$suite" "$minbase.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		cannot_run "debootstrap $suite failed: $(tail -5 "$cache/debootstrap.log")"
	touch "$minbase.tmp/.complete"
	rm -rf "$minbase"
	mv "$minbase.tmp" "$minbase"
	echo "matrix: debootstrap took $((SECONDS - start))s"
}

# ensure_rootfs makes $rootfs, a copy of $minbase with both flavours'
# servers installed, unless a complete one for the same packages is cached.
ensure_rootfs() {
	[[ -f $rootfs/.complete && $(cat "$rootfs/.complete") == "$servers" ]] && return 0
	local start=$SECONDS
	echo "matrix: installing $servers into $rootfs"
	rm -rf "$rootfs.tmp"
	cp -a "$minbase" "$rootfs.tmp"
	rm -f "$rootfs.tmp/.complete"
	printf '#!/bin/sh\nexit 101\n' >"$rootfs.tmp/usr/sbin/policy-rc.d"
	chmod 755 "$rootfs.tmp/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2086 # one package a word
	chroot "$rootfs.tmp" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $servers" \
		>"$cache/apt.log" 2>&1 || cannot_run "apt-get install in the $suite root filesystem failed: $(tail -5 "$cache/apt.log")"
	rm -rf "$rootfs.tmp/var/lib/apt/lists/"* "$rootfs.tmp/var/cache/apt/archives/"*.deb
	mkdir -p "$rootfs.tmp/src" "$rootfs.tmp/matrix" "$rootfs.tmp/usr/local/bin"
	touch "$rootfs.tmp/usr/local/bin/consul"
	echo "$servers" >"$rootfs.tmp/.complete"
	rm -rf "$rootfs"
	mv "$rootfs.tmp" "$rootfs"
	echo "matrix: install took $((SECONDS - start))s"
}

# metric prints the value before unit in a go benchmark line.
metric() { awk -v u="$1" '{for (i = 2; i <= NF; i++) if ($i == u) print $(i-1)}'; }

# bench runs the failover benchmark (3 runs) and the backup benchmark
# (MATRIX_BENCH_MB, default 50) for flavour $1, on the host ($2 = host) or
# inside the root filesystem, and adds one row to $work/bench.md.
bench() {
	local f=$1 where=$2 out=$work/bench-$1-$2.log run=(inside /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		HOME=/root TMPDIR=/tmp REDIS_FLAVOR="$1" REDIS_AUTOPILOT_BINARY=/matrix/redis-autopilot) dir=/matrix bin=/src
	if [[ $where == host ]]; then
		run=(env REDIS_FLAVOR="$f" REDIS_AUTOPILOT_BINARY="$work/redis-autopilot") dir=$work bin=$PWD
	fi
	echo "matrix: $f benchmarks ($where)"
	"${run[@]}" /bin/sh -c "cd $bin/test/cluster && $dir/cluster.test -test.run '^\$' -test.bench Failover -test.benchtime 3x -test.timeout 30m" >"$out" 2>&1 || true
	"${run[@]}" /bin/sh -c "cd $bin/bench && $dir/bench.test -test.run '^\$' -test.bench BenchmarkBackup -test.benchtime 1x -test.timeout 60m -dataset-mb ${MATRIX_BENCH_MB:-50}" >>"$out" 2>&1 || true
	cat "$out" >>"$log"
	local fo
	fo=$(grep '^BenchmarkFailover' "$out" | head -1)
	printf '| %s | %s | %s ms | %s ms | %s | %s | %s |\n' "$f ($where)" \
		"$("${run[@]}" "$f-server" --version 2>/dev/null | cut -d' ' -f1,3)" \
		"$(metric start-master-ms <<<"$fo")" "$(metric consul-switch-ms <<<"$fo")" \
		"$(grep -m1 '^| backup pipeline zstd → dir store' "$out" | cut -d'|' -f3 | xargs)" \
		"$(grep -m1 '^| restore zstd from dir store' "$out" | cut -d'|' -f3,4 | xargs)" \
		"$(grep -m1 '^| baseline: redis-server loads' "$out" | cut -d'|' -f3 | xargs)" >>"$work/bench.md"
}

ensure_minbase
ensure_rootfs
chroot "$rootfs" /bin/sh -c 'redis-server --version; valkey-server --version'

work=$(mktemp -d /var/tmp/redis-autopilot-matrix.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "matrix: compiling the test binaries on the host"
go build -o "$work/redis-autopilot" ./cmd/redis-autopilot
go build -tags panictest -o "$work/redis-autopilot-panictest" ./cmd/redis-autopilot
for pkg in $packages; do
	go test -c -o "$work/$(basename "$pkg").test" "$pkg"
done
if [[ ${MATRIX_BENCH:-} == 1 ]]; then
	go test -c -o "$work/cluster.test" ./test/cluster
	go test -c -o "$work/bench.test" ./bench
fi

ports=/tmp/redis-autopilot-test-ports # test/harness's port locks, shared with the host's tests
mkdir -p "$ports" "$rootfs$ports"

# inside runs a command in the root filesystem: own PID and mount
# namespaces, the host's network; /proc, /dev, /sys, the repository, the
# binaries, Consul, versitygw (the S3 tests' server) and the port locks
# mounted in.
inside() {
	unshare --pid --mount --fork --kill-child /bin/sh -euc '
		root=$1 src=$2 work=$3 consul=$4 ports=$5 versitygw=$6; shift 6
		# The root a mount point of its own: unshare --mount-proc inside
		# (TestBinaryAsPID1) makes "/" private, which a chroot into a plain
		# directory refuses (EINVAL).
		mount --bind "$root" "$root"
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount --rbind /sys "$root/sys"
		mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
		mkdir -p "$root$ports"
		mount --bind "$ports" "$root$ports"
		mount --bind -o ro "$src" "$root/src"
		mount --bind "$work" "$root/matrix"
		mount --bind -o ro "$consul" "$root/usr/local/bin/consul"
		if [ -n "$versitygw" ]; then
			touch "$root/usr/local/bin/versitygw"
			mount --bind -o ro "$versitygw" "$root/usr/local/bin/versitygw"
		fi
		exec chroot "$root" "$@"
	' inside "$rootfs" "$PWD" "$work" "$consul" "$ports" "$(command -v versitygw || true)" "$@"
}

: >"$log"
# TestBinary builds the binary with go and its own -ldflags version, and
# the root filesystem has no Go; make test runs it on the host.
skip=${MATRIX_SKIP-^TestBinary\$}
[[ -n $skip ]] && echo "matrix: -test.skip '$skip' (by default TestBinary: it builds the binary with go, which the root filesystem has not; make test runs it on the host)"
failed=0
declare -A result took
for f in $flavors; do
	for pkg in $packages; do
		name=$(basename "$pkg")
		start=$SECONDS
		args=("-test.count=${MATRIX_COUNT:-1}" -test.v -test.timeout=30m "-test.skip=$skip")
		[[ -n ${MATRIX_RUN:-} ]] && args+=("-test.run=$MATRIX_RUN")
		echo "matrix: $f $pkg"
		set +e
		inside /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp \
			REDIS_FLAVOR="$f" REDIS_AUTOPILOT_BINARY=/matrix/redis-autopilot \
			REDIS_AUTOPILOT_PANICTEST_BINARY=/matrix/redis-autopilot-panictest \
			/bin/sh -c 'cd "/src/$1" && shift && exec "$@"' sh "$pkg" "/matrix/$name.test" "${args[@]}" \
			> >(sed -u "s|^|[$f $name] |" >>"$log") 2>&1
		rc=$?
		set -e
		took[$f $pkg]=$((SECONDS - start))
		passed=$(grep -c "^\[$f $name\] --- PASS" "$log" || true)
		fails=$(grep -c "^\[$f $name\] --- FAIL" "$log" || true)
		skips=$(grep -c "^\[$f $name\] *--- SKIP" "$log" || true)
		result[$f $pkg]="$passed passed, $fails failed, $skips skipped, exit $rc"
		if ((rc != 0)); then
			failed=1
			grep "^\[$f $name\] \(--- FAIL\|.*_test.go:[0-9]*:\)" "$log" | tail -20 || true
		fi
	done
	if [[ ${MATRIX_BENCH:-} == 1 ]]; then
		bench "$f" inside
	fi
done

echo
echo "| flavour | package | result | seconds |"
echo "|---|---|---|---|"
total_p=0 total_f=0
for f in $flavors; do
	for pkg in $packages; do
		echo "| $f | $pkg | ${result[$f $pkg]} | ${took[$f $pkg]} |"
		r=${result[$f $pkg]}
		total_p=$((total_p + ${r%% passed*}))
		r=${r#*passed, }
		total_f=$((total_f + ${r%% failed*}))
	done
done
if [[ ${MATRIX_BENCH:-} == 1 ]]; then
	bench redis host
	echo
	echo "| flavour | server | start to passing master (median of 3) | SIGKILL of master to new master in Consul | backup zstd → dir | restore zstd from dir (ratio to the server's own load + AOF rewrite) | the server's own load + AOF rewrite |"
	echo "|---|---|---|---|---|---|---|"
	cat "$work/bench.md"
fi
echo
echo "matrix: skipped tests and why:"
grep -B1 "^\[[a-z]* [a-z-]*\] *--- SKIP" "$log" | grep -v "^--$" || echo "  none"
echo
# The failures again, last: a CI log shows only its tail.
if ((failed != 0)); then
	echo "matrix: failed tests and their errors:"
	# each FAIL line with the last 12 test-file lines of its package before it
	awk '/^\[[a-z]+ [a-z-]+\] / {
		p = $1 " " $2
		if ($0 ~ /--- FAIL/) { for (i = n[p] - 12; i < n[p]; i++) if (i >= 0) print b[p, i % 12]; n[p] = 0; print; next }
		if ($0 ~ /_test\.go:[0-9]+:|panic:/) { b[p, n[p] % 12] = $0; n[p]++ }
	}' "$log" | tail -80
	echo
fi
echo "matrix: $total_p passed, $total_f failed"
if ((failed == 0 && total_p > 0)); then
	echo "MATRIX: PASS (log $log)"
	exit 0
fi
echo "MATRIX: FAIL (log $log)"
exit 1
