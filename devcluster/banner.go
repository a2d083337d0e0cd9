package devcluster

import (
	"fmt"
	"io"
)

// writeBanner prints how to reach the cluster: Consul, every node, the
// sentinels, how to find the master without DNS, how to cause a failover,
// where the logs are, and how to stop.
func writeBanner(w io.Writer, l Layout) {
	api := "http://" + l.ConsulAddr()
	first := l.Nodes[0]
	fmt.Fprintf(w, "\nredis-autopilot dev: %d nodes on 127.0.0.1; state in %s (node data starts empty each run; backups stay in %s)\n\n",
		len(l.Nodes), l.Dir, l.BackupDir)
	fmt.Fprintf(w, "Consul       UI %s/ui   API %s\n", api, api)
	fmt.Fprintf(w, "  the master (no DNS needed): curl -s '%s/v1/health/service/redis?passing'\n", api)
	fmt.Fprintf(w, "  the replicas:               curl -s '%s/v1/health/service/redis-replica?passing'\n\n", api)
	for _, n := range l.Nodes {
		fmt.Fprintf(w, "%-6s redis: redis-cli -p %d   sentinel: redis-cli -p %d   status: curl -s http://127.0.0.1:%d/status\n",
			n.Name, n.RedisPort, n.SentinelPort, n.HTTP)
		fmt.Fprintf(w, "       log: %s\n", n.LogPath)
	}
	fmt.Fprintf(w, "\nSentinel     redis-cli -p %d SENTINEL get-master-addr-by-name mymaster\n", first.SentinelPort)
	fmt.Fprintf(w, "Failover     redis-cli -p %d SENTINEL failover mymaster   (then watch the roles below change)\n", first.SentinelPort)
	fmt.Fprintf(w, "Logs         consul: %s   dev: %s\n", l.ConsulLog, l.DevLog)
	fmt.Fprintf(w, "Stop         Ctrl-C: nodes stop in order, then consul; Ctrl-C twice kills everything at once\n\n")
	fmt.Fprintf(w, "Roles as they change (time, node, role, check, why):\n")
}
