package sentinel

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/autopilotpattern/redis-autopilot/internal/guard"
)

// ErrNoMajority is wrapped by the *NoMajorityError AskMajority returns.
var ErrNoMajority = errors.New("no majority of sentinels agree on the master")

// Answer is what one sentinel said: a master "ip:port" or an error, and
// its entry for that master (SENTINEL MASTER): the entry's address and
// flags, such as "o_down" or "failover_in_progress". During a failover the
// entry keeps the old master's address until the failover ends, while
// Master names the promoted replica from the leader's reconfiguration
// stage on.
type Answer struct {
	Sentinel string
	Master   string
	Entry    string
	Flags    []string
	// Replicas are the sentinel's replicas of its entry (SENTINEL
	// REPLICAS), read by AskWithReplicas only; nil when not read.
	// ReplicasErr is why AskWithReplicas could not read them.
	Replicas    []Instance
	ReplicasErr error
	Err         error
}

// alarmFlags are the master flags that say the sentinels are failing the
// master over: a majority agreed it is down, or a failover has started.
var alarmFlags = []string{"o_down", "failover_in_progress"}

// Alarm returns the alarm flags among a's, comma-separated, or "".
func (a Answer) Alarm() string {
	var out []string
	for _, f := range a.Flags {
		for _, x := range alarmFlags {
			if f == x {
				out = append(out, f)
			}
		}
	}
	return strings.Join(out, ",")
}

// View is every answer to one question, and the master a majority agreed
// on ("" when none did).
type View struct {
	Master  string
	Agreed  int
	Answers []Answer
}

// Alarms lists, one "sentinel: flags" each, the sentinels whose entry is
// master (the node being failed over) and flags it o_down or
// failover_in_progress. A master that Sentinel is failing over is still
// named by the sentinels until the failover reaches its leader's
// reconfiguration stage and the others hear of it; a master that serves
// writes in that window loses them. The promoted replica is not alarmed:
// the leader names it while its entry, flagged failover_in_progress until
// every replica is re-pointed, still has the old master's address.
func (v View) Alarms(master string) []string {
	var out []string
	for _, a := range v.Answers {
		if a.Err == nil && a.Entry == master && a.Alarm() != "" {
			out = append(out, a.Sentinel+": "+a.Alarm())
		}
	}
	return out
}

// PromotableBy lists the sentinels that name v.Master, whose entry is
// v.Master too (not in the middle of a failover), and that list replica
// ("ip:port") among its replicas as one they could promote now (see
// Instance.Promotable). Only answers from AskWithReplicas list replicas.
func (v View) PromotableBy(replica string) []string {
	var out []string
	for _, a := range v.Answers {
		if a.Err != nil || v.Master == "" || a.Master != v.Master || a.Entry != v.Master {
			continue
		}
		for _, r := range a.Replicas {
			if r.Addr() == replica && r.Promotable() {
				out = append(out, a.Sentinel)
				break
			}
		}
	}
	return out
}

// String is "sentinel: master" or "sentinel: error".
func (a Answer) String() string {
	if a.Err != nil {
		return a.Sentinel + ": " + a.Err.Error()
	}
	return a.Sentinel + ": " + a.Master
}

// NoMajorityError says what each sentinel answered when no master had a
// majority. errors.Is(err, ErrNoMajority) is true.
type NoMajorityError struct {
	Name    string
	Answers []Answer // in the order of the addresses asked
}

func (e *NoMajorityError) Error() string {
	parts := make([]string, len(e.Answers))
	for i, a := range e.Answers {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%v for %s (%s)", ErrNoMajority, e.Name, strings.Join(parts, "; "))
}

func (e *NoMajorityError) Unwrap() error { return ErrNoMajority }

// AskMajority asks every sentinel in addrs, in parallel, for the master of
// name and returns the "ip:port" that more than half of the sentinels ASKED
// agree on, with how many agreed. An unreachable sentinel or one that does
// not know name counts as a vote for nobody. Otherwise the error is a
// *NoMajorityError listing each answer. ctx bounds the whole call.
func AskMajority(ctx context.Context, addrs []string, name, password string) (master string, agreed int, err error) {
	v, err := Ask(ctx, addrs, name, password)
	return v.Master, v.Agreed, err
}

// Ask is AskMajority that also returns every answer, with the flags each
// sentinel has for the master it names. The error is as AskMajority's.
func Ask(ctx context.Context, addrs []string, name, password string) (View, error) {
	return ask(ctx, addrs, name, password, false)
}

// AskWithReplicas is Ask that also reads, on the same connection, each
// sentinel's replicas of the master it names (Answer.Replicas): one more
// command per sentinel, for a replica that must know whether the
// sentinels could promote it.
func AskWithReplicas(ctx context.Context, addrs []string, name, password string) (View, error) {
	return ask(ctx, addrs, name, password, true)
}

func ask(ctx context.Context, addrs []string, name, password string, replicas bool) (View, error) {
	if len(addrs) == 0 {
		return View{}, &NoMajorityError{Name: name}
	}
	answers := make([]Answer, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = askOne(ctx, addr, name, password, replicas)
		}()
	}
	wg.Wait()
	v := View{Answers: answers}
	votes := map[string]int{}
	for _, a := range answers {
		if a.Err == nil {
			votes[a.Master]++
		}
	}
	masters := make([]string, 0, len(votes))
	for m := range votes {
		masters = append(masters, m)
	}
	sort.Slice(masters, func(i, j int) bool { return votes[masters[i]] > votes[masters[j]] })
	if len(masters) > 0 && votes[masters[0]] > len(addrs)/2 {
		v.Master, v.Agreed = masters[0], votes[masters[0]]
		return v, nil
	}
	return v, &NoMajorityError{Name: name, Answers: answers}
}

// askOne asks the sentinel at addr. A panic while reading its replies is
// its answer, as an error wrapping guard.ErrPanic: a sentinel is anyone who
// registered one in Consul.
func askOne(ctx context.Context, addr, name, password string, replicas bool) (a Answer) {
	var perr error
	defer func() {
		if perr != nil {
			a = Answer{Sentinel: addr, Err: perr}
		}
	}()
	defer guard.Catch(&perr, "ask sentinel "+addr)
	c := Dial(addr, password)
	defer c.Close()
	m, err := c.GetMasterAddr(ctx, name)
	a = Answer{Sentinel: addr, Master: m, Err: err}
	if err == nil {
		// The flags are advisory: a sentinel that named a master
		// and then did not answer SENTINEL MASTER still votes.
		if in, ferr := c.Master(ctx, name); ferr == nil {
			a.Entry, a.Flags = in.Addr(), in.Flags
		}
		if replicas {
			// Advisory too: a replica that cannot read them is not
			// counted as promotable by this sentinel, nothing more; a
			// stale master does not take this sentinel for one that
			// has forgotten it (ReplicasErr).
			a.Replicas, a.ReplicasErr = c.Replicas(ctx, name)
		}
	}
	return a
}
