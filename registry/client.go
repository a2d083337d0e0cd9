package registry

import (
	"github.com/hashicorp/consul/api"

	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
)

// MaxConsulReply is the most bytes one Consul reply may have. Consul's
// largest KV value is 512 KiB (kv_max_value_size), about 683 KiB in a
// reply as base64, and the catalog and health listings this package reads
// hold a few services per node: 4 MiB leaves room for hundreds of nodes
// and bounds what a broken or hostile agent can make PID 1 hold.
const MaxConsulReply = 4 << 20

// consulReplyFix ends the error of a reply larger than MaxConsulReply.
const consulReplyFix = "CONSUL_HTTP_ADDR must name a Consul agent (the local one); " +
	"if it does, something else answers on its address or someone wrote a huge value or registration: " +
	"find it with the consul CLI, and run Consul with ACLs"

// NewClient is api.NewClient with every reply bounded to MaxConsulReply
// bytes; a larger one is an error wrapping httplimit.ErrTooLarge that names
// the request and the fix. consul/api decodes each reply itself, with
// json.NewDecoder on the whole body, so the bound is at the client's
// transport: httplimit.Transport wraps each response body in a limiting
// ReadCloser. Like api.NewClient it fills in cfg, and cfg.HttpClient, which
// must be Consul's own (config builds one), gets the bounded transport:
// once, so the clients made from one config share it.
func NewClient(cfg *api.Config) (*api.Client, error) {
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	// api.NewClient has built cfg.HttpClient when it was nil, or a new one
	// for a unix:// address, and its Client keeps that pointer.
	hc := cfg.HttpClient
	if _, bounded := hc.Transport.(*httplimit.Transport); !bounded {
		hc.Transport = &httplimit.Transport{Next: hc.Transport, Limit: MaxConsulReply, Fix: consulReplyFix}
	}
	return client, nil
}
