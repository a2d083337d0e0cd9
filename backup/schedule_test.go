package backup

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/hashicorp/go-hclog"
)

func newRegistry(t *testing.T, c *harness.Consul, log hclog.Logger) *registry.Registry {
	t.Helper()
	r, err := registry.New(registry.Options{API: c.APIConfig(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// registerReplica registers a passing redis-replica instance.
func registerReplica(t *testing.T, reg *registry.Registry, port int) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	svc := registry.Service{Name: registry.ServiceReplica, Address: "127.0.0.1", Port: port, TTL: time.Minute}
	if err := reg.Register(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if err := reg.Pass(ctx, registry.ServiceID(svc.Name, svc.Address, port), "ok"); err != nil {
		t.Fatal(err)
	}
}

func fixedRole(role string, healthy bool) NodeState {
	return func(context.Context) (string, bool) { return role, healthy }
}

// Three nodes (a master, two replicas) share a real Consul and a store;
// over several TTL periods the cluster takes exactly one backup per
// period, always on a replica: never two within a TTL, and each next one
// once the TTL of the one before is over, or once that one is done when it
// took longer than the TTL (a loaded machine: one backup of 6 KB took 6 s
// at load 25, and a fixed window of 3.5 TTLs then held only 2).
func TestSchedulerOnePerPeriod(t *testing.T) {
	consul := harness.StartConsul(t)
	log, _ := testLog(t)
	r, c := startRedis(t)
	fill(t, r.Client, 200)
	s := dirStore(t)
	// Created is rounded to the second in the sidecar, so two of them are
	// up to 1 s off their distance; the TTL is long enough for a skipped
	// period to stand out past that and the slack below.
	const ttl = 4 * time.Second
	const interval = 200 * time.Millisecond
	// slack is how late a due backup may start: 1 s for the rounding, a
	// tick, and 1 s for reading last-backup and taking the lock in Consul
	// (0.4 s seen at load 25).
	const slack = time.Second + interval + time.Second
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, role := range []string{redisnode.RoleMaster, redisnode.RoleReplica, redisnode.RoleReplica} {
		reg := newRegistry(t, consul, log)
		if role == redisnode.RoleReplica {
			registerReplica(t, reg, 7000+i)
		}
		sch, err := NewScheduler(SchedulerOptions{
			Backup:   Options{Redis: c, DataDir: r.Dir, Store: s, Compression: "zstd"},
			Registry: reg, Node: fixedRole(role, true), Holder: fmt.Sprint("node", i),
			Interval: interval, TTL: ttl, Log: log.Named(fmt.Sprint("node", i)),
			// The master counts its grace from when it first sees a backup
			// due, even while a replica is still taking the one before: at
			// the default 3 ticks (600 ms), a replica's backup that outlasts
			// the TTL (4.75 s at load 27) let the master take the next one.
			MasterGrace: 30 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); sch.Run(ctx) }()
	}
	// recorded is when the test first saw each backup named last-backup in
	// Consul: from then it is done, and the others see it.
	recorded := map[string]time.Time{}
	watch := newRegistry(t, consul, log)
	harness.Eventually(t, 60*time.Second, func() error {
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer rcancel()
		last, found, err := ReadLast(rctx, watch)
		if err != nil || !found {
			return fmt.Errorf("no last-backup yet (%v)", err)
		}
		if _, ok := recorded[last.Name]; !ok {
			recorded[last.Name] = time.Now()
		}
		if len(recorded) < 3 {
			return fmt.Errorf("%d backups recorded, want 3", len(recorded))
		}
		return nil
	})
	cancel()
	wg.Wait()

	list, err := s.List(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d backups, want the 3 recorded: %v", len(list), names(t, s))
	}
	var taken []store.Info
	for _, i := range list {
		if !i.Good() || i.Meta.SourceRole != redisnode.RoleReplica {
			t.Errorf("backup %s: good %v, role %v", i.Name, i.Good(), i.Meta)
			continue
		}
		taken = append(taken, i)
	}
	sort.Slice(taken, func(a, b int) bool { return taken[a].Meta.Created.Before(taken[b].Meta.Created) })
	for i := 1; i < len(taken); i++ {
		prev, next := taken[i-1], taken[i]
		gap := next.Meta.Created.Sub(prev.Meta.Created)
		// Due once prev's TTL is over, or once prev is done if it took
		// longer.
		due := prev.Meta.Created.Add(ttl)
		if at, ok := recorded[prev.Name]; ok && at.After(due) {
			due = at
		}
		if late := next.Meta.Created.Sub(due); gap < ttl-time.Second || late > slack {
			t.Errorf("backups %s and %s %v apart, the second %v after it was due; want one per %v",
				prev.Name, next.Name, gap, late, ttl)
		}
	}
	last, found, err := ReadLast(testCtx(t, 5*time.Second), watch)
	if err != nil || !found || last.Name != list[len(list)-1].Name {
		t.Errorf("last-backup %+v %v %v, want %s", last, found, err, list[len(list)-1].Name)
	}
}

// fakeClock is a settable clock for Tick tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The master leaves a due backup to passing replicas for MasterGrace,
// then takes it; alone, it takes it at once.
func TestSchedulerMasterDefers(t *testing.T) {
	consul := harness.StartConsul(t)
	log, _ := testLog(t)
	r, c := startRedis(t)
	fill(t, r.Client, 50)
	reg := newRegistry(t, consul, log)
	clock := &fakeClock{t: time.Now()}
	newSch := func() *Scheduler {
		sch, err := NewScheduler(SchedulerOptions{
			Backup:   Options{Redis: c, DataDir: r.Dir, Store: dirStore(t), Compression: "gzip"},
			Registry: reg, Node: fixedRole(redisnode.RoleMaster, true), Holder: "master",
			Interval: time.Second, TTL: time.Hour, Log: log, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return sch
	}
	ctx := testCtx(t, time.Minute)
	d, err := newSch().Tick(ctx)
	if err != nil || d.Backup == "" {
		t.Fatalf("alone: Tick = %+v, %v; want a backup", d, err)
	}
	if err := reg.Delete(ctx, registry.KeyLastBackup); err != nil {
		t.Fatal(err)
	}
	registerReplica(t, reg, 7001)
	sch := newSch()
	d, err = sch.Tick(ctx)
	if err != nil || d.Backup != "" || !strings.Contains(d.Reason, "leaves it to a passing replica") {
		t.Fatalf("with a replica: Tick = %+v, %v; want deferring", d, err)
	}
	clock.Add(3*time.Second + time.Millisecond)
	d, err = sch.Tick(ctx)
	if err != nil || d.Backup == "" {
		t.Fatalf("after MasterGrace: Tick = %+v, %v; want a backup", d, err)
	}
}

func TestPruneKeepsLastBackup(t *testing.T) {
	s := dirStore(t)
	ctx := testCtx(t, 10*time.Second)
	var all []string
	for i := range 5 {
		name, _ := store.Name(time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), "gzip")
		if err := s.Put(ctx, name, strings.NewReader("x"), store.Meta{}); err != nil {
			t.Fatal(err)
		}
		all = append(all, name)
	}
	deleted, err := Prune(ctx, s, 2, all[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, s), []string{all[0], all[3], all[4]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after Prune: %v (deleted %v), want %v", got, deleted, want)
	}
	if deleted, _ := Prune(ctx, s, 0, ""); len(deleted) != 0 || len(names(t, s)) != 3 {
		t.Fatal("keep 0 deleted something")
	}
}

// retain calls Retain with the oldest backup kept, only once BACKUP_KEEP
// backups are stored.
func TestRetainOldestKept(t *testing.T) {
	s := dirStore(t)
	ctx := testCtx(t, 10*time.Second)
	var got []time.Time
	sch := &Scheduler{log: hclog.NewNullLogger(), o: SchedulerOptions{Backup: Options{Store: s}, Keep: 2,
		Retain: func(_ context.Context, oldest time.Time) error { got = append(got, oldest); return nil }}}
	times := []time.Time{time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC)}
	for i, at := range times {
		name, _ := store.Name(at, "gzip")
		if err := s.Put(ctx, name, strings.NewReader("x"), store.Meta{Created: at}); err != nil {
			t.Fatal(err)
		}
		sch.retain(ctx)
		if len(got) != i {
			t.Fatalf("with %d backups Retain was called %d times, want %d", i+1, len(got), i)
		}
	}
	if !got[0].Equal(times[0]) {
		t.Fatalf("Retain(%v), want the oldest kept %v", got[0], times[0])
	}
}
