package cluster

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/nodes"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// TestSimultaneousStartElectsOneMaster starts three nodes at the same moment
// on an empty Consul, again and again: exactly one master every time, and
// Consul never lists two passing `redis` (the shell version's 30 s lock
// session was never renewed, so two masters were possible).
func TestSimultaneousStartElectsOneMaster(t *testing.T) {
	t.Parallel()
	rounds := 10
	if s := os.Getenv("ELECTION_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	for i := 1; i <= rounds; i++ {
		t.Run(fmt.Sprintf("round %d", i), func(t *testing.T) {
			c := nodes.New(t)
			stop := make(chan struct{})
			most := c.WatchMasters(stop)
			started := c.StartNodes(3)
			top := c.WaitTopology(45*time.Second, "", 2, 3)
			close(stop)
			if m := <-most; m > 1 {
				t.Fatalf("Consul listed %d passing redis masters at once", m)
			}
			masters := 0
			for _, n := range started {
				info, err := n.Client.Info(nodes.Ctx(t, 2*time.Second), "replication").Result()
				if err != nil {
					t.Fatal(err)
				}
				if containsLine(info, "role:master") {
					masters++
				}
			}
			if masters != 1 {
				t.Fatalf("%d nodes report role:master, want 1 (Consul: %+v)", masters, top)
			}
		})
	}
}

// TestLockHolderStallsDuringBootstrap freezes the node that holds the
// bootstrap lock (SIGSTOP) before its redis passes, past its session TTL:
// another node takes over, and when the frozen one wakes it steps back.
// There is never a second passing master.
func TestLockHolderStallsDuringBootstrap(t *testing.T) {
	t.Parallel()
	c := nodes.New(t)
	stop := make(chan struct{})
	most := c.WatchMasters(stop)
	// The holder's Consul check would pass within a tick of taking the
	// lock; freeze it the moment the lock key has a session.
	a := c.AddNode().Start()
	harness.Eventually(t, 20*time.Second, func() error {
		kv, _, err := c.Consul.Client.KV().Get("service/redis/locks/master", nil)
		if err != nil {
			return err
		}
		if kv == nil || kv.Session == "" {
			return fmt.Errorf("lock not held yet")
		}
		return nil
	})
	a.Stop()
	frozen := time.Now()
	b := c.AddNode().Start()
	c.WaitTopology(90*time.Second, "", 0, 1)
	master := c.Instances("redis", true)[0]
	t.Logf("with %s frozen, %s is master after %s", a.Addr(), master, time.Since(frozen).Round(time.Millisecond))
	a.Cont()
	top := c.WaitTopology(60*time.Second, master, 1, 2)
	close(stop)
	if m := <-most; m > 1 {
		t.Fatalf("Consul listed %d passing redis masters at once", m)
	}
	if master == a.Addr() {
		// The freeze came after a's redis passed; then b must have
		// become its replica and that is fine, as long as there was
		// only ever one master.
		t.Logf("the frozen node had passed before the freeze; %s is its replica", b.Addr())
	} else {
		if top.Replicas[0] != a.Addr() {
			t.Fatalf("the woken node %s is not the replica: %+v", a.Addr(), top)
		}
		// Two honest ways back: frozen after its redis started as
		// master, it finds the lock lost and steps back; frozen between
		// taking the lock and the look it takes under it, it wakes to
		// that look, finds the new master and starts as its replica
		// without ever starting as master.
		log := a.Log()
		resolved := regexp.MustCompile(`role resolved: role=(\w+)`).FindAllStringSubmatch(log, -1)
		switch {
		case strings.Contains(log, "stepping back"):
			t.Logf("the woken node stepped back")
		case len(resolved) == 1 && resolved[0][1] == "replica":
			t.Logf("the woken node looked again under the lost lock and started as a replica")
		default:
			t.Fatalf("the woken node neither stepped back nor started as a replica at once (roles resolved %v):\n%s", resolved, a.Proc.Tail(30))
		}
	}
}

func containsLine(text, line string) bool {
	for _, l := range splitLines(text) {
		if l == line {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			l := s[start:i]
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			out = append(out, l)
			start = i + 1
		}
	}
	return append(out, s[start:])
}
