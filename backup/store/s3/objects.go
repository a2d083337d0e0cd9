package s3

import (
	"context"
	"fmt"
	"io"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// objects is a store.Objects under "<prefix><namespace>/": a name is the
// rest of the key. PutObject and CompleteMultipartUpload are atomic, so Put
// needs no temporary key.
type objects struct {
	s    *Store
	root string
}

// Objects implements store.Store.
func (s *Store) Objects(prefix string) (store.Objects, error) {
	p, err := store.CleanPrefix(prefix)
	if err != nil {
		return nil, err
	}
	return &objects{s: s, root: s.o.Prefix + p + "/"}, nil
}

// Put implements store.Objects: the upload, then a HEAD that checks the
// size S3 holds (a mismatch removes the object).
func (o *objects) Put(ctx context.Context, name string, r io.Reader) error {
	if err := store.CheckObjectName(name); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	d := store.NewDigester(r)
	if err := o.s.upload(ctx, o.root+name, d, "application/octet-stream"); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	m, _ := d.Complete(store.Meta{})
	if err := o.s.checkSize(ctx, o.root+name, m.Size); err != nil {
		o.s.undo(ctx, o.root+name)
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// Get implements store.Objects.
func (o *objects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := store.CheckObjectName(name); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	rc, err := o.s.get(httplimit.Data(ctx), o.root+name, name)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return rc, nil
}

// Stat implements store.Objects.
func (o *objects) Stat(ctx context.Context, name string) (store.ObjectInfo, error) {
	if err := store.CheckObjectName(name); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	out, err := o.s.head(ctx, o.root+name)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return store.ObjectInfo{Name: name, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

// Delete implements store.Objects (a HEAD first: S3 deletes missing keys
// without complaint).
func (o *objects) Delete(ctx context.Context, name string) error {
	if err := store.CheckObjectName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if _, err := o.s.head(ctx, o.root+name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if err := o.s.deleteKey(ctx, o.root+name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// List implements store.Objects: one listing of the keys under the prefix,
// at any depth.
func (o *objects) List(ctx context.Context, prefix string) ([]store.ObjectInfo, error) {
	if err := store.CheckListPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	keys, err := o.s.listKeys(ctx, o.root+prefix, "")
	if err != nil {
		return nil, fmt.Errorf("list %s%s: %w", o.root, prefix, err)
	}
	out := []store.ObjectInfo{}
	for _, k := range keys {
		name := prefix + k.name
		if store.CheckObjectName(name) == nil {
			out = append(out, store.ObjectInfo{Name: name, Size: k.size, Modified: k.modified})
		}
	}
	return out, nil
}
