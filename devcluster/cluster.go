package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// Defaults of Options.
const (
	DefaultPoll = 500 * time.Millisecond
	// nodeStopGrace bounds a node's orderly stop (hand-over, final save,
	// deregistration) before it is killed.
	nodeStopGrace = 90 * time.Second
	leaderTimeout = 60 * time.Second
)

// ErrKilled is returned when a second stop request killed everything
// instead of waiting for the orderly stop.
var ErrKilled = errors.New("killed at the second stop request")

// Options configure Run.
type Options struct {
	// Layout is every port and path; from NewLayout. Required.
	Layout Layout
	// Binary is the redis-autopilot executable each node runs (`run`).
	// Required.
	Binary string
	// Consul is the consul executable (see FindBinaries). Required.
	Consul string
	// LogLevel is the nodes' LOG_LEVEL; empty means INFO.
	LogLevel string
	// Out receives how to connect and the live view, as plain lines.
	// Required.
	Out io.Writer
	// Poll is the live view's poll interval; 0 means DefaultPoll.
	Poll time.Duration
	// Env is the environment of Consul and the base of every node's
	// (PATH, HOME); nil means this process's PATH and HOME. Secrets do not
	// belong here.
	Env []string
}

func (o *Options) validate() error {
	switch {
	case len(o.Layout.Nodes) == 0:
		return fmt.Errorf("%w: Layout has no nodes (use NewLayout)", ErrInvalidOptions)
	case o.Binary == "" || o.Consul == "":
		return fmt.Errorf("%w: Binary and Consul are required", ErrInvalidOptions)
	case o.Out == nil:
		return fmt.Errorf("%w: Out is required", ErrInvalidOptions)
	case o.Poll < 0:
		return fmt.Errorf("%w: Poll %s is negative", ErrInvalidOptions, o.Poll)
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.LogLevel == "" {
		o.LogLevel = "INFO"
	}
	if o.Env == nil {
		for _, k := range []string{"PATH", "HOME"} {
			if v, ok := os.LookupEnv(k); ok {
				o.Env = append(o.Env, k+"="+v)
			}
		}
	}
	return nil
}

// cluster is one run of Run.
type cluster struct {
	o      Options
	l      Layout
	out    io.Writer
	sup    *supervisor.Supervisor
	consul *supervisor.Child
	nodes  map[string]*supervisor.Child
	client *api.Client
	w      *watcher
}

// Run prepares the state directory, starts Consul and the nodes as
// supervised children, prints how to connect and then each change of
// role, until ctx ends or SIGINT/SIGTERM arrives. Then it stops the nodes
// in order (replicas, then the master; each runs its own orderly stop),
// then Consul. A second SIGINT/SIGTERM kills every process at once and
// Run returns ErrKilled. Run returns nil after an orderly stop.
func Run(ctx context.Context, o Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	st, err := prepare(o.Layout)
	if err != nil {
		return err
	}
	defer st.close()
	// A closed stdout (`dev | head`) must not kill us with SIGPIPE and
	// orphan the cluster: notified, the signal only makes the write fail.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	if err := CheckPorts(o.Layout); err != nil {
		return err
	}
	base := hclog.New(&hclog.LoggerOptions{Name: "dev", Output: st.dev, Level: hclog.Info, Color: hclog.ColorOff})
	sup, err := supervisor.New(supervisor.Options{Log: childLogs{Logger: base, files: st.writers()}})
	if err != nil {
		return err
	}
	supCtx, endSup := context.WithCancel(context.Background())
	if err := sup.Start(supCtx); err != nil {
		endSup()
		return err
	}
	defer func() { endSup(); <-sup.Done() }()
	c := &cluster{o: o, l: o.Layout, out: o.Out, sup: sup, nodes: map[string]*supervisor.Child{}}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	killCtx, kill := context.WithCancel(context.Background())
	defer kill()
	go c.requests(runCtx, stopRun, kill)
	runErr := c.run(runCtx)
	stopRun() // from now on a stop request kills
	stopErr := c.stop(killCtx)
	return errors.Join(runErr, stopErr)
}

// requests turns the first stop request into the end of the run and the
// next into killing everything.
func (c *cluster) requests(runCtx context.Context, stopRun, kill context.CancelFunc) {
	for {
		var r supervisor.Request
		select {
		case r = <-c.sup.Requests():
		case <-c.sup.Done():
			return
		}
		if r != supervisor.RequestStop {
			continue
		}
		if runCtx.Err() == nil {
			stopRun()
			continue
		}
		fmt.Fprintln(c.out, "second stop request: killing every process now")
		kill()
		killDescendants()
	}
}

// run starts Consul and the nodes and shows the live view until ctx ends;
// it returns an error only when the cluster cannot run on.
func (c *cluster) run(ctx context.Context) error {
	if err := c.startConsul(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	for _, n := range c.l.Nodes {
		child, err := c.sup.Add(supervisor.ChildSpec{
			Command: supervisor.Command{Name: n.Name, Path: c.o.Binary, Args: []string{"run"},
				Env: c.nodeEnv(n), StopGrace: nodeStopGrace},
			Restart: supervisor.RestartOnFailure, MaxRestarts: 3,
		})
		if err != nil {
			return fmt.Errorf("start %s: %w", n.Name, err)
		}
		c.nodes[n.Name] = child
	}
	writeBanner(c.out, c.l)
	c.w = newWatcher(c.l, c.client, c.out)
	watchCtx, endWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); c.w.run(watchCtx, c.o.Poll) }()
	defer func() { endWatch(); <-watched }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case child := <-c.sup.Finished():
			_, err := child.Result()
			if child == c.consul {
				return fmt.Errorf("consul ended (%v); see %s", err, c.l.ConsulLog)
			}
			fmt.Fprintf(c.out, "%s %s ended for good (%s); the others run on; see its log\n",
				time.Now().Format("15:04:05"), child.Name(), describe(err))
		}
	}
}

func describe(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// nodeEnv is a node's whole environment: loopback addresses, its ports and
// directories, short timings so a failover is quick to watch, and the
// shared backup directory (the first master restores the newest backup a
// previous run left there, and starts empty when there is none).
func (c *cluster) nodeEnv(n NodeLayout) []string {
	return append(append([]string{}, c.o.Env...),
		"LOG_LEVEL="+c.o.LogLevel,
		"CONSUL_HTTP_ADDR="+c.l.ConsulAddr(),
		"ADVERTISE_ADDR=127.0.0.1", "BIND_ADDR=127.0.0.1",
		"REDIS_PORT="+strconv.Itoa(n.RedisPort), "SENTINEL_PORT="+strconv.Itoa(n.SentinelPort),
		"REDIS_DATA_DIR="+n.DataDir, "REDIS_CONFIG_DIR="+n.ConfigDir,
		"HTTP_ADDR=127.0.0.1:"+strconv.Itoa(n.HTTP),
		"BACKUP_DIR="+c.l.BackupDir, "RESTORE_ALLOW_EMPTY=true",
		"SENTINEL_QUORUM="+strconv.Itoa(len(c.l.Nodes)/2+1), // a majority, so 1 and 2 nodes work too
		"SENTINEL_DOWN_AFTER=5s", "SENTINEL_FAILOVER_TIMEOUT=20s",
		"POLL_INTERVAL=2s", "CHECK_TTL=10s",
	)
}
