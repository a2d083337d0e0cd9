package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/hashicorp/consul/api"
)

// instance returns the instance of name with this ID, or an error saying
// what Consul lists instead.
func instance(ctx context.Context, r *Registry, name, id string, passingOnly bool) (Instance, error) {
	ins, err := r.Instances(ctx, name, passingOnly)
	if err != nil {
		return Instance{}, err
	}
	for _, in := range ins {
		if in.ID == id {
			return in, nil
		}
	}
	return Instance{}, fmt.Errorf("%s not among %s instances (passingOnly=%v): %+v", id, name, passingOnly, ins)
}

// wantStatus waits until the instance's aggregated status is status.
func wantStatus(t *testing.T, r *Registry, name, id, status string) {
	t.Helper()
	ctx := testCtx(t)
	harness.Eventually(t, 5*time.Second, func() error {
		in, err := instance(ctx, r, name, id, false)
		if err != nil {
			return err
		}
		if in.Status != status {
			return fmt.Errorf("%s is %s, want %s", id, in.Status, status)
		}
		return nil
	})
}

func TestServiceRegisterPassFailDeregister(t *testing.T) {
	t.Parallel()
	c := harness.StartConsul(t)
	r := newRegistry(t, c, Options{})
	ctx := testCtx(t)
	svc := Service{Name: ServiceMaster, Address: "10.0.0.5", Port: 6379, TTL: time.Minute,
		Tags: []string{"master"}, Meta: map[string]string{"role": "master"}}
	id := "redis-10.0.0.5-6379"
	if err := r.Register(ctx, svc); err != nil {
		t.Fatalf("Register: %v", err)
	}
	wantStatus(t, r, ServiceMaster, id, api.HealthCritical)
	if ids, err := r.LocalServiceIDs(ctx); err != nil || !ids[id] {
		t.Fatalf("LocalServiceIDs after Register: %v %v, want %s among them", ids, err, id)
	}

	checks, err := c.Client.Agent().Checks()
	if err != nil {
		t.Fatalf("agent checks: %v", err)
	}
	if chk, ok := checks[CheckID(id)]; !ok || chk.ServiceID != id {
		t.Fatalf("agent has no check %s for %s: %+v", CheckID(id), id, checks)
	}

	steps := []struct {
		name   string
		update func(context.Context, string, string) error
		status string
	}{
		{"pass", r.Pass, api.HealthPassing},
		{"warn", r.Warn, api.HealthWarning},
		{"fail", r.Fail, api.HealthCritical},
		{"pass again", r.Pass, api.HealthPassing},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.update(ctx, id, "note: "+s.name); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			wantStatus(t, r, ServiceMaster, id, s.status)
			_, err := instance(ctx, r, ServiceMaster, id, true)
			if passing := err == nil; passing != (s.status == api.HealthPassing) {
				t.Fatalf("with status %s, listed among passing instances: %v", s.status, passing)
			}
		})
	}

	t.Run("register again keeps the status", func(t *testing.T) {
		svc.Tags = []string{"master", "again"}
		if err := r.Register(ctx, svc); err != nil {
			t.Fatalf("Register again: %v", err)
		}
		in, err := instance(ctx, r, ServiceMaster, id, true)
		if err != nil {
			t.Fatalf("re-registered service not passing: %v", err)
		}
		got, _, err := c.Client.Agent().Service(id, nil)
		if err != nil || len(got.Tags) != 2 {
			t.Fatalf("re-registration not applied: %+v, %v (instance %+v)", got, err, in)
		}
	})

	t.Run("deregister", func(t *testing.T) {
		if err := r.Deregister(ctx, id); err != nil {
			t.Fatalf("Deregister: %v", err)
		}
		harness.Eventually(t, 5*time.Second, func() error {
			ins, err := r.Instances(ctx, ServiceMaster, false)
			if err != nil {
				return err
			}
			if len(ins) != 0 {
				return fmt.Errorf("still listed after Deregister: %+v", ins)
			}
			return nil
		})
		if ids, err := r.LocalServiceIDs(ctx); err != nil || ids[id] {
			t.Fatalf("LocalServiceIDs after Deregister: %v %v, want no %s", ids, err, id)
		}
		if err := r.Deregister(ctx, id); err != nil {
			t.Fatalf("Deregister of an unknown service: %v", err)
		}
	})
}

func TestServiceTTLLapses(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, harness.StartConsul(t), Options{})
	ctx := testCtx(t)
	svc := Service{Name: ServiceReplica, Address: "127.0.0.1", Port: 7000, TTL: time.Second}
	if err := r.Register(ctx, svc); err != nil {
		t.Fatalf("Register: %v", err)
	}
	id := ServiceID(ServiceReplica, "127.0.0.1", 7000)
	if err := r.Pass(ctx, id, "ok"); err != nil {
		t.Fatalf("Pass: %v", err)
	}
	start := time.Now()
	wantStatus(t, r, ServiceReplica, id, api.HealthPassing)
	wantStatus(t, r, ServiceReplica, id, api.HealthCritical)
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("check turned critical %s after Pass, before its 1s TTL", took)
	}
}

func TestInstances(t *testing.T) {
	t.Parallel()
	c := harness.StartConsul(t)
	r := newRegistry(t, c, Options{})
	ctx := testCtx(t)
	svcs := []Service{
		{Name: ServiceSentinel, Address: "10.0.0.5", Port: 26379, TTL: time.Minute},
		{Name: ServiceSentinel, Address: "10.0.0.6", Port: 26379, TTL: time.Minute},
		{Name: ServiceSentinel, ID: "sentinel-no-address", Port: 26380, TTL: time.Minute},
	}
	for _, s := range svcs {
		if err := r.Register(ctx, s); err != nil {
			t.Fatalf("Register: %v", err)
		}
	}
	if err := r.Pass(ctx, "redis-sentinel-10.0.0.5-26379", "ok"); err != nil {
		t.Fatalf("Pass: %v", err)
	}
	if err := r.Pass(ctx, "sentinel-no-address", "ok"); err != nil {
		t.Fatalf("Pass: %v", err)
	}
	tests := []struct {
		name        string
		passingOnly bool
		want        map[string]string // ID -> address
	}{
		{"all", false, map[string]string{"redis-sentinel-10.0.0.5-26379": "10.0.0.5",
			"redis-sentinel-10.0.0.6-26379": "10.0.0.6", "sentinel-no-address": "127.0.0.1"}},
		{"passing only", true, map[string]string{"redis-sentinel-10.0.0.5-26379": "10.0.0.5",
			"sentinel-no-address": "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			harness.Eventually(t, 5*time.Second, func() error {
				ins, err := r.Instances(ctx, ServiceSentinel, tt.passingOnly)
				if err != nil {
					return err
				}
				got := map[string]string{}
				for _, in := range ins {
					got[in.ID] = in.Address
					if in.Node != c.Node || in.Port == 0 {
						return fmt.Errorf("instance %+v: want node %s and a port", in, c.Node)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					return fmt.Errorf("instances %v, want %v", got, tt.want)
				}
				return nil
			})
		})
	}
}

func TestRegisterValidates(t *testing.T) {
	r, err := New(Options{API: api.DefaultConfig()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for name, s := range map[string]Service{
		"no name":  {Port: 1, TTL: time.Second},
		"no TTL":   {Name: ServiceMaster, Port: 1},
		"bad port": {Name: ServiceMaster, Port: 70000, TTL: time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if err := r.Register(context.Background(), s); !errors.Is(err, ErrInvalidService) {
				t.Fatalf("Register(%+v): got %v, want ErrInvalidService", s, err)
			}
		})
	}
}

// TestDeregisterCriticalAfter checks the registration itself: Consul 1.13
// does not report DeregisterCriticalServiceAfter back, and its reaper takes
// over a minute to show it.
func TestDeregisterCriticalAfter(t *testing.T) {
	for ttl, want := range map[time.Duration]string{
		time.Second: "1m0s", 10 * time.Second: "1m40s", time.Minute: "10m0s",
	} {
		t.Run(ttl.String(), func(t *testing.T) {
			reg := registration(Service{Name: ServiceMaster, ID: "x", TTL: ttl})
			if got := reg.Check.DeregisterCriticalServiceAfter; got != want {
				t.Fatalf("TTL %s: deregister after %s critical, want %s", ttl, got, want)
			}
			if reg.Check.Status != api.HealthCritical || reg.Check.CheckID != "service:x" {
				t.Fatalf("check %+v: want critical with ID service:x", reg.Check)
			}
		})
	}
}
