package store

import "context"

type progressKey struct{}

// WithProgress returns ctx carrying f, which a store calls with the bytes
// it sends over the network during an operation whose reading and sending
// are decoupled (the S3 store reads parts ahead into buffers and sends
// them after its reader is drained): a stall watchdog that counts only
// what the store reads would see no progress while parts are still going
// out.
func WithProgress(ctx context.Context, f func(n int64)) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// Progress returns the function WithProgress put in ctx, or nil.
func Progress(ctx context.Context) func(n int64) {
	f, _ := ctx.Value(progressKey{}).(func(int64))
	return f
}
