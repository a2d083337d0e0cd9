#!/usr/bin/env bash
# make e2e: the container test of the user's path (see doc.go).
#
# Installs podman, runc and debootstrap with apt-get when they are missing
# (as root), then runs the Go test behind the e2e build tag, which builds a
# local Debian base image, builds the Dockerfile, starts Consul and three
# redis containers, forces a failover and checks Consul follows it.
# It never passes without running: when it cannot run it says so and fails.
#
#   E2E_LOG=/path    where the full go test output goes
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH" GOTOOLCHAIN=local

label=io.redis-autopilot.e2e=1
log=${E2E_LOG:-/tmp/redis-autopilot-e2e.log}

cannot_run() {
	printf '\n!!!! E2E CANNOT RUN: %s !!!!\n\n' "$*" >&2
	echo "E2E: FAIL (did not run)"
	exit 2
}

install_tools() {
	local missing=() b
	for b in podman runc debootstrap; do
		command -v "$b" >/dev/null || missing+=("$b")
	done
	((${#missing[@]} == 0)) && return 0
	[[ $(id -u) == 0 ]] || cannot_run "${missing[*]} missing and not root to apt-get install them"
	command -v apt-get >/dev/null || cannot_run "${missing[*]} missing and no apt-get to install them"
	echo "e2e: installing ${missing[*]} (apt-get install podman runc debootstrap)"
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null; }; then
		cannot_run "apt-get install podman runc debootstrap failed"
	fi
}

# remove_leftovers removes containers and networks labelled by this test
# (a killed test run cannot clean up after itself).
remove_leftovers() {
	local ids
	ids=$(podman ps -aq --filter "label=$label" 2>/dev/null || true)
	if [[ -n $ids ]]; then
		# shellcheck disable=SC2086 # one id per word
		podman --runtime runc rm -f -t 5 $ids >/dev/null 2>&1 || true
	fi
	ids=$(podman network ls -q --filter "label=$label" 2>/dev/null || true)
	if [[ -n $ids ]]; then
		# shellcheck disable=SC2086
		podman network rm -f $ids >/dev/null 2>&1 || true
	fi
}

# check_disk makes sure podman has room to build. A build from nothing
# peaks at about 4.6 GB more on the disk (the Consul step's module download
# and build cache, removed at its end) and leaves 1.2 GB of layers; with the
# layers cached (the builder stage tagged by an earlier run) a source change
# needs a few hundred MB. podman also copies each layer it commits to a
# temporary file first (in TMPDIR, else /var/tmp, unless containers.conf's
# image_copy_tmp_dir says otherwise; about twice the layer, 1 GB at most
# here): where that does not fit, the commit fails with a bare "io:
# read/write on closed pipe". When space is short, dangling images (layers
# no tag uses, of any build on this machine's podman storage) are pruned
# first; if that is not enough, the test says so instead of failing later.
check_disk() {
	local store tmp dir free need_mb=1500 short=() seen=" "
	podman image exists localhost/redis-autopilot:e2e-builder || need_mb=5000
	store=$(podman info --format '{{.Store.GraphRoot}}' 2>/dev/null) || store=/var/lib/containers/storage
	tmp=${TMPDIR:-/var/tmp}
	for dir in "$store" "$tmp"; do
		mkdir -p "$dir" || cannot_run "cannot make $dir"
		read -r dev free < <(df -Pm "$dir" | awk 'NR==2 {print $1, $4}') || true
		[[ -n ${free:-} ]] || cannot_run "df cannot tell the free space of $dir"
		[[ $seen == *" $dev "* ]] && continue # the same filesystem as the one before
		seen+="$dev "
		((free >= need_mb)) || short+=("$dir has ${free} MB free")
	done
	((${#short[@]} == 0)) && return 0
	local what
	what=$(printf '%s; ' "${short[@]}")
	what=${what%; }
	if [[ ${1:-} == again ]]; then
		cannot_run "$what; the image build needs about ${need_mb} MB there (podman's storage and its temporary copies): free space, or remove unused images and build leftovers with podman system prune -a --external"
	fi
	echo "e2e: $what; pruning dangling images of this machine's podman storage (podman image prune -f)"
	podman image prune -f >/dev/null || true
	check_disk again
}

[[ $(id -u) == 0 ]] || cannot_run "needs root (podman with runc, debootstrap); run: sudo make e2e"
install_tools
command -v go >/dev/null || cannot_run "go is not on PATH"
check_disk
trap remove_leftovers EXIT
remove_leftovers

start=$SECONDS
set +e
go test -tags e2e -count=1 -v -timeout 40m ./test/e2e 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
took=$((SECONDS - start))

echo
grep -h 'TIMINGS\|accepted\|redis moved\|failover followed\|new master' "$log" | sed 's/^ *//' || true
if ((rc == 0)) && grep -q '^--- PASS: TestUserPath' "$log"; then
	echo "E2E: PASS (${took}s; log $log)"
	exit 0
fi
echo "E2E: FAIL (go test exit $rc, ${took}s; log $log)"
exit 1
