package metrics

import "testing"

// TestPITR: the shipping figures exist only while this node ships; the
// chain counters count every end and the broken ones.
func TestPITR(t *testing.T) {
	m, scrape := newTest(t)
	want(t, scrape(), map[string]*float64{
		p + "pitr_shipping": f(0), p + "pitr_last_shipped_timestamp_seconds": nil, p + "pitr_bytes_behind": nil,
		p + "pitr_chains_ended_total": f(0), p + "pitr_chains_broken_total": f(0),
	})
	m.PITRShipping(true)
	m.Shipped("c1", 1795866585, 4096)
	m.ChainEnded("c1", "the store failed", true)
	m.ChainEnded("c2", "shipping stopped", false)
	want(t, scrape(), map[string]*float64{
		p + "pitr_shipping": f(1), p + "pitr_last_shipped_timestamp_seconds": f(1795866585), p + "pitr_bytes_behind": f(4096),
		p + "pitr_chains_ended_total": f(2), p + "pitr_chains_broken_total": f(1),
	})
	m.PITRShipping(false)
	want(t, scrape(), map[string]*float64{
		p + "pitr_shipping": f(0), p + "pitr_last_shipped_timestamp_seconds": nil, p + "pitr_bytes_behind": nil,
		p + "pitr_chains_broken_total": f(1),
	})
	var none *Metrics
	none.Shipped("c", 1, 1)
	none.ChainEnded("c", "", true)
	none.PITRShipping(true)
}
