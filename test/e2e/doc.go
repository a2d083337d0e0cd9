// Package e2e is the container test of the user's path: build the image from
// the repository's Dockerfile, start a Consul server and three redis
// containers on one network, wait for one master and two replicas in
// Consul, force a Sentinel failover and watch Consul follow it.
//
// It runs podman with runc (no Docker engine here) and builds its own Debian
// base image with debootstrap, since no image registry is reachable. Those
// tests carry the build tag e2e, so `go test ./...` does not run them; run
//
//	make e2e          (test/e2e/run.sh: installs podman/runc/debootstrap, then the tests)
//	go test -tags e2e -v -count=1 -timeout 30m ./test/e2e
//
// TestTritonSetup has no tag and runs with every `go test ./...`: it runs
// examples/triton/setup.sh against stand-in docker and triton CLIs (Triton
// is unreachable) and loads the _env it writes with redis-autopilot's config.
package e2e
