package redisnode

import (
	"strings"
	"testing"
	"time"
)

func TestParseInfo(t *testing.T) {
	text := "# Server\r\nredis_version:7.0.15\r\n\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
		"slave0:ip=10.0.0.2,port=6380,state=online,offset=1234,lag=0\r\n" +
		"slave1:ip=10.0.0.3,port=6381,state=wait_bgsave,offset=0,lag=7\r\n" +
		"master_repl_offset:1234\r\n# Persistence\r\nloading:0\r\nrdb_last_save_time:1700000000\r\n" +
		"rdb_last_bgsave_status:ok\r\naof_last_write_status:ok\r\nweird line\r\n"
	info := ParseInfo(text)
	if info.Role() != RoleMaster || info.RedisRole() != "master" || info.RedisVersion() != "7.0.15" {
		t.Fatalf("role/version = %q/%q/%q", info.Role(), info.RedisRole(), info.RedisVersion())
	}
	reps := info.Replicas()
	want := []Replica{{"10.0.0.2", 6380, "online", 1234, 0}, {"10.0.0.3", 6381, "wait_bgsave", 0, 7}}
	if len(reps) != 2 || reps[0] != want[0] || reps[1] != want[1] || reps[1].Addr() != "10.0.0.3:6381" {
		t.Fatalf("Replicas() = %+v", reps)
	}
	if info.ConnectedReplicas() != 2 || info.MasterReplOffset() != 1234 || !info.LastSaveTime().Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("counters wrong: %v", info)
	}
	if ok, why := Health(info); !ok {
		t.Fatalf("Health = false, %q", why)
	}
}

func TestHealthRules(t *testing.T) {
	base := "role:master\nloading:0\naof_last_write_status:ok\nrdb_last_bgsave_status:ok\n"
	replica := "role:slave\nmaster_host:10.0.0.1\nmaster_port:6379\nloading:0\naof_last_write_status:ok\nrdb_last_bgsave_status:ok\n"
	tests := []struct {
		name, info string
		ok         bool
		reason     string // substring
	}{
		{"healthy master", base, true, ""},
		{"healthy replica", replica + "master_link_status:up\n", true, ""},
		{"replica link down", replica + "master_link_status:down\n", false, "link to master 10.0.0.1:6379 is down"},
		{"loading", strings.Replace(base, "loading:0", "loading:1", 1), false, "loading:1"},
		{"aof write failed", strings.Replace(base, "aof_last_write_status:ok", "aof_last_write_status:err", 1), false, "aof_last_write_status:err"},
		{"bgsave failed", strings.Replace(base, "rdb_last_bgsave_status:ok", "rdb_last_bgsave_status:err", 1), false, "rdb_last_bgsave_status:err"},
		{"no persistence section", "role:master\n", false, "persistence"},
		{"no replication section", "loading:0\n", false, "no role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := Health(ParseInfo(tt.info))
			if ok != tt.ok || !strings.Contains(reason, tt.reason) || (ok && reason != "") {
				t.Fatalf("Health = %v, %q; want %v, ~%q", ok, reason, tt.ok, tt.reason)
			}
		})
	}
}
