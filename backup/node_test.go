package backup

import (
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/redisnode"
)

// TestRedisNodeStateFencedMasterIsUnhealthy: a master with its write fence
// up (failed over by the sentinels and not yet demoted, or being handed
// over) is not healthy, so it neither backs up nor ships the AOF; lifted,
// it is healthy again. Found in make matrix on Valkey 8.1: the old master,
// fenced for the 10 s until Sentinel demoted it, took the shipping lock
// while no replica passed yet, and its chain covered seconds without the
// writes the new master had acknowledged in them.
func TestRedisNodeStateFencedMasterIsUnhealthy(t *testing.T) {
	r, c := startRedis(t)
	state := RedisNodeState(c)
	ctx := testCtx(t, 30*time.Second)
	if role, ok := state(ctx); role != redisnode.RoleMaster || !ok {
		t.Fatalf("an unfenced master: role %q healthy %v, want master, healthy", role, ok)
	}
	fence := func(v string) {
		t.Helper()
		if err := r.Client.ConfigSet(ctx, redisnode.FenceSetting, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	fence(redisnode.FenceValue)
	if role, ok := state(ctx); role != redisnode.RoleMaster || ok {
		t.Fatalf("a fenced master: role %q healthy %v, want master, not healthy", role, ok)
	}
	fence("0")
	if role, ok := state(ctx); role != redisnode.RoleMaster || !ok {
		t.Fatalf("the fence lifted: role %q healthy %v, want master, healthy", role, ok)
	}
}
