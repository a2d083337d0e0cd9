package manta

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/joyent/triton-go/storage"
)

// objects is a store.Objects in a directory under the bucket: each "/" of
// a name is a Manta directory, created on first use. Manta commits an
// object PUT only when its body completes, so Put is atomic as backups are.
type objects struct {
	s    *Store
	root string // bucket/prefix

	mu   sync.Mutex
	dirs map[string]bool // directories known to exist
}

// Objects implements store.Store.
func (s *Store) Objects(prefix string) (store.Objects, error) {
	p, err := store.CleanPrefix(prefix)
	if err != nil {
		return nil, err
	}
	return &objects{s: s, root: s.bucket + "/" + p, dirs: map[string]bool{}}, nil
}

func (o *objects) path(name string) string { return o.root + "/" + name }

// ensureDirs creates the root and every directory above name in it.
func (o *objects) ensureDirs(ctx context.Context, name string) error {
	if err := o.s.ensureBucket(ctx); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	dir := o.s.bucket
	rel := strings.TrimPrefix(path.Dir(o.root+"/"+name), dir+"/")
	for _, seg := range strings.Split(rel, "/") {
		dir += "/" + seg
		if o.dirs[dir] {
			continue
		}
		if err := o.s.dirs.Put(ctx, &storage.PutDirectoryInput{DirectoryName: dir}); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, o.s.classify(err))
		}
		o.dirs[dir] = true
	}
	return nil
}

// forget drops the directory cache after a failed Put: someone may have
// removed a directory, and the next Put recreates it.
func (o *objects) forget() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dirs = map[string]bool{}
}

// Put implements store.Objects: one streamed PUT, then a HEAD that checks
// the size Manta holds (a mismatch removes the object).
func (o *objects) Put(ctx context.Context, name string, r io.Reader) error {
	if err := store.CheckObjectName(name); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := o.ensureDirs(ctx, name); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	d := store.NewDigester(r)
	if err := o.s.putData(ctx, o.path(name), d); err != nil {
		o.forget()
		return fmt.Errorf("put %s: %w", name, err)
	}
	m, _ := d.Complete(store.Meta{})
	if err := o.s.checkSize(ctx, o.path(name), m.Size); err != nil {
		o.s.undo(ctx, o.path(name))
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// Get implements store.Objects.
func (o *objects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := store.CheckObjectName(name); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	out, err := o.s.objects.Get(httplimit.Data(ctx), &storage.GetObjectInput{ObjectPath: o.path(name)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, o.s.classify(err))
	}
	if isDirType(out.ContentType) {
		_ = out.ObjectReader.Close()
		return nil, fmt.Errorf("get %s: a directory: %w", name, store.ErrNotFound)
	}
	return store.ExactReader(out.ObjectReader, int64(out.ContentLength), name), nil
}

// Stat implements store.Objects.
func (o *objects) Stat(ctx context.Context, name string) (store.ObjectInfo, error) {
	if err := store.CheckObjectName(name); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	info, err := o.stat(ctx, name)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return info, nil
}

func (o *objects) stat(ctx context.Context, name string) (store.ObjectInfo, error) {
	out, err := o.s.objects.GetInfo(ctx, &storage.GetInfoInput{ObjectPath: o.path(name)})
	if err != nil {
		return store.ObjectInfo{}, o.s.classify(err)
	}
	if isDirType(out.ContentType) {
		return store.ObjectInfo{}, fmt.Errorf("a directory: %w", store.ErrNotFound)
	}
	return store.ObjectInfo{Name: name, Size: int64(out.ContentLength), Modified: out.LastModified}, nil
}

func isDirType(ct string) bool { return strings.Contains(ct, "type=directory") }

// Delete implements store.Objects. It checks first that name is an object:
// Manta's DELETE would also remove an empty directory.
func (o *objects) Delete(ctx context.Context, name string) error {
	if err := store.CheckObjectName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if _, err := o.stat(ctx, name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	err := o.s.objects.Delete(ctx, &storage.DeleteObjectInput{ObjectPath: o.path(name)})
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, o.s.classify(err))
	}
	return nil
}

// List implements store.Objects: a walk of the directories from the
// directory part of prefix, descending only where names can match.
func (o *objects) List(ctx context.Context, prefix string) ([]store.ObjectInfo, error) {
	if err := store.CheckListPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	start := prefix[:strings.LastIndex(prefix, "/")+1]
	out := []store.ObjectInfo{}
	if err := o.walk(ctx, start, prefix, &out); err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", o.root, prefix, err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// walk adds the matching objects of directory rel ("" or "a/b/").
func (o *objects) walk(ctx context.Context, rel, prefix string, out *[]store.ObjectInfo) error {
	entries, err := o.s.listDir(ctx, strings.TrimSuffix(o.root+"/"+rel, "/"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := rel + e.Name
		switch {
		case e.Type == "directory":
			if strings.HasPrefix(name+"/", prefix) || strings.HasPrefix(prefix, name+"/") {
				if err := o.walk(ctx, name+"/", prefix, out); err != nil {
					return err
				}
			}
		case e.Type == "object" && strings.HasPrefix(name, prefix) && store.CheckObjectName(name) == nil:
			*out = append(*out, store.ObjectInfo{Name: name, Size: int64(e.Size), Modified: e.ModifiedTime})
		}
	}
	return nil
}
