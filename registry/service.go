package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
)

// ErrInvalidService is returned by Register for an unusable Service.
var ErrInvalidService = errors.New("invalid service")

// minDeregisterAfter is Consul's floor for DeregisterCriticalServiceAfter
// (its reaper runs every 30s; shorter values are raised to a minute).
const minDeregisterAfter = time.Minute

// Service is one registration of this node on the local agent.
type Service struct {
	// Name is the Consul service name (ServiceMaster, ServiceReplica,
	// ServiceSentinel). Required.
	Name string
	// ID is unique per node; empty means ServiceID(Name, Address, Port).
	ID string
	// Address and Port are what clients connect to. An empty Address
	// lets Consul use the node's address.
	Address string
	Port    int
	// TTL is the TTL of the service's check (required, > 0): the node must
	// call Pass at least this often or the check turns critical.
	TTL time.Duration
	// TCPInterval, when set, adds a TCP check of Address:Port that the
	// agent runs this often. A process that died goes critical within it,
	// instead of when the TTL lapses (Consul would list a dead master as
	// passing for up to a TTL). It starts passing: the TTL check still
	// decides when the service first passes.
	TCPInterval time.Duration
	Tags        []string
	Meta        map[string]string
}

// ServiceID is the shell version's per-node service ID:
// name-address-port, e.g. "redis-10.0.0.5-6379".
func ServiceID(name, address string, port int) string {
	return name + "-" + address + "-" + strconv.Itoa(port)
}

// CheckID is the ID of the TTL check Register attaches to serviceID:
// "service:" + serviceID, Consul's own default for a service's only check.
func CheckID(serviceID string) string { return "service:" + serviceID }

func (s *Service) normalize() error {
	if s.Name == "" {
		return fmt.Errorf("%w: Name is required", ErrInvalidService)
	}
	if s.TTL <= 0 {
		return fmt.Errorf("%w %s: TTL must be > 0", ErrInvalidService, s.Name)
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("%w %s: port %d out of range", ErrInvalidService, s.Name, s.Port)
	}
	if s.ID == "" {
		s.ID = ServiceID(s.Name, s.Address, s.Port)
	}
	return nil
}

// Register registers s on the local agent with one TTL check, CheckID(ID),
// that starts critical: the service is not passing until Pass is called.
// Registering an ID again updates the registration (address, tags, meta,
// TTL) and keeps the check's current status, so re-registering does not
// make a passing service flap. The agent deregisters the service by itself
// once the check has been critical for 10×TTL (at least a minute), so a node
// that vanished is cleaned up eventually.
func (r *Registry) Register(ctx context.Context, s Service) error {
	if err := s.normalize(); err != nil {
		return err
	}
	reg := registration(s)
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := r.c.Agent().ServiceRegisterOpts(reg, opts); err != nil {
		return fmt.Errorf("register service %s (%s): %w", s.ID, s.Name, err)
	}
	r.log.Info("service registered", "service", s.Name, "id", s.ID, "ttl", s.TTL)
	return nil
}

// TCPCheckID is the ID of the TCP check Register adds when TCPInterval is
// set.
func TCPCheckID(serviceID string) string { return "service:" + serviceID + ":tcp" }

// registration is what Register sends to the agent for s.
func registration(s Service) *api.AgentServiceRegistration {
	deregister := max(10*s.TTL, minDeregisterAfter).String()
	reg := &api.AgentServiceRegistration{
		ID:      s.ID,
		Name:    s.Name,
		Address: s.Address,
		Port:    s.Port,
		Tags:    s.Tags,
		Meta:    s.Meta,
		Check: &api.AgentServiceCheck{
			CheckID:                        CheckID(s.ID),
			Name:                           s.Name + " TTL",
			TTL:                            s.TTL.String(),
			Status:                         api.HealthCritical,
			DeregisterCriticalServiceAfter: deregister,
		},
	}
	if s.TCPInterval > 0 && s.Address != "" {
		reg.Checks = api.AgentServiceChecks{{
			CheckID:                        TCPCheckID(s.ID),
			Name:                           s.Name + " TCP",
			TCP:                            net.JoinHostPort(s.Address, strconv.Itoa(s.Port)),
			Interval:                       s.TCPInterval.String(),
			Timeout:                        min(s.TCPInterval, 2*time.Second).String(),
			Status:                         api.HealthPassing,
			DeregisterCriticalServiceAfter: deregister,
		}}
	}
	return reg
}

// Deregister removes the service with this ID (and its check) from the
// local agent. A service that is not registered is not an error.
func (r *Registry) Deregister(ctx context.Context, serviceID string) error {
	err := r.c.Agent().ServiceDeregisterOpts(serviceID, queryOpts(ctx))
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deregister service %s: %w", serviceID, err)
	}
	r.log.Info("service deregistered", "id", serviceID)
	return nil
}

// Pass marks the TTL check of serviceID passing for another TTL; note is
// shown as the check's output.
func (r *Registry) Pass(ctx context.Context, serviceID, note string) error {
	return r.updateTTL(ctx, serviceID, note, api.HealthPassing)
}

// Warn marks the TTL check of serviceID warning (still returned by
// Instances with passingOnly=false only).
func (r *Registry) Warn(ctx context.Context, serviceID, note string) error {
	return r.updateTTL(ctx, serviceID, note, api.HealthWarning)
}

// Fail marks the TTL check of serviceID critical.
func (r *Registry) Fail(ctx context.Context, serviceID, note string) error {
	return r.updateTTL(ctx, serviceID, note, api.HealthCritical)
}

func (r *Registry) updateTTL(ctx context.Context, serviceID, note, status string) error {
	if err := r.c.Agent().UpdateTTLOpts(CheckID(serviceID), note, status, queryOpts(ctx)); err != nil {
		return fmt.Errorf("set check of service %s %s: %w", serviceID, status, err)
	}
	return nil
}

// Instance is one registered instance of a service, as the catalog's
// health endpoint reports it.
type Instance struct {
	ID   string
	Node string
	// NodeAddress is the address of the Consul node the service is on.
	NodeAddress string
	// Address is the service address, or the node's address when the
	// service has none.
	Address string
	Port    int
	// Status is the worst of the instance's checks, node checks
	// (serfHealth) included: api.HealthPassing, HealthWarning or
	// HealthCritical.
	Status string
	// TTLStatus is the status of the service's own TTL check as the
	// catalog holds it ("" when it has none). A node that died with its
	// agent keeps its last TTL status: Status is critical only through
	// serfHealth, and turns passing again for a moment when the node's new
	// agent joins, before it syncs its own state.
	TTLStatus string
	// AgentStatus is the status of the node's serfHealth check: critical
	// when the node's Consul agent is gone ("" when the catalog has none).
	AgentStatus string
}

// Instances lists the instances of the named service across the cluster;
// with passingOnly, only those whose every check passes.
func (r *Registry) Instances(ctx context.Context, name string, passingOnly bool) ([]Instance, error) {
	entries, _, err := r.c.Health().Service(name, "", passingOnly, queryOpts(ctx))
	if err != nil {
		return nil, fmt.Errorf("list instances of service %s: %w", name, err)
	}
	out := make([]Instance, 0, len(entries))
	for _, e := range entries {
		in := Instance{
			ID:          e.Service.ID,
			Node:        e.Node.Node,
			NodeAddress: e.Node.Address,
			Address:     e.Service.Address,
			Port:        e.Service.Port,
			Status:      e.Checks.AggregatedStatus(),
		}
		for _, c := range e.Checks {
			if c.CheckID == CheckID(e.Service.ID) {
				in.TTLStatus = c.Status
			}
			if c.CheckID == SerfCheckID {
				in.AgentStatus = c.Status
			}
		}
		if in.Address == "" {
			in.Address = e.Node.Address
		}
		out = append(out, in)
	}
	return out, nil
}
