package pitr

import (
	"context"
	"errors"
)

// flush ships what the AOF holds now, once, when shipping stops on this
// node (the next shipping node starts its own chain, so these bytes would
// otherwise be left out of every window). Redis need not answer: the incr
// file is read through its hard link.
func (s *Shipper) flush(ctx context.Context) {
	if s.c == nil {
		return
	}
	err := s.read()
	if err == nil {
		s.cut()
		err = s.upload(ctx)
	}
	switch {
	case errors.Is(err, errBroken):
		s.end(ctx, err.Error(), true)
	case err != nil:
		s.o.Log.Warn("could not ship the AOF's last bytes before the chain's end", "chain", s.c.info.ID, "error", err)
	}
}
