// Package devcluster runs `redis-autopilot dev`: a Consul dev agent and N
// whole redis-autopilot nodes on 127.0.0.1 of this machine, as children of
// one supervisor, with a live view of their roles for the terminal.
//
// Every port is a documented default shifted by one offset, so a second
// cluster (or a test) moves all of them at once:
//
//	Consul   HTTP 8500, DNS 8600, server 8300, serf LAN 8301, serf WAN 8302
//	node i   redis 7000+i, sentinel 27000+i, status/metrics HTTP 8100+i
//
// The state directory holds logs/ (dev.log, consul.log, node<i>.log),
// node<i>/data and node<i>/etc, and backups/ (BACKUP_DIR of every node).
// Node directories are emptied at each start, since the Consul dev agent
// keeps its catalog in memory; backups/ is kept.
package devcluster

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
)

// MaxNodes is the largest cluster dev starts.
const MaxNodes = 9

// Default ports, before the offset.
const (
	ConsulHTTPPort    = 8500
	ConsulDNSPort     = 8600
	ConsulServerPort  = 8300
	ConsulSerfLANPort = 8301
	ConsulSerfWANPort = 8302
	RedisPortBase     = 7000  // node i: 7000+i
	SentinelPortBase  = 27000 // node i: 27000+i
	HTTPPortBase      = 8100  // node i: 8100+i
)

// ErrInvalidOptions is wrapped by every Options validation error.
var ErrInvalidOptions = errors.New("invalid dev cluster options")

// Port is one port the cluster listens on, and what for.
type Port struct {
	Port int
	What string // e.g. "consul HTTP", "node2 sentinel"
	UDP  bool   // also listened on over UDP
}

// NodeLayout is where one node listens and keeps its files.
type NodeLayout struct {
	Name                          string // node1, node2, ...
	RedisPort, SentinelPort, HTTP int
	Dir, DataDir, ConfigDir       string
	LogPath                       string
}

// Layout is every port and path of a cluster.
type Layout struct {
	Dir        string // the state directory
	LogDir     string
	BackupDir  string
	DevLog     string // the dev process's own log (its supervisor)
	ConsulLog  string
	ConsulHTTP int
	ConsulDNS  int
	ConsulSrv  int
	ConsulLAN  int
	ConsulWAN  int
	Nodes      []NodeLayout
}

// NewLayout computes the layout of nodes nodes under dir, every default
// port shifted by offset.
func NewLayout(dir string, nodes, offset int) (Layout, error) {
	if nodes < 1 || nodes > MaxNodes {
		return Layout{}, fmt.Errorf("%w: %d nodes: want 1-%d", ErrInvalidOptions, nodes, MaxNodes)
	}
	if offset < 0 || SentinelPortBase+MaxNodes+offset > 65535 {
		return Layout{}, fmt.Errorf("%w: port offset %d: want 0-%d", ErrInvalidOptions, offset, 65535-SentinelPortBase-MaxNodes)
	}
	if dir == "" {
		return Layout{}, fmt.Errorf("%w: no state directory", ErrInvalidOptions)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Layout{}, fmt.Errorf("%w: state directory: %w", ErrInvalidOptions, err)
	}
	logs := filepath.Join(dir, "logs")
	l := Layout{
		Dir: dir, LogDir: logs, BackupDir: filepath.Join(dir, "backups"),
		DevLog: filepath.Join(logs, "dev.log"), ConsulLog: filepath.Join(logs, "consul.log"),
		ConsulHTTP: ConsulHTTPPort + offset, ConsulDNS: ConsulDNSPort + offset, ConsulSrv: ConsulServerPort + offset,
		ConsulLAN: ConsulSerfLANPort + offset, ConsulWAN: ConsulSerfWANPort + offset,
	}
	for i := 1; i <= nodes; i++ {
		name := "node" + strconv.Itoa(i)
		nd := filepath.Join(dir, name)
		l.Nodes = append(l.Nodes, NodeLayout{
			Name: name, RedisPort: RedisPortBase + offset + i, SentinelPort: SentinelPortBase + offset + i,
			HTTP: HTTPPortBase + offset + i, Dir: nd, DataDir: filepath.Join(nd, "data"),
			ConfigDir: filepath.Join(nd, "etc"), LogPath: filepath.Join(logs, name+".log"),
		})
	}
	return l, nil
}

// Ports lists every port the cluster will listen on.
func (l Layout) Ports() []Port {
	ports := []Port{
		{l.ConsulHTTP, "consul HTTP", false}, {l.ConsulDNS, "consul DNS", true},
		{l.ConsulSrv, "consul server RPC", false}, {l.ConsulLAN, "consul serf LAN", true},
		{l.ConsulWAN, "consul serf WAN", true},
	}
	for _, n := range l.Nodes {
		ports = append(ports, Port{n.RedisPort, n.Name + " redis", false},
			Port{n.SentinelPort, n.Name + " sentinel", false}, Port{n.HTTP, n.Name + " status HTTP", false})
	}
	return ports
}

// ConsulAddr is the Consul HTTP API, host:port.
func (l Layout) ConsulAddr() string { return "127.0.0.1:" + strconv.Itoa(l.ConsulHTTP) }

// Node returns the node whose redis listens on addr ("127.0.0.1:port").
func (l Layout) Node(addr string) (NodeLayout, bool) {
	for _, n := range l.Nodes {
		if addr == "127.0.0.1:"+strconv.Itoa(n.RedisPort) {
			return n, true
		}
	}
	return NodeLayout{}, false
}
