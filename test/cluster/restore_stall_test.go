package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/mantaserver"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
	"github.com/hashicorp/consul/api"
)

// mantaBackup starts a Manta test server holding one real backup and
// returns it with the environment that points a node at it.
func mantaBackup(t *testing.T) (srv *mantaserver.Server, name string, env []string) {
	t.Helper()
	srv = mantaserver.New(t, mantaserver.Options{})
	key, fp, keyPEM := srv.NewKey(t)
	bucket := "/" + srv.Account + "/stor/redis-backups"
	s, err := backup.OpenStore(&config.Config{MantaURL: srv.URL, MantaUser: srv.Account, MantaKeyID: fp,
		MantaKey: key, MantaBucket: bucket}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := harness.StartRedis(t, harness.RedisOptions{})
	if err := r.Client.Set(nodes.Ctx(t, 5*time.Second), "restored", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c := redisnode.Dial(r.Addr, "")
	defer c.Close()
	info, err := backup.Backup(nodes.Ctx(t, time.Minute), backup.Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	return srv, info.Name, []string{"MANTA_URL=" + srv.URL, "MANTA_USER=" + srv.Account, "MANTA_KEY_ID=" + fp,
		"MANTA_PRIVATE_KEY=" + strings.ReplaceAll(keyPEM, "\n", "#"), "MANTA_BUCKET=" + bucket}
}

// A node elected the first master of an empty cluster whose restore
// download stalls (the Manta GET of the backup hangs; Manta answers
// nothing, not even headers) gives up after BACKUP_STALL_TIMEOUT: it logs
// an ERROR naming the store and the stall, and gives the bootstrap lock
// back at once, so another node can be elected. Once the store answers,
// a node restores the backup and becomes master.
func TestRestoreStallReleasesBootstrapLock(t *testing.T) {
	srv, name, env := mantaBackup(t)
	c := nodes.New(t, append(env, "BACKUP_STALL_TIMEOUT=2s")...)
	if _, err := c.Consul.Client.KV().Put(&api.KVPair{Key: registry.KeyLastBackup, Value: []byte(name)}, nil); err != nil {
		t.Fatal(err)
	}
	data := "/" + srv.Account + "/stor/redis-backups/" + name
	// Stat reads the sidecar, whose path starts with the data's: a fast
	// Slow fault lets those GETs through.
	srv.Inject(mantaserver.Fault{Method: "GET", PathPrefix: data + store.SidecarSuffix, Kind: mantaserver.Slow, Rate: 1 << 30})
	srv.Inject(mantaserver.Fault{Method: "GET", PathPrefix: data, Kind: mantaserver.Stall})

	a := c.AddNode().Start()
	var stalledAt time.Time
	nodes.WaitFor(t, 30*time.Second, func() error {
		for _, q := range srv.Requests() {
			if q.Method == "GET" && q.Path == data {
				if stalledAt.IsZero() {
					stalledAt = time.Now()
				}
				return nil
			}
		}
		return errors.New("the node has not asked for the backup yet")
	})
	nodes.WaitFor(t, 15*time.Second, func() error {
		log := a.Log()
		for _, want := range []string{"[ERROR]", "made no progress for 2s (BACKUP_STALL_TIMEOUT)", name} {
			if !strings.Contains(log, want) {
				return fmt.Errorf("the node's log does not say %q yet", want)
			}
		}
		return nil
	})
	took := time.Since(stalledAt)
	nodes.WaitFor(t, 5*time.Second, func() error {
		kv, _, err := c.Consul.Client.KV().Get(registry.KeyMasterLock, nil)
		if err != nil {
			return err
		}
		if kv != nil && kv.Session != "" {
			return fmt.Errorf("the bootstrap lock is still held by session %s", kv.Session)
		}
		return nil
	})
	t.Logf("the stalled restore gave the lock back %v after its GET", took.Round(100*time.Millisecond))
	if took > 12*time.Second {
		t.Errorf("the stalled restore took %v to give up; BACKUP_STALL_TIMEOUT is 2s", took)
	}

	srv.ClearFaults()
	b := c.AddNode().Start()
	c.WaitTopology(60*time.Second, b.Addr(), 0, 1)
	if got, err := b.Client.Get(nodes.Ctx(t, 5*time.Second), "restored").Result(); err != nil || got != "yes" {
		t.Fatalf("after the store answered again: restored = %q, %v", got, err)
	}
}
