package devcluster

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// stop stops the nodes that are not master (together), then the master,
// then Consul; each node runs its own orderly stop. When kill ends first,
// every process is killed at once and stop returns ErrKilled.
func (c *cluster) stop(kill context.Context) error {
	if c.consul == nil {
		return nil
	}
	fmt.Fprintln(c.out, "stopping: replicas, then the master (each stops in order and saves), then consul;"+
		" Ctrl-C again kills everything at once")
	master := c.master()
	var replicas []*supervisor.Child
	for _, n := range c.l.Nodes {
		if child, ok := c.nodes[n.Name]; ok && n.Name != master {
			replicas = append(replicas, child)
		}
	}
	groups := [][]*supervisor.Child{replicas, {c.nodes[master]}, {c.consul}}
	var errs []error
	for _, g := range groups {
		errs = append(errs, c.stopTogether(kill, g)...)
	}
	if kill.Err() != nil {
		killDescendants()
		return ErrKilled
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop: %v", errs)
	}
	if left := descendants(os.Getpid()); len(left) > 0 {
		killDescendants()
		return fmt.Errorf("processes %v were still running after the stop; killed them", left)
	}
	fmt.Fprintln(c.out, "stopped: nothing left running")
	return nil
}

// master is the name of the node last seen as master, or "".
func (c *cluster) master() string {
	if c.w == nil {
		return ""
	}
	for _, n := range c.l.Nodes {
		if c.w.last[n.Name].Role == "master" {
			return n.Name
		}
	}
	return ""
}

// stopTogether stops children at the same time and prints each as it
// ends.
func (c *cluster) stopTogether(kill context.Context, children []*supervisor.Child) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, child := range children {
		if child == nil || ended(child) {
			continue // reported when it ended
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := child.Stop(kill)
			st, _ := child.Result()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if !st.Success() && kill.Err() == nil && child != c.consul {
				// (a Consul server exits 1 on SIGINT: it skips the leave)
				errs = append(errs, fmt.Errorf("%s ended with %s on stop", child.Name(), st))
			}
			how := st.String() + ", "
			if child == c.consul {
				how = ""
			}
			fmt.Fprintf(c.out, "%s %s stopped (%s%.1fs)\n", time.Now().Format("15:04:05"), child.Name(), how,
				time.Since(start).Seconds())
		}()
	}
	wg.Wait()
	return errs
}

func ended(c *supervisor.Child) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}
