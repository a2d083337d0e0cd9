package backup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestBgsaveFailsWhenRedisRestarts: redis restarting during our BGSAVE
// (its counters start again) ends the wait at once with ErrBgsave, instead
// of holding the cluster's backup lock until the BGSAVE timeout (found by
// the reliability suite: a replica crashed on a full disk mid-backup).
func TestBgsaveFailsWhenRedisRestarts(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 20; i++ {
		if err := r.Client.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Each key now takes 0.5 s to save: the BGSAVE runs for ~10 s.
	if err := r.Client.ConfigSet(ctx, "rdb-key-save-delay", "500000").Err(); err != nil {
		t.Fatalf("CONFIG SET rdb-key-save-delay: %v", err)
	}
	c := redisnode.Dial(r.Addr, "")
	defer c.Close()
	restarted := make(chan struct{})
	defer func() { <-restarted }() // StartRedis uses t: it must end first
	go func() {
		defer close(restarted)
		// Once the save runs, kill redis and start it again on its port.
		harness.Wait(10*time.Second, func() error {
			info, err := c.Info(ctx, "persistence")
			if err != nil || !info.RDBBgsaveInProgress() {
				return errors.New("no save yet")
			}
			return nil
		})
		r.Kill()
		// Kill waits for redis itself; the save's fork, killed with its
		// process group, may hold the listening socket a moment longer
		// (Valkey 8.1 on a loaded host: "Address already in use").
		harness.Wait(10*time.Second, func() error {
			l, err := net.Listen("tcp", r.Addr)
			if err != nil {
				return err
			}
			return l.Close()
		})
		harness.StartRedis(t, harness.RedisOptions{Port: r.Port, Dir: harness.TempDir(t, "redis-")})
	}()
	start := time.Now()
	_, err := bgsave(ctx, c, 5*time.Minute)
	if !errors.Is(err, ErrBgsave) || !strings.Contains(err.Error(), "restarted") {
		t.Fatalf("bgsave = %v, want ErrBgsave saying redis restarted", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("bgsave took %s to notice the restart", took)
	}
}
