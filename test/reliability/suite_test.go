//go:build reliability

package reliability

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// nodeCount is the cluster's size: a majority survives losing one node.
const nodeCount = 3

// recoverTimeout is how long a cluster gets to be whole again after a
// fault is removed, without anybody's help.
const recoverTimeout = 90 * time.Second

// suite is one cluster with its writer and checker, and the figures.
type suite struct {
	t     *testing.T
	st    settings
	c     *nodes.Cluster
	nodes []*nodes.Node
	check *nodes.Checker
	// writer finds the master through Consul; swriter through the
	// sentinels, as most clients do (go-redis's FailoverClient).
	writer, swriter *nodes.Writer
	// down are the nodes a fault has stopped on purpose; the restart
	// policy leaves them alone.
	down map[*nodes.Node]bool
	// cantCgroup, cantNft, cantMount say why scenarios needing them skip.
	cantCgroup, cantNft, cantMount error
	// cantFreeze says why the backup store cannot be frozen (fsfreeze
	// needs it on a loop-mounted ext4 image).
	cantFreeze error

	sentinels map[*nodes.Node]*redis.Client
	// agents: each node runs its own Consul agent.
	agents bool
	// backupDir is the shared backup store ("" when backups are off);
	// lastBackup the last name verified.
	backupDir, lastBackup string
	// bulk is how many bulk keys fill loaded.
	bulk int
	// policyRestarts counts nodes the restart policy started again.
	policyRestarts int

	figs      map[string]*figures
	order     []string
	counted   map[string]bool // lost keys already counted in a trial
	lastCheck time.Time       // end of the last write window checked
	reported  bool
	failures  []string // every failure, repeated last in the output
}

func TestReliability(t *testing.T) {
	st := loadSettings(t)
	mode := "short"
	if st.long {
		mode = fmt.Sprintf("long (%s)", st.duration)
	}
	t.Logf("reliability suite, %s mode, seed %d: repeat with -seed=%d or RELIABILITY_SEED=%d", mode, st.seed, st.seed, st.seed)
	s := newSuite(t, st)
	defer s.report()
	scs := s.selected()
	if st.long {
		deadline := time.Now().Add(st.duration)
		for round := 1; round == 1 || time.Now().Before(deadline); round++ {
			for _, sc := range scs {
				if round > 1 && time.Now().After(deadline) {
					break
				}
				s.runTrial(sc, round)
			}
		}
		return
	}
	for _, sc := range scs {
		n := max(sc.shortTrials, 1)
		if st.trials > 0 {
			n = st.trials
		}
		for i := 1; i <= n; i++ {
			s.runTrial(sc, i)
		}
	}
}

func newSuite(t *testing.T, st settings) *suite {
	s := &suite{t: t, st: st, down: map[*nodes.Node]bool{}, figs: map[string]*figures{}, sentinels: map[*nodes.Node]*redis.Client{}, counted: map[string]bool{}}
	// Registered first, so it runs after every node's shutdown log: the
	// end of the output (all CI keeps) says what failed.
	t.Cleanup(s.summarize)
	s.cantCgroup = nodes.CgroupsAvailable()
	if _, err := exec.LookPath("nft"); err != nil {
		s.cantNft = fmt.Errorf("nft is not on PATH (apt-get install -y nftables, or make deps)")
	}
	if os.Geteuid() != 0 {
		s.cantMount = fmt.Errorf("mounting a tmpfs needs root")
	}
	for _, e := range []error{s.cantCgroup, s.cantNft, s.cantMount} {
		if e != nil {
			t.Logf("WARNING: %v: the scenarios that need it are SKIPPED", e)
		}
	}
	// Nodes listen on 0.0.0.0 and advertise their own address, as in a
	// container; RELIABILITY_BIND_NODE_IP=1 binds the node IP instead
	// (test/cluster's TestBindToOneAddress covers that setting).
	bindAll := os.Getenv("RELIABILITY_BIND_NODE_IP") != "1"
	// Each node runs its own Consul agent, as in production, unless
	// RELIABILITY_CONSUL_AGENTS=0 (nodes then talk to the server).
	s.agents = os.Getenv("RELIABILITY_CONSUL_AGENTS") != "0"
	var env []string
	if os.Getenv("RELIABILITY_BACKUPS") != "0" {
		s.backupDir = harness.TempDir(t, "backups-")
		env = backupEnv(s.backupDir)
		s.cantFreeze = s.cantMount
		if s.cantFreeze == nil {
			s.cantFreeze = mountExt4(t, s.backupDir, "1g")
		}
		if s.cantFreeze != nil {
			t.Logf("WARNING: the backup store cannot be frozen (%v): the scenarios that need it are SKIPPED", s.cantFreeze)
		}
	}
	env = append(env, "SENTINEL_FORGET_AFTER="+forgetAfter.String())
	s.c = nodes.NewWithOptions(t, nodes.Options{NodeIPs: true, BindAll: bindAll, Env: env,
		Cgroups: s.cantCgroup == nil, RestartableConsul: true, ConsulAgents: s.agents})
	for i := 0; i < nodeCount; i++ {
		n := s.c.AddNode()
		if s.cantMount == nil {
			mountTmpfs(t, n.Dir+"/data", "256m")
		}
		s.nodes = append(s.nodes, n)
	}
	for _, n := range s.nodes {
		n.Start()
	}
	s.c.WaitTopology(90*time.Second, "", nodeCount-1, nodeCount)
	if members, _, err := s.c.Consul.Client.Catalog().Nodes(nil); err == nil {
		var names []string
		for _, m := range members {
			names = append(names, m.Node+"@"+m.Address)
		}
		t.Logf("Consul catalog nodes: %v (own agents per node: %v)", names, s.agents)
	}
	s.fill()
	s.check = s.c.StartChecker(200 * time.Millisecond)
	t.Cleanup(s.check.Stop)
	s.writer = s.c.StartWriter(nodes.WriterOptions{Seed: st.seed})
	t.Cleanup(s.writer.Stop)
	s.swriter = s.c.StartWriter(nodes.WriterOptions{Seed: st.seed, Sentinels: s.c.Sentinels()})
	t.Cleanup(s.swriter.Stop)
	s.lastCheck = time.Now().Add(-time.Minute)
	return s
}

// fill writes RELIABILITY_BULK_KEYS (default 100000) keys of 200 bytes,
// about 25 MB: failovers resync real data, and a backup takes long enough
// to be interrupted.
func (s *suite) fill() {
	n := 100000
	if v := os.Getenv("RELIABILITY_BULK_KEYS"); v != "" {
		fmt.Sscan(v, &n)
	}
	master := s.c.Node(s.c.Topology().Masters[0])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewSource(s.st.seed))
	buf := make([]byte, 100)
	for i := 0; i < n; i += 1000 {
		p := master.Client.Pipeline()
		for j := i; j < min(i+1000, n); j++ {
			rng.Read(buf) // random: the RDB is as big as the data
			p.Set(ctx, fmt.Sprintf("bulk:%d", j), hex.EncodeToString(buf), 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			s.t.Fatalf("fill the master: %v", err)
		}
	}
	s.bulk = n
	s.t.Logf("wrote %d bulk keys on %s", n, master.Name)
}

func (s *suite) backupsNote() string {
	if s.backupDir == "" {
		return "off (RELIABILITY_BACKUPS=0)"
	}
	return "BACKUP_DIR shared, one every ~20 s"
}

// selected are the scenarios this run plays, in order.
func (s *suite) selected() []scenario {
	var out []scenario
	for _, sc := range scenarios() {
		if s.st.only != nil && !s.st.only.MatchString(sc.name) {
			continue
		}
		if !s.st.long && !sc.short && s.st.only == nil {
			continue
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		s.t.Fatalf("no scenario matches %v", s.st.only)
	}
	return out
}

// rng is the trial's own random source: the same seed, scenario and trial
// number give the same faults.
func (s *suite) rng(name string, trial int) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%d", s.st.seed, name, trial)
	return rand.New(rand.NewSource(int64(h.Sum64())))
}

func (s *suite) fig(name string) *figures {
	if s.figs[name] == nil {
		s.figs[name] = &figures{}
		s.order = append(s.order, name)
	}
	return s.figs[name]
}

// between returns a random duration in [lo, hi].
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int63n(int64(hi-lo)+1))
}

// quietLogger drops go-redis's own log lines (a refused dial to a node the
// suite has just killed is expected, hundreds of times).
type quietLogger struct{}

// failf records a failure of the suite and fails the test.
func (s *suite) failf(format string, args ...any) {
	s.t.Helper()
	msg := fmt.Sprintf(format, args...)
	s.failures = append(s.failures, msg)
	s.t.Error(msg)
}

// summarize repeats the failures, the seed and where the logs are at the
// very end of the output.
func (s *suite) summarize() {
	if len(s.failures) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "reliability suite FAILED (seed %d; repeat with RELIABILITY_SEED=%d; node logs in %s):", s.st.seed, s.st.seed, s.logDir())
	for _, f := range s.failures {
		first, _, _ := strings.Cut(f, "\n")
		fmt.Fprintf(&b, "\n  - %s", first)
	}
	s.t.Log(b.String())
}

func (quietLogger) Printf(context.Context, string, ...interface{}) {}

func init() { redis.SetLogger(quietLogger{}) }
