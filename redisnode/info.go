// Package redisnode is the local redis-server seen as data: INFO parsed into
// typed accessors, a health rule, and a small client for the few commands the
// supervisor sends (PING, INFO, SHUTDOWN, REPLICAOF).
package redisnode

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"time"
)

// Roles as this project names them (Redis says "slave" for a replica).
const (
	RoleMaster  = "master"
	RoleReplica = "replica"
)

// Info is the reply of INFO (any sections) as key -> value. Unknown keys are
// kept; accessors return the zero value for a missing or malformed field.
type Info map[string]string

// ParseInfo parses INFO text: "# Section" headers, blank lines and
// "key:value" lines (CRLF or LF). Lines without a colon are ignored.
func ParseInfo(text string) Info {
	info := Info{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			info[k] = v
		}
	}
	return info
}

// Get returns the raw value of key and whether it was present.
func (i Info) Get(key string) (string, bool) {
	v, ok := i[key]
	return v, ok
}

func (i Info) int64(key string) int64 {
	n, _ := strconv.ParseInt(i[key], 10, 64)
	return n
}

func (i Info) flag(key string) bool { return i[key] == "1" }

// RedisRole is the role exactly as Redis reports it: "master" or "slave".
func (i Info) RedisRole() string { return i["role"] }

// Role maps Redis's role to RoleMaster or RoleReplica ("" when INFO had no
// replication section).
func (i Info) Role() string {
	switch i["role"] {
	case "master":
		return RoleMaster
	case "slave":
		return RoleReplica
	}
	return ""
}

// RedisVersion is redis_version, e.g. "7.0.15".
func (i Info) RedisVersion() string { return i["redis_version"] }

// MasterHost is a replica's master_host ("" on a master).
func (i Info) MasterHost() string { return i["master_host"] }

// MasterPort is a replica's master_port (0 on a master).
func (i Info) MasterPort() int { return int(i.int64("master_port")) }

// MasterLinkStatus is a replica's master_link_status: "up" or "down".
func (i Info) MasterLinkStatus() string { return i["master_link_status"] }

// Loading reports loading:1 (the dataset is still being read from disk).
func (i Info) Loading() bool { return i.flag("loading") }

// AOFEnabled reports aof_enabled:1.
func (i Info) AOFEnabled() bool { return i.flag("aof_enabled") }

// AOFLastWriteStatus is aof_last_write_status: "ok" or "err".
func (i Info) AOFLastWriteStatus() string { return i["aof_last_write_status"] }

// AOFLastBgrewriteStatus is aof_last_bgrewrite_status: "ok" or "err".
func (i Info) AOFLastBgrewriteStatus() string { return i["aof_last_bgrewrite_status"] }

// RDBLastBgsaveStatus is rdb_last_bgsave_status: "ok" or "err".
func (i Info) RDBLastBgsaveStatus() string { return i["rdb_last_bgsave_status"] }

// AOFRewriteInProgress reports aof_rewrite_in_progress:1.
func (i Info) AOFRewriteInProgress() bool { return i.flag("aof_rewrite_in_progress") }

// AOFRewriteScheduled reports aof_rewrite_scheduled:1.
func (i Info) AOFRewriteScheduled() bool { return i.flag("aof_rewrite_scheduled") }

// RDBBgsaveInProgress reports rdb_bgsave_in_progress:1.
func (i Info) RDBBgsaveInProgress() bool { return i.flag("rdb_bgsave_in_progress") }

// LastSaveTime is rdb_last_save_time (the last successful RDB save; the
// zero Time when missing).
func (i Info) LastSaveTime() time.Time {
	n := i.int64("rdb_last_save_time")
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// MasterReplOffset is master_repl_offset (both roles report it).
func (i Info) MasterReplOffset() int64 { return i.int64("master_repl_offset") }

// SlaveReplOffset is a replica's slave_repl_offset.
func (i Info) SlaveReplOffset() int64 { return i.int64("slave_repl_offset") }

// ConnectedReplicas is connected_slaves.
func (i Info) ConnectedReplicas() int { return int(i.int64("connected_slaves")) }

// Replica is one "slaveN:ip=..,port=..,state=..,offset=..,lag=.." line of a master.
type Replica struct {
	IP     string
	Port   int
	State  string // "online", "wait_bgsave", "send_bulk", ...
	Offset int64
	Lag    int64 // seconds since the last ack
}

// Addr is "ip:port".
func (r Replica) Addr() string { return net.JoinHostPort(r.IP, strconv.Itoa(r.Port)) }

// Replicas returns the slave0..slaveN lines in order, stopping at the first gap.
func (i Info) Replicas() []Replica {
	var out []Replica
	for n := 0; ; n++ {
		v, ok := i["slave"+strconv.Itoa(n)]
		if !ok {
			return out
		}
		var r Replica
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			switch k {
			case "ip":
				r.IP = val
			case "port":
				r.Port, _ = strconv.Atoi(val)
			case "state":
				r.State = val
			case "offset":
				r.Offset, _ = strconv.ParseInt(val, 10, 64)
			case "lag":
				r.Lag, _ = strconv.ParseInt(val, 10, 64)
			}
		}
		out = append(out, r)
	}
}

// Health applies the node health rule to info, which must hold at least the
// replication and persistence sections (plain INFO does); the caller has
// already seen the server answer. Unhealthy when: still loading, the last AOF
// write failed, the last RDB bgsave failed (a full or read-only disk shows
// here even though PING answers), or, on a replica, the master link is not
// up. reason is an English sentence naming the failed field; "" when ok.
func Health(info Info) (ok bool, reason string) {
	switch {
	case info.Role() == "":
		return false, "INFO has no role (replication section missing)"
	case info.Loading():
		return false, "redis is loading its dataset (loading:1)"
	case info.RDBLastBgsaveStatus() == "":
		return false, "INFO has no persistence section"
	case info.AOFLastWriteStatus() != "ok":
		return false, "the last AOF write failed (aof_last_write_status:" + info.AOFLastWriteStatus() + ")"
	case info.RDBLastBgsaveStatus() != "ok":
		return false, "the last RDB save failed (rdb_last_bgsave_status:" + info.RDBLastBgsaveStatus() + ")"
	case info.Role() == RoleReplica && info.MasterLinkStatus() != "up":
		return false, "the link to master " + net.JoinHostPort(info.MasterHost(), strconv.Itoa(info.MasterPort())) +
			" is " + info.MasterLinkStatus() + " (master_link_status)"
	}
	return true, ""
}
