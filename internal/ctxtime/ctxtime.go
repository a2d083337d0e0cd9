// Package ctxtime has the one context-aware sleep the packages share.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx is done, whichever comes first; it
// returns ctx.Err() in the second case. d <= 0 returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
