package registry

import (
	"time"

	"context"
	"fmt"

	"github.com/hashicorp/consul/api"
)

// Get reads key. found is false when the key does not exist, which is not
// an error.
func (r *Registry) Get(ctx context.Context, key string) (value string, found bool, err error) {
	pair, _, err := r.c.KV().Get(key, queryOpts(ctx))
	if err != nil {
		return "", false, fmt.Errorf("read key %s: %w", key, err)
	}
	if pair == nil {
		return "", false, nil
	}
	return string(pair.Value), true, nil
}

// Put writes value to key, creating it if needed.
func (r *Registry) Put(ctx context.Context, key, value string) error {
	if _, err := r.c.KV().Put(&api.KVPair{Key: key, Value: []byte(value)}, writeOpts(ctx)); err != nil {
		return fmt.Errorf("write key %s: %w", key, err)
	}
	return nil
}

// Delete removes key. A key that does not exist is not an error.
func (r *Registry) Delete(ctx context.Context, key string) error {
	if _, err := r.c.KV().Delete(key, writeOpts(ctx)); err != nil {
		return fmt.Errorf("delete key %s: %w", key, err)
	}
	return nil
}

// GetIndexed reads key with its ModifyIndex, for a later PutIfUnchanged.
func (r *Registry) GetIndexed(ctx context.Context, key string) (value string, index uint64, found bool, err error) {
	pair, _, err := r.c.KV().Get(key, queryOpts(ctx))
	if err != nil {
		return "", 0, false, fmt.Errorf("read key %s: %w", key, err)
	}
	if pair == nil {
		return "", 0, false, nil
	}
	return string(pair.Value), pair.ModifyIndex, true, nil
}

// PutIfUnchanged writes pairs in one transaction, only if key's
// ModifyIndex is still index (a check-and-set: someone may have moved key
// since it was read). ok is false, and nothing is written, when key
// changed or was deleted.
func (r *Registry) PutIfUnchanged(ctx context.Context, key string, index uint64, pairs map[string]string) (ok bool, err error) {
	ops := api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: key, Index: index}}}
	for k, v := range pairs {
		ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVSet, Key: k, Value: []byte(v)}})
	}
	ok, resp, _, err := r.c.Txn().Txn(ops, queryOpts(ctx))
	if err != nil {
		return false, fmt.Errorf("write keys if %s is unchanged: %w", key, err)
	}
	if !ok && resp != nil {
		for _, e := range resp.Errors {
			if e.OpIndex != 0 { // not the check: a real failure
				return false, fmt.Errorf("write keys if %s is unchanged: %s", key, e.What)
			}
		}
	}
	return ok, nil
}

// KeyState is what WatchKey read: the key's value and the session that
// holds it ("" when none), Found false when it does not exist, and the
// index to pass to the next WatchKey.
type KeyState struct {
	Value   string
	Session string
	Found   bool
	Index   uint64
}

// WatchKey is a blocking read of key: it returns when the key changes
// after index (0: at once), after about wait, or when ctx ends. A value
// longer than maxValue is an error: the key is peer input.
func (r *Registry) WatchKey(ctx context.Context, key string, index uint64, wait time.Duration, maxValue int) (KeyState, error) {
	q := &api.QueryOptions{WaitIndex: index, WaitTime: wait}
	pair, meta, err := r.c.KV().Get(key, q.WithContext(ctx))
	if err != nil {
		return KeyState{Index: index}, fmt.Errorf("watch key %s: %w", key, err)
	}
	st := KeyState{Index: nextIndex(index, meta.LastIndex)}
	if pair == nil {
		return st, nil
	}
	if len(pair.Value) > maxValue {
		return st, fmt.Errorf("watch key %s: value of %d bytes, more than the %d expected", key, len(pair.Value), maxValue)
	}
	st.Value, st.Session, st.Found = string(pair.Value), pair.Session, true
	return st, nil
}
