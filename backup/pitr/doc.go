// Package pitr is point-in-time recovery: a chain is a base (the RDB or
// AOF base of a BGREWRITEAOF) plus the AOF commands Redis wrote after it,
// shipped as contiguous, checksummed segments; a restore replays the base
// and the segments up to a second and fails on a gap instead of skipping
// it (as wal-g and pgBackRest do with WAL).
//
// The pieces:
//
//   - manifest.go: Redis 7's multi-part AOF manifest, parsed (bounded) and
//     written back as Redis writes it.
//   - scan.go: a streaming RESP scanner over AOF bytes that knows the
//     "#TS:<unix>" annotations of aof-timestamp-enabled and MULTI/EXEC, and
//     cuts only at the end of a command outside a transaction (Redis
//     propagates a Lua script's writes as MULTI/EXEC too).
//   - segment.go: object names. A segment's name carries its chain, piece
//     sequence numbers, byte range in the chain's command stream, first and
//     last #TS and sha256, so a listing alone plans a restore.
//   - plan.go: which chain and segments reach a time (Choose); windows and
//     gaps, each with the message the operator needs.
//   - merge.go: concatenation with checks, for sealing small pieces into
//     one segment and for restores.
//   - restore.go: builds appendonlydir/ (base + one incr file + manifest)
//     in a staging directory, truncates it with redis-check-aof
//     --truncate-to-timestamp T (which keeps every command whose #TS is at
//     or before T, transactions whole, and must find the cut in the last
//     file of the manifest: hence one incr file), checks it, and renames it
//     into an empty data directory only.
//
// Time is Redis's #TS: the second the node wrote the command to its AOF,
// by its own clock. A restore to T holds exactly the commands stamped at or
// before T. The window of a chain starts at BaseTS, a second taken after
// the rewrite that made the base started (everything before it is in the
// base), and ends at the last #TS shipped.
package pitr
