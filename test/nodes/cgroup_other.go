//go:build !linux

package nodes

import (
	"errors"
	"testing"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

var errNoCgroups = errors.New("cgroups and nft faults need Linux")

func CgroupsAvailable() error                                            { return errNoCgroups }
func (n *Node) makeCgroup(t testing.TB)                                  { t.Fatal(errNoCgroups) }
func (n *Node) inCgroup(o harness.ProcessOptions) harness.ProcessOptions { return o }
func (n *Node) CgroupPids() []int                                        { return nil }
func (n *Node) Freeze(bool) error                                        { return errNoCgroups }
func (c *Cluster) Partition(...*Node) (func() error, error)              { return nil, errNoCgroups }
