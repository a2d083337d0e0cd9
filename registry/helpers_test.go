package registry

import (
	"context"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/test/harness"
	"github.com/hashicorp/go-hclog"
)

// newRegistry returns a Registry on c's agent whose logs go to the test.
func newRegistry(t testing.TB, c *harness.Consul, o Options) *Registry {
	t.Helper()
	o.API = c.APIConfig()
	o.Log = hclog.New(&hclog.LoggerOptions{Name: t.Name(), Output: t.Output(), Level: hclog.Debug})
	r, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// testCtx is a context that ends with the test, bounded as a safety net.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
