package metrics

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

// InfoReader is the local redis as the scrape-time reads need it;
// *redisnode.Client is one.
type InfoReader interface {
	Info(ctx context.Context, sections ...string) (redisnode.Info, error)
}

// MasterInfoFunc reads INFO replication from the master at addr. A replica
// needs it for its own lag: its INFO has its own offset, not the master's.
type MasterInfoFunc func(ctx context.Context, addr string) (redisnode.Info, error)

// DialMasterInfo returns a MasterInfoFunc that sends INFO replication to
// the master with password. It keeps one client for the latest master
// address and closes it when the address changes (after a failover), so a
// scrape or a load balancer's check does not open a connection each time.
func DialMasterInfo(password string) MasterInfoFunc {
	d := &masterDialer{password: password}
	return d.info
}

type masterDialer struct {
	password string
	mu       sync.Mutex
	addr     string
	c        *redisnode.Client
}

func (d *masterDialer) info(ctx context.Context, addr string) (redisnode.Info, error) {
	d.mu.Lock()
	if d.addr != addr {
		if d.c != nil {
			d.c.Close() // a read in flight on it fails once: lag unknown
		}
		d.addr, d.c = addr, redisnode.Dial(addr, d.password)
	}
	c := d.c
	d.mu.Unlock()
	return c.Info(ctx, "replication")
}

// Replication is the local redis's replication state as one read saw it.
type Replication struct {
	// Role is redisnode.RoleMaster or RoleReplica.
	Role string
	// Healthy and Reason are redisnode.Health of the local INFO.
	Healthy bool
	Reason  string
	// Master is a replica's master "host:port".
	Master string
	// LinkUp is a replica's master_link_status:up.
	LinkUp bool
	// LagBytes is how far a replica is behind: the master's
	// master_repl_offset minus this replica's offset. 0 on a master; -1
	// when unknown (the master did not answer, or the link is down);
	// LagErr then says why.
	LagBytes int64
	LagErr   error
	// Replicas are a master's connected replicas.
	Replicas []ReplicaState
}

// ReplicaState is one replica as its master sees it.
type ReplicaState struct {
	Addr     string
	Online   bool // state=online
	LagBytes int64
}

// ReadReplication reads the local INFO and, on a replica whose link is up,
// the master's offset through master (nil: the lag stays unknown). Only
// the local INFO failing is an error.
func ReadReplication(ctx context.Context, local InfoReader, master MasterInfoFunc) (Replication, error) {
	info, err := local.Info(ctx)
	if err != nil {
		return Replication{}, err
	}
	r := Replication{Role: info.Role(), LagBytes: -1}
	r.Healthy, r.Reason = redisnode.Health(info)
	switch r.Role {
	case redisnode.RoleMaster:
		r.LagBytes = 0
		off := info.MasterReplOffset()
		for _, rep := range info.Replicas() {
			r.Replicas = append(r.Replicas, ReplicaState{
				Addr: rep.Addr(), Online: rep.State == "online", LagBytes: nonNegative(off - rep.Offset),
			})
		}
	case redisnode.RoleReplica:
		r.Master = net.JoinHostPort(info.MasterHost(), strconv.Itoa(info.MasterPort()))
		r.LinkUp = info.MasterLinkStatus() == "up"
		r.LagBytes, r.LagErr = replicaLag(ctx, info, r, master)
	}
	return r, nil
}

func replicaLag(ctx context.Context, info redisnode.Info, r Replication, master MasterInfoFunc) (int64, error) {
	switch {
	case !r.LinkUp:
		return -1, fmt.Errorf("the link to master %s is %s", r.Master, info.MasterLinkStatus())
	case master == nil:
		return -1, fmt.Errorf("the master's offset is not read here")
	}
	mi, err := master(ctx, r.Master)
	if err != nil {
		return -1, fmt.Errorf("read the master's offset: %w", err)
	}
	return nonNegative(mi.MasterReplOffset() - info.SlaveReplOffset()), nil
}

// nonNegative clamps n at 0: the local offset is read after the master's
// or an ack races the INFO, so a replica can look ahead by a few bytes.
func nonNegative(n int64) int64 {
	if n < 0 {
		return 0
	}
	return n
}
