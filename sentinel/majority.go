package sentinel

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// ErrNoMajority is wrapped by the *NoMajorityError AskMajority returns.
var ErrNoMajority = errors.New("no majority of sentinels agree on the master")

// Answer is what one sentinel said: a master "ip:port" or an error.
type Answer struct {
	Sentinel string
	Master   string
	Err      error
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
	if len(addrs) == 0 {
		return "", 0, &NoMajorityError{Name: name}
	}
	answers := make([]Answer, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := Dial(addr, password)
			defer c.Close()
			m, err := c.GetMasterAddr(ctx, name)
			answers[i] = Answer{Sentinel: addr, Master: m, Err: err}
		}()
	}
	wg.Wait()
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
		return masters[0], votes[masters[0]], nil
	}
	return "", 0, &NoMajorityError{Name: name, Answers: answers}
}
