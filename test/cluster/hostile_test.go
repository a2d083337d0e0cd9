package cluster

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/autopilotpattern/redis-autopilot/test/nodes"
)

// hostileReplies are what a hostile server registered as a sentinel
// answers to anything (HELLO first). Each crashed, or could crash, PID 1
// when go-redis read it unbounded.
var hostileReplies = []struct {
	name  string
	first string // sent once, after the first command
	more  string // then sent again and again until the client leaves
}{
	{"a bulk of 2^63-2 bytes (makeslice panic)", "*2\r\n$9223372036854775806\r\n", ""},
	{"a 6 GB bulk (out of memory)", "$6000000000\r\n", strings.Repeat("x", 64<<10)},
	{"negative lengths", "*-7\r\n$-5\r\n", ""},
	{"garbage type bytes", "@\x00\xff garbage\r\n", ""},
	{"an endless array of arrays", "", "*1000000\r\n"},
	{"an endless line", "+", strings.Repeat("a", 64<<10)},
}

// hostileServer answers every connection with reply and counts them.
type hostileServer struct {
	ln    net.Listener
	conns atomic.Int64
}

func startHostile(t *testing.T, first, more string) *hostileServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(harness.FreePort(t))))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	h := &hostileServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.conns.Add(1)
			go serveHostile(c, first, more)
		}
	}()
	return h
}

func serveHostile(c net.Conn, first, more string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 4096)); err != nil { // the client speaks first
		return
	}
	if _, err := io.WriteString(c, first); err != nil {
		return
	}
	for more != "" {
		if _, err := io.WriteString(c, more); err != nil {
			return
		}
	}
}

func (h *hostileServer) port() int { return h.ln.Addr().(*net.TCPAddr).Port }

// TestHostileSentinelsDoNotTakeNodesDown registers, one at a time, servers
// that answer with malformed RESP as `redis-sentinel` in Consul (anyone can,
// without ACLs), one of them before a node starts: every node keeps
// running, the master its role and passing check, and the node logs an
// ERROR naming the server. On the old main the first one killed every
// node with "makeslice: len out of range".
func TestHostileSentinelsDoNotTakeNodesDown(t *testing.T) {
	t.Parallel()
	c := nodes.New(t)
	started := c.StartNodes(2)
	master := c.WaitTopology(40*time.Second, "", 1, 2).Masters[0]
	agent, err := api.NewClient(&api.Config{Address: c.Consul.HTTPAddr})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hostileReplies {
		t.Run(h.name, func(t *testing.T) {
			srv := startHostile(t, h.first, h.more)
			id := "hostile-" + strconv.Itoa(srv.port())
			reg := &api.AgentServiceRegistration{ID: id, Name: "redis-sentinel", Address: "127.0.0.1", Port: srv.port()}
			if err := agent.Agent().ServiceRegister(reg); err != nil {
				t.Fatalf("register %s: %v", id, err)
			}
			defer agent.Agent().ServiceDeregister(id)
			if i == 0 { // a node starting meets it in its start-up ask
				started = append(started, c.AddNode().Start())
			}
			// Every node asks every sentinel each tick (1 s), and follows
			// its events.
			peer := net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.port()))
			nodes.WaitFor(t, 30*time.Second, func() error {
				for _, n := range started {
					if n.Proc.Exited() {
						return fmt.Errorf("%s exited:\n%s", n.Name, n.Proc.Tail(40))
					}
					if !strings.Contains(n.Log(), "a sentinel sent a reply that was not read; deciding without it: sentinel="+peer) {
						return fmt.Errorf("%s did not log an ERROR naming %s (asked %d times)", n.Name, peer, srv.conns.Load())
					}
				}
				return nil
			})
			c.WaitTopology(30*time.Second, master, len(started)-1, len(started)+1)
			for _, n := range started {
				if n.Proc.Exited() {
					t.Fatalf("%s exited:\n%s", n.Name, n.Proc.Tail(40))
				}
			}
		})
	}
}
