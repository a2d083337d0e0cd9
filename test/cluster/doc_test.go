package cluster

// The tests here run whole nodes and mostly wait on Sentinel and Consul
// timeouts, so the long ones call t.Parallel: go test runs up to
// -parallel (GOMAXPROCS) of them at once, after every serial test has
// finished. Each has its own Consul, ports (harness.FreePort) and
// directories. A test stays serial when it asserts how soon something
// happens (a fence before the promotion, a check failing before its TTL,
// a stop within Docker's 10 s, orphans reaped within 2 s, a re-point
// within its grace, a stalled restore giving up in time) or uses the
// process's nft table (Partition): load from a neighbour could fail it
// without a defect. A test that calls t.Setenv cannot be parallel.
