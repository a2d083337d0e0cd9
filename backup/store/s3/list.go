package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// maxSidecar bounds a sidecar read; real ones are a few hundred bytes.
const maxSidecar = 64 << 10

// errNoSidecar marks data this store wrote whose sidecar never came: the
// writer died between the two; it is neither good nor a legacy backup.
var errNoSidecar = errors.New("data without its sidecar: an upload interrupted before its metadata was written")

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, name string) (store.Info, error) {
	if _, _, err := store.ParseName(name); err != nil {
		return store.Info{}, fmt.Errorf("stat: %w", err)
	}
	out, err := s.head(ctx, s.key(name))
	if err != nil {
		return store.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	i := store.Info{Name: name, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}
	if err := s.readSidecar(ctx, &i, func() bool { return out.Metadata[markerKey] != "" }); err != nil {
		return store.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return i, nil
}

// readSidecar fills i.Meta or i.MetaErr. A missing sidecar leaves both nil
// (a legacy backup) unless ours says the data is this store's. Only
// authentication and bucket failures are returned.
func (s *Store) readSidecar(ctx context.Context, i *store.Info, ours func() bool) error {
	rc, err := s.get(ctx, s.key(i.Name+store.SidecarSuffix), i.Name+store.SidecarSuffix)
	switch {
	case isNotFound(err):
		if ours() {
			i.MetaErr = errNoSidecar
		}
		return nil
	case errors.Is(err, store.ErrAuth) || errors.Is(err, ErrNoBucket):
		return err
	case err != nil:
		i.MetaErr = err
		return nil
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSidecar+1))
	switch {
	case err != nil:
		i.MetaErr = fmt.Errorf("read sidecar: %w", err)
	case len(b) > maxSidecar:
		i.MetaErr = fmt.Errorf("read sidecar: larger than %d bytes", maxSidecar)
	default:
		i.Meta, i.MetaErr = store.DecodeMeta(b)
	}
	return nil
}

// List implements store.Store: the keys directly under the prefix (the
// Objects namespaces below it are not descended into), then the sidecars
// of the backups found.
func (s *Store) List(ctx context.Context) ([]store.Info, error) {
	objs, err := s.listKeys(ctx, s.o.Prefix, "/")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s, err)
	}
	sidecars := map[string]bool{}
	for _, o := range objs {
		sidecars[o.name] = true
	}
	var out []store.Info
	for _, o := range objs {
		if !store.ValidName(o.name) {
			continue
		}
		i := store.Info{Name: o.name, Size: o.size, Modified: o.modified}
		if !sidecars[o.name+store.SidecarSuffix] {
			// Rare (a crash, or a legacy backup): a HEAD tells which.
			if s.ours(ctx, o.name) {
				i.MetaErr = errNoSidecar
			}
		} else if err := s.readSidecar(ctx, &i, func() bool { return s.ours(ctx, o.name) }); err != nil {
			return nil, fmt.Errorf("list %s: %w", s, err)
		}
		out = append(out, i)
	}
	return out, nil
}

// ours reports whether this store wrote the data of backup name.
func (s *Store) ours(ctx context.Context, name string) bool {
	h, err := s.head(ctx, s.key(name))
	return err == nil && h.Metadata[markerKey] != ""
}

// key is one listed object, its name relative to the prefix listed.
type key struct {
	name     string
	size     int64
	modified time.Time
}

// listKeys returns every key under prefix in name order (S3 lists in
// UTF-8 byte order), names without the prefix; with delimiter "/", only
// those directly under it.
func (s *Store) listKeys(ctx context.Context, prefix, delimiter string) ([]key, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.o.Bucket), Prefix: aws.String(prefix)}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	var out []key
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.classify(err, false)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			out = append(out, key{name: k[len(prefix):], size: aws.ToInt64(o.Size), modified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}
