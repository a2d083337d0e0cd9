package registry

import (
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
