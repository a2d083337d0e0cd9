package sentinel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/autopilotpattern/redis-autopilot/internal/guard"
)

// EventReconnected is the Type of a synthetic Event that Subscribe sends
// after it re-established a lost connection: events may have been missed,
// so the receiver should re-read the master (GetMasterAddr).
const EventReconnected = "reconnected"

// EventFailed is the Type of the last Event of a subscription that ended
// on a panic while reading the sentinel (Payload says what): the channel
// is closed after it, and failovers are seen at the next poll only.
const EventFailed = "failed"

// Event is one message on a Sentinel event channel, such as +sdown, -sdown,
// +odown, +switch-master, +failover-end, +tilt, or EventReconnected.
type Event struct {
	Type    string // the channel: "+switch-master"
	Payload string // the message as Sentinel sent it
	// Parsed from payloads of the usual form
	// "<instance-type> <name> <ip> <port> [@ <master-name> <master-ip> <master-port>]";
	// empty otherwise.
	InstanceType string // "master", "slave" or "sentinel"
	Name         string
	Addr         string // "ip:port" of the instance
	MasterName   string // the master the instance belongs to (the instance itself for a master)
	MasterAddr   string
	// SwitchMaster is set for +switch-master only.
	SwitchMaster *SwitchMaster
}

// String is the event as one log line.
func (e Event) String() string { return e.Type + " " + e.Payload }

// SwitchMaster is a "+switch-master <name> <oldip> <oldport> <newip> <newport>" event.
type SwitchMaster struct {
	Name    string
	OldAddr string // "ip:port"
	NewAddr string
}

// ParseEvent parses a message from channel with payload.
func ParseEvent(channel, payload string) Event {
	e := Event{Type: channel, Payload: payload}
	f := strings.Fields(payload)
	if channel == "+switch-master" && len(f) == 5 {
		e.SwitchMaster = &SwitchMaster{Name: f[0], OldAddr: net.JoinHostPort(f[1], f[2]), NewAddr: net.JoinHostPort(f[3], f[4])}
		e.InstanceType, e.Name, e.Addr, e.MasterName, e.MasterAddr = "master", f[0], e.SwitchMaster.NewAddr, f[0], e.SwitchMaster.NewAddr
		return e
	}
	if len(f) < 4 || (f[0] != "master" && f[0] != "slave" && f[0] != "sentinel") {
		return e
	}
	e.InstanceType, e.Name, e.Addr = f[0], f[1], net.JoinHostPort(f[2], f[3])
	if len(f) >= 8 && f[4] == "@" {
		e.MasterName, e.MasterAddr = f[5], net.JoinHostPort(f[6], f[7])
	} else if f[0] == "master" {
		e.MasterName, e.MasterAddr = e.Name, e.Addr
	}
	return e
}

// Subscribe delivers every event this sentinel publishes (PSUBSCRIBE *),
// one Event per message, until ctx ends; then the channel is closed. It
// returns an error only if the first subscription fails.
//
// Connection loss does not end the channel: Subscribe reconnects with
// backoff (250 ms doubling to 5 s, for as long as ctx lasts) and then sends
// an EventReconnected event, because messages published while disconnected
// are lost. A connection silent for 10 s is probed with PING and
// replaced when the PING is not answered within another 10 s. The channel
// is buffered; a receiver that does not keep up blocks the subscription
// (Sentinel then drops the connection and Subscribe reconnects).
func (c *Client) Subscribe(ctx context.Context) (<-chan Event, error) {
	ps, err := c.psubscribe(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, 64)
	go c.pump(ctx, ps, ch)
	return ch, nil
}

// SubscribeSwitchMaster is Subscribe filtered to +switch-master. It cannot
// tell the receiver about reconnections; a reconciler should prefer
// Subscribe and re-read the master on EventReconnected.
func (c *Client) SubscribeSwitchMaster(ctx context.Context) (<-chan SwitchMaster, error) {
	events, err := c.Subscribe(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan SwitchMaster, 8)
	go func() {
		defer close(out)
		for e := range events {
			if e.SwitchMaster == nil {
				continue
			}
			select {
			case out <- *e.SwitchMaster:
			case <-ctx.Done():
			}
		}
	}()
	return out, nil
}

func (c *Client) psubscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := c.sc.PSubscribe(ctx, "*")
	// A sentinel that accepts the connection and then says nothing (frozen)
	// must not hold the subscriber for ever.
	rctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	if _, err := ps.Receive(rctx); err != nil { // the subscription confirmation
		_ = ps.Close()
		return nil, fmt.Errorf("subscribe to sentinel %s: %w", c.addr, err)
	}
	return ps, nil
}

const (
	// subscribeTimeout bounds the wait for a subscription's confirmation.
	subscribeTimeout = 5 * time.Second
	probeEvery       = 10 * time.Second
	minBackoff       = 250 * time.Millisecond
	maxBackoff       = 5 * time.Second
)

// pump forwards messages from ps to ch until ctx ends, replacing ps when
// its connection is lost.
func (c *Client) pump(ctx context.Context, ps *redis.PubSub, ch chan<- Event) {
	defer close(ch)
	var perr error
	defer func() {
		if perr != nil {
			send(ctx, ch, Event{Type: EventFailed, Payload: perr.Error()})
		}
	}()
	defer guard.Catch(&perr, "read the events of sentinel "+c.addr)
	var mu sync.Mutex                       // guards ps against the closer below
	stop := context.AfterFunc(ctx, func() { // a blocked read ignores ctx: close it
		mu.Lock()
		defer mu.Unlock()
		_ = ps.Close()
	})
	defer stop()
	probing := false // a PING is out and not yet answered
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, probeEvery)
		var ne net.Error
		switch {
		case err == nil:
			probing = false
			if m, ok := msg.(*redis.Message); ok && !strings.HasPrefix(m.Channel, "__") {
				send(ctx, ch, ParseEvent(m.Channel, m.Payload))
			}
			continue
		case errors.As(err, &ne) && ne.Timeout() && !probing && ctx.Err() == nil:
			if err = ps.Ping(ctx); err == nil {
				probing = true
				continue
			}
		}
		_ = ps.Close()
		next := c.resubscribe(ctx)
		if next == nil {
			return
		}
		mu.Lock()
		ps = next
		mu.Unlock()
		if ctx.Err() != nil { // ended while swapping: the closer saw the old ps
			_ = next.Close()
			return
		}
		probing = false
		send(ctx, ch, Event{Type: EventReconnected, Payload: c.addr})
	}
	mu.Lock()
	defer mu.Unlock()
	_ = ps.Close()
}

// resubscribe retries psubscribe with backoff until it works or ctx ends (nil).
func (c *Client) resubscribe(ctx context.Context) *redis.PubSub {
	wait := minBackoff
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if ps, err := c.psubscribe(ctx); err == nil {
			return ps
		}
		wait = min(2*wait, maxBackoff)
	}
}

func send(ctx context.Context, ch chan<- Event, e Event) {
	select {
	case ch <- e:
	case <-ctx.Done():
	}
}
