package registry

// The names users and clients see in Consul: the one definition of each.
// Clients look up ServiceMaster; operators read and write the keys. The
// services and the first four keys are the shell version's and keep its
// meaning.
const (
	// ServiceMaster is the master's service ("redis.service.consul"),
	// ServiceReplica a replica's, ServiceSentinel a sentinel's. Each node
	// registers its own instance of them (ServiceID).
	ServiceMaster   = "redis"
	ServiceReplica  = "redis-replica"
	ServiceSentinel = "redis-sentinel"

	// KeyMasterLock is the bootstrap election lock.
	KeyMasterLock = "service/redis/locks/master"
	// KeyLastBackup holds the name of the newest good backup (a plain name).
	KeyLastBackup = "service/redis/last-backup"
	// KeySentinelQuorum and KeySentinelFailoverTimeout override the
	// sentinel tuning from the environment when set.
	KeySentinelQuorum          = "service/redis-sentinel/quorum"
	KeySentinelFailoverTimeout = "service/redis-sentinel/failover-timeout"

	// KeyLastMaster holds the "ip:port" of the last node that passed as
	// master. A cluster restarted as a whole gives that node, the one with
	// the newest data, the first chance at the bootstrap lock.
	KeyLastMaster = "service/redis/last-master"
	// KeyFailoverLock is held by a planned failover (`redis-autopilot
	// failover`) for as long as it runs; its value names the master being
	// handed over, whose node keeps its writes fenced meanwhile.
	KeyFailoverLock = "service/redis/locks/failover"
)
