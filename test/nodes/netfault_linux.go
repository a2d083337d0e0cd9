package nodes

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// nftTable is this test process's nft table; it holds every fault rule.
var (
	nftTable = fmt.Sprintf("nodes_%d", os.Getpid())
	nftMu    sync.Mutex
)

// Partition cuts side off from the cluster's other nodes, both ways: nft
// drops every packet a side node's process sends to another node's address,
// and every packet another node's process sends to a side node's address.
// Packets are matched by the sending process's cgroup, because redis,
// sentinel and the supervisor all connect from 127.0.0.1 whatever they
// bind; so it needs Options.NodeIPs and Options.Cgroups. Consul and the
// test process stay reachable from both sides. The returned heal removes
// the rules (also done at the end of the test); it is idempotent.
func (c *Cluster) Partition(side ...*Node) (heal func() error, err error) {
	c.t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, fmt.Errorf("partition: nft is not on PATH: apt-get install -y nftables")
	}
	in := map[*Node]bool{}
	for _, n := range side {
		in[n] = true
	}
	var rules []string
	for _, n := range c.Nodes() {
		path, level, err := n.nftCgroupPath()
		if err != nil {
			return nil, fmt.Errorf("partition: %w", err)
		}
		var to []string
		for _, o := range c.Nodes() {
			if in[o] != in[n] {
				to = append(to, o.IP)
			}
		}
		if len(to) > 0 {
			rules = append(rules, fmt.Sprintf("socket cgroupv2 level %d %q ip daddr { %s } drop", level, path, strings.Join(to, ", ")))
		}
	}
	chain := fmt.Sprintf("part%d", len(side)) + strings.ReplaceAll(side[0].IP, ".", "_")
	script := fmt.Sprintf("add table inet %s\nadd chain inet %s %s { type filter hook output priority 0; policy accept; }\n",
		nftTable, nftTable, chain)
	for _, r := range rules {
		script += fmt.Sprintf("add rule inet %s %s %s\n", nftTable, chain, r)
	}
	if err := nft(script); err != nil {
		return nil, fmt.Errorf("partition %s: %w", side[0].Name, err)
	}
	var once sync.Once
	var herr error
	heal = func() error {
		once.Do(func() {
			herr = nft(fmt.Sprintf("flush chain inet %s %s\ndelete chain inet %s %s\n", nftTable, chain, nftTable, chain))
		})
		return herr
	}
	c.t.Cleanup(func() { heal(); nft(fmt.Sprintf("delete table inet %s\n", nftTable)) })
	return heal, nil
}

func nft(script string) error {
	nftMu.Lock()
	defer nftMu.Unlock()
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %v: %s\nscript:\n%s", err, strings.TrimSpace(out.String()), script)
	}
	return nil
}
