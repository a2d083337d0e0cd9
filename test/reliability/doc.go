// Package reliability is the fault-injection suite: a real three-node
// cluster (each node the redis-autopilot binary with its own redis-server
// and redis-sentinel, on its own loopback address 127.0.0.2-4, in its own
// cgroup), a writer, a checker sampling every 200 ms, and repeated faults,
// each trial seeded so that it can be repeated. It prints a table of
// figures per scenario and fails when a goal is missed.
//
// It only builds with the `reliability` tag, so `go test ./...` skips it:
//
//	make reliability                                   # short mode, a few minutes
//	RELIABILITY_LONG=1 make reliability                # soak, >= 30 minutes
//	go test -tags reliability -count=1 -v -timeout 90m ./test/reliability \
//	    -args -seed=42 -long -duration=30m -scenarios='partition|kill-master'
//
// Environment instead of flags: RELIABILITY_SEED, RELIABILITY_LONG=1,
// RELIABILITY_DURATION, RELIABILITY_SCENARIOS (a regexp), RELIABILITY_TRIALS.
// It needs root (cgroups, nft, tmpfs); scenarios whose needs are not met
// are skipped and said so in the log and the table.
package reliability
