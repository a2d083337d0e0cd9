// Package backup takes, schedules and restores the cluster's backups
// (DESIGN.md rules 5-8). Where backups live is package backup/store.
//
// Taking one (Backup): BGSAVE on the local redis, wait on INFO persistence
// for our save to finish, then stream dump.rdb through the compressor into
// Store.Put while hashing the compressed stream; nothing is copied whole into
// memory or onto disk. The result is verified before anyone may point at it:
// the store's sidecar must show the size and sha256 we sent, and a full
// read-back through the decompressor must hash the same. A backup that fails
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
// backup is downloaded, its sha256 checked against the sidecar (a legacy
// backup without one is accepted only as a fallback), decompressed,
// checked with redis-check-rdb and converted to the AOF layout the node runs
// with (DESIGN.md rule 6) by a private redis-server on a unix socket. On any
// failure the data directory is left as it was.
package backup
