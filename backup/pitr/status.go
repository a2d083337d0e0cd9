package pitr

import "time"

// behind is the bytes redis wrote that are not in the store.
func (s *Shipper) behind() int64 {
	return s.written() - s.c.shipped
}

// Status is the shipper's progress for status and Consul.
type Status struct {
	Chain       string `json:"chain"`
	Node        string `json:"node"`
	Offset      int64  `json:"offset"`
	LastTS      int64  `json:"last_ts"`
	BytesBehind int64  `json:"bytes_behind"`
	// StoreError is the store's last error while bytes are spooled.
	StoreError string `json:"store_error,omitempty"`
	// Updated is when the shipper last looked (each PITR_INTERVAL).
	Updated time.Time `json:"updated"`
}

// Status reports the current chain's progress as of the last tick; ok is
// false without a chain. Safe to call while Run runs.
func (s *Shipper) Status() (st Status, ok bool) {
	if p := s.status.Load(); p != nil {
		return *p, true
	}
	return Status{}, false
}

func (s *Shipper) publish() {
	if s.c == nil {
		s.status.Store(nil)
		return
	}
	s.status.Store(&Status{Chain: s.c.info.ID, Node: s.o.Holder, Offset: s.c.shipped, LastTS: s.c.lastTS, BytesBehind: s.behind(),
		StoreError: s.outage.storeErr, Updated: s.o.Now().UTC().Truncate(time.Millisecond)})
}
