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

[[ $(id -u) == 0 ]] || cannot_run "needs root (podman with runc, debootstrap); run: sudo make e2e"
install_tools
command -v go >/dev/null || cannot_run "go is not on PATH"
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
