// Package reliability is the fault-injection suite: a real three-node
// cluster (each node the redis-autopilot binary with its own redis-server
// and redis-sentinel, on its own loopback address 127.0.0.2-4, in its own
// cgroup), two writers (one finds the master through Consul, the other
// through the sentinels with go-redis's FailoverClient, as most clients
// do; each has its own columns), a checker sampling every 200 ms, and
// repeated faults,
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
// Also: RELIABILITY_CONSUL_AGENTS=0 (nodes talk to the Consul server instead
// of running their own agent), RELIABILITY_BACKUPS=0 (no BACKUP_DIR),
// RELIABILITY_BULK_KEYS (data loaded at start, default 100000),
// RELIABILITY_BIND_NODE_IP=1 (BIND_ADDR=node IP instead of 0.0.0.0),
// RELIABILITY_TABLE=file (the table is also written there). Node logs are
// kept in $TMPDIR/reliability-logs/SEED/.
//
// A trial: wait until the cluster is whole (one passing master that every
// node and a majority of sentinels agree on, every replica linked and
// passing, every sentinel passing and knowing the others), write for a
// moment, make the fault, hold it, remove it, wait up to 90 s for the
// cluster to be whole again on its own (a node process that exits is
// started again, as `restart: always` would; anything more is "a person"
// and counted), then read back on the master every write acknowledged
// since the last trial and verify the backup last-backup names.
// The shared backup directory is a loop-mounted ext4 image, so that
// fsfreeze can stall it (backup-store-stalls).
// It needs root (cgroups, nft, tmpfs, loop mounts); scenarios whose needs
// are not met are skipped and said so in the log and the table.
package reliability
