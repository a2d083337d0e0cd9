package manta

import (
	"context"
	"fmt"
	"io"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/joyent/triton-go/storage"
)

// maxSidecar bounds a sidecar read; real ones are a few hundred bytes.
const maxSidecar = 64 << 10

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, name string) (store.Info, error) {
	if _, _, err := store.ParseName(name); err != nil {
		return store.Info{}, fmt.Errorf("stat: %w", err)
	}
	out, err := s.objects.GetInfo(ctx, &storage.GetInfoInput{ObjectPath: s.path(name)})
	if err != nil {
		return store.Info{}, fmt.Errorf("stat %s: %w", name, s.classify(err))
	}
	i := store.Info{Name: name, Size: int64(out.ContentLength), Modified: out.LastModified}
	if err := s.readSidecar(ctx, &i); err != nil {
		return store.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return i, nil
}

// readSidecar fills i.Meta or i.MetaErr; a missing sidecar leaves both nil
// (a legacy backup). Only authentication failures are returned.
func (s *Store) readSidecar(ctx context.Context, i *store.Info) error {
	out, err := s.objects.Get(ctx, &storage.GetObjectInput{ObjectPath: s.path(i.Name + store.SidecarSuffix)})
	if err != nil {
		err = s.classify(err)
		switch {
		case isNotFound(err):
			return nil
		case isAuth(err):
			return err
		}
		i.MetaErr = err
		return nil
	}
	defer out.ObjectReader.Close()
	b, err := io.ReadAll(io.LimitReader(out.ObjectReader, maxSidecar+1))
	switch {
	case err != nil:
		i.MetaErr = fmt.Errorf("read sidecar: %w", err)
	case len(b) > maxSidecar:
		i.MetaErr = fmt.Errorf("read sidecar: larger than %d bytes; it is not a sidecar this program wrote", maxSidecar)
	default:
		i.Meta, i.MetaErr = store.DecodeMeta(b)
	}
	return nil
}

// List implements store.Store: every page of the bucket (Manta includes
// the marker entry itself in the next page), then the sidecars of the
// backups found. A missing bucket is an empty list.
func (s *Store) List(ctx context.Context) ([]store.Info, error) {
	entries, err := s.listDir(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.bucket, err)
	}
	var out []store.Info
	for _, e := range entries {
		if e.Type != "object" || !store.ValidName(e.Name) {
			continue
		}
		i := store.Info{Name: e.Name, Size: int64(e.Size), Modified: e.ModifiedTime}
		if err := s.readSidecar(ctx, &i); err != nil {
			return nil, fmt.Errorf("list %s: %w", s.bucket, err)
		}
		out = append(out, i)
	}
	return out, nil
}

// listDir returns the entries of directory dir in name order; a missing
// directory has none.
func (s *Store) listDir(ctx context.Context, dir string) ([]*storage.DirectoryEntry, error) {
	var all []*storage.DirectoryEntry
	marker := ""
	ctx, tooLarge := httplimit.Watch(ctx) // a page cut at MaxReply fails as bad JSON
	for {
		page, err := s.dirs.List(ctx, &storage.ListDirectoryInput{
			DirectoryName: dir, Limit: uint64(s.pageSize), Marker: marker,
		})
		if cut := tooLarge(); cut != nil {
			return nil, cut
		}
		if err != nil {
			if err = s.classify(err); isNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		fresh := 0
		for _, e := range page.Entries {
			if marker != "" && e.Name <= marker {
				continue
			}
			all = append(all, e)
			fresh++
		}
		if len(page.Entries) < s.pageSize || fresh == 0 {
			return all, nil
		}
		marker = all[len(all)-1].Name
	}
}
