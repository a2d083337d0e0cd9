package manta

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/internal/httplimit"
	"github.com/joyent/triton-go/storage"
)

// cleanupTimeout bounds the deletes that undo a failed Put.
const cleanupTimeout = 30 * time.Second

// Put implements store.Store. The data goes out as one chunked PUT fed
// through a 1 MiB buffer by a goroutine, so reading r overlaps the upload;
// Put returns only after that goroutine has stopped reading r.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, meta store.Meta) error {
	if _, _, err := store.ParseName(name); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := s.ensureBucket(ctx); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	start := time.Now()
	d := store.NewDigester(r)
	if err := s.putData(ctx, s.path(name), d); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	m, err := d.Complete(meta)
	if err == nil {
		err = s.checkSize(ctx, s.path(name), m.Size)
	}
	if err == nil {
		err = s.putSidecar(ctx, name, m)
	}
	if err != nil {
		s.undo(ctx, s.path(name))
		return fmt.Errorf("put %s: %w", name, err)
	}
	s.log.Debug("backup stored", "name", name, "bytes", m.Size, "duration", time.Since(start))
	return nil
}

// putData streams r to the object at path p (a full Manta path).
func (s *Store) putData(ctx context.Context, p string, r io.Reader) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, store.BufferSize)
		_, err := io.Copy(bw, r)
		if err == nil {
			err = bw.Flush()
		}
		_ = pw.CloseWithError(err) // nil: the body ends with EOF
		done <- err
	}()
	err := s.objects.Put(ctx, &storage.PutObjectInput{
		ObjectPath: p, ContentType: "application/octet-stream", ObjectReader: pr,
	})
	_ = pr.CloseWithError(io.ErrClosedPipe) // unblock the copier if the PUT gave up early
	if rerr := <-done; rerr != nil && rerr != io.ErrClosedPipe {
		return fmt.Errorf("read backup data: %w", rerr) // the PUT was aborted with it
	}
	if err != nil {
		return s.classify(err)
	}
	return nil
}

// checkSize asks Manta what it stored at path p.
func (s *Store) checkSize(ctx context.Context, p string, size int64) error {
	info, err := s.objects.GetInfo(ctx, &storage.GetInfoInput{ObjectPath: p})
	if err != nil {
		return fmt.Errorf("verify: %w", s.classify(err))
	}
	if int64(info.ContentLength) != size {
		return fmt.Errorf("manta holds %d bytes, sent %d: %w", info.ContentLength, size, store.ErrIntegrity)
	}
	return nil
}

func (s *Store) putSidecar(ctx context.Context, name string, m store.Meta) error {
	b := store.EncodeMeta(m)
	sum := md5.Sum(b)
	err := s.objects.Put(ctx, &storage.PutObjectInput{
		ObjectPath: s.path(name + store.SidecarSuffix), ContentType: "application/json",
		ObjectReader: bytes.NewReader(b),
		// triton-go drops PutObjectInput.ContentMD5 (a typo): pass it here.
		Headers: map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])},
	})
	if err != nil {
		return fmt.Errorf("write sidecar: %w", s.classify(err))
	}
	return nil
}

// undo removes the object at path p after a failed Put so it is not taken
// for a legacy backup (or a good object), even when ctx is already
// cancelled.
func (s *Store) undo(ctx context.Context, p string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.objects.Delete(ctx, &storage.DeleteObjectInput{ObjectPath: p}); err != nil {
		if err = s.classify(err); !isNotFound(err) {
			s.log.Warn("could not remove the data of a failed put", "path", p, "error", err)
		}
	}
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if _, _, err := store.ParseName(name); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	out, err := s.objects.Get(httplimit.Data(ctx), &storage.GetObjectInput{ObjectPath: s.path(name)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, s.classify(err))
	}
	return store.ExactReader(out.ObjectReader, int64(out.ContentLength), name), nil
}

// Delete implements store.Store: the data first, then the sidecar.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, _, err := store.ParseName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	found := false
	for _, n := range []string{name, name + store.SidecarSuffix} {
		err := s.objects.Delete(ctx, &storage.DeleteObjectInput{ObjectPath: s.path(n)})
		if err = s.classifyOrNil(err); err != nil && !isNotFound(err) {
			return fmt.Errorf("delete %s: %w", n, err)
		}
		found = found || err == nil
	}
	if !found {
		return fmt.Errorf("delete %s: %w", name, store.ErrNotFound)
	}
	return nil
}

func (s *Store) classifyOrNil(err error) error {
	if err == nil {
		return nil
	}
	return s.classify(err)
}
