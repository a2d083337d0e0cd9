// Package backup takes, schedules and restores the cluster's backups
// (docs/ARCHITECTURE.md rules 5-8). Where backups live is package
// backup/store.
//
// Taking one (Backup): BGSAVE on the local redis, wait on INFO persistence
// for our save to finish, then stream dump.rdb through the compressor into
// Store.Put, which hashes the stream into the sidecar; nothing is copied
// whole into memory or onto disk. zstd is compressed as independent 2 MiB
// frames on both cores (one valid zstd stream), gzip with pgzip. With
// BACKUP_ENCRYPTION_KEY set the compressed stream is then encrypted with
// age (package backup/crypt) and the name ends in ".age"; the sidecar's
// sha256 covers the stored (encrypted) bytes. The result
// is verified before anyone may point at it: the sidecar must record the
// size we sent, and a full read-back through the decompressor must hash to
// the sidecar's sha256 and start like an RDB file. A backup that fails
// verification is deleted.
//
// Scheduling (Scheduler): one backup per BACKUP_TTL for the whole cluster.
// Consul's service/redis/last-backup holds the newest good backup's name (a
// plain name, as the shell version wrote it; its time comes from the name)
// and service/redis/last-backup-meta describes it as JSON. Both are written
// only after a verified upload, under the lock service/redis/locks/backup. A
// healthy replica takes the backup; the master defers while passing replicas
// exist, and takes over when they let the backup become overdue.
//
// Restoring (Restore): only into a data directory that holds no data. The
// backup is downloaded and decompressed in one pass into a staging
// directory inside the data directory, its sha256 checked against the
// sidecar (a legacy backup without one is accepted only as a fallback),
// checked with redis-check-rdb while a private redis-server on a unix socket
// converts it to the AOF layout the node runs with (docs/ARCHITECTURE.md
// rule 6); the finished appendonlydir/ is then renamed into place. On any failure, or a
// crash, the data directory holds no data, as before. When the backup
// chosen (not one named by hand) fails a check, older backups with a
// sidecar are tried, newest first, and the first that passes every check
// is restored; last-backup is then moved off the corrupt one by a
// check-and-set. Corrupt backups stay in the store. An encrypted backup
// that no configured key opens (ErrKey) is not corrupt: it never leads to
// an older backup, which would roll the cluster back over a missing key.
//
// RESTORE_ALLOW_EMPTY (RestoreOptions.AllowEmpty) covers only "the store
// holds no backup". A backup that fails a check (and every fallback), or a
// store that cannot be read, stays an error: an empty master would soon
// write an empty backup over last-backup.
//
// Stalls (BACKUP_STALL_TIMEOUT, Options.StallTimeout): the upload and the
// verification read-back run on their own goroutines; one that gets no
// progress from the store for the timeout is abandoned (its context
// cancelled, the pipe feeding Put closed with an error), so a hung store
// cannot hold the backup lock. Stores undo an abandoned Put when it wakes.
package backup
