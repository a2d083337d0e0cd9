package pitr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

const (
	infoName = "chain.json"
	endName  = "end.json"
	ageExt   = ".age"
	// maxJSON bounds chain.json and end.json as read from the store.
	maxJSON = 64 << 10
)

// ChainStore keeps chains in a store's Objects namespace (Prefix). It is a
// Source for Restore. Keys, when set, encrypts what Put writes; reading
// needs them for encrypted chains.
type ChainStore struct {
	Objects store.Objects
	Keys    *crypt.Keys
}

// NewChainStore opens the Prefix namespace of st.
func NewChainStore(st store.Store, keys *crypt.Keys) (*ChainStore, error) {
	o, err := st.Objects(Prefix)
	if err != nil {
		return nil, fmt.Errorf("point-in-time objects: %w", err)
	}
	return &ChainStore{Objects: o, Keys: keys}, nil
}

func (c *ChainStore) ext() string {
	if c.Keys != nil {
		return ageExt
	}
	return ""
}

// put stores r under name, encrypted when Keys are set.
func (c *ChainStore) put(ctx context.Context, name string, r io.Reader, encrypt bool) error {
	if encrypt && c.Keys != nil {
		// plain is the caller's reader: the goroutine must not read r,
		// which is the pipe's read end from the next line on (both ends
		// in one goroutine each deadlocked the first encrypted put).
		// put returns only once the goroutine is done with plain: the
		// shipper reuses a piece's bytes after its put, even a failed one.
		plain := r
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			w, err := c.Keys.Encrypt(pw)
			if err == nil {
				if _, err = io.Copy(w, plain); err == nil {
					err = w.Close()
				}
			}
			pw.CloseWithError(err)
		}()
		r = pr
		defer func() { pr.Close(); <-done }()
	}
	if err := c.Objects.Put(ctx, name, r); err != nil {
		return fmt.Errorf("store %s/%s: %w", Prefix, name, err)
	}
	return nil
}

// get opens name, decrypting an age object.
func (c *ChainStore) get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := c.Objects.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", Prefix, name, err)
	}
	if !strings.HasSuffix(name, ageExt) {
		return rc, nil
	}
	if c.Keys == nil {
		rc.Close()
		return nil, fmt.Errorf("%s/%s is encrypted and no BACKUP_ENCRYPTION_KEY is set", Prefix, name)
	}
	r, err := c.Keys.Decrypt(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("decrypt %s/%s: %w", Prefix, name, err)
	}
	return readCloser{r, rc}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// PutBase stores a chain's base from r and fills info's Base, BaseSize,
// BaseSHA256 and Encrypted.
func (c *ChainStore) PutBase(ctx context.Context, info *ChainInfo, r io.Reader) error {
	d := store.NewDigester(r)
	if err := c.put(ctx, info.ID+"/"+info.Base+c.ext(), d, true); err != nil {
		return err
	}
	m, err := d.Complete(store.Meta{})
	if err != nil {
		return err
	}
	info.BaseSize, info.BaseSHA256, info.Encrypted = m.Size, m.SHA256, c.Keys != nil
	return nil
}

// PutInfo writes chain.json.
func (c *ChainStore) PutInfo(ctx context.Context, info ChainInfo) error {
	if err := info.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return c.put(ctx, info.ID+"/"+infoName, bytes.NewReader(b), false)
}

// PutEnd writes end.json: the chain is closed at end.Offset.
func (c *ChainStore) PutEnd(ctx context.Context, chain string, end ChainEnd) error {
	b, err := json.Marshal(end)
	if err != nil {
		return err
	}
	return c.put(ctx, chain+"/"+endName, bytes.NewReader(b), false)
}

// PutSegment stores a segment's bytes (its name already says their
// sha256 and length).
func (c *ChainStore) PutSegment(ctx context.Context, s Segment, r io.Reader) error {
	return c.put(ctx, s.Key()+c.ext(), r, true)
}

// DeleteSegment removes a segment (after a sealed one covers it).
func (c *ChainStore) DeleteSegment(ctx context.Context, s Segment, encrypted bool) error {
	name := s.Key()
	if encrypted {
		name += ageExt
	}
	return c.Objects.Delete(ctx, name)
}

// OpenBase implements Source.
func (c *ChainStore) OpenBase(ctx context.Context, info ChainInfo) (io.ReadCloser, error) {
	name := info.ID + "/" + info.Base
	if info.Encrypted {
		name += ageExt
	}
	return c.get(ctx, name)
}

// OpenSegment implements Source.
func (c *ChainStore) OpenSegment(ctx context.Context, s Segment) (io.ReadCloser, error) {
	rc, err := c.get(ctx, s.Key()+ageExt)
	if errors.Is(err, store.ErrNotFound) {
		rc, err = c.get(ctx, s.Key())
	}
	return rc, err
}

// Chains lists every chain with a readable chain.json. Objects that are
// not a chain's are ignored; a chain whose chain.json is missing (its base
// upload never finished) is skipped.
func (c *ChainStore) Chains(ctx context.Context) ([]Chain, error) {
	objs, err := c.Objects.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", Prefix, err)
	}
	byID := map[string]*Chain{}
	var order []string
	for _, o := range objs {
		id, name, ok := strings.Cut(o.Name, "/")
		if !ok || !ValidChainID(id) {
			continue
		}
		ch := byID[id]
		if ch == nil {
			ch = &Chain{Info: ChainInfo{ID: id}}
			byID[id] = ch
			order = append(order, id)
		}
		if err := c.addObject(ctx, ch, name); err != nil {
			return nil, err
		}
	}
	var out []Chain
	for _, id := range order {
		if ch := byID[id]; ch.Info.Base != "" {
			out = append(out, *ch)
		}
	}
	return out, nil
}

func (c *ChainStore) addObject(ctx context.Context, ch *Chain, name string) error {
	switch name {
	case infoName:
		var info ChainInfo
		if err := c.readJSON(ctx, ch.Info.ID+"/"+name, &info); err != nil {
			return err
		}
		if err := info.Validate(); err != nil || info.ID != ch.Info.ID {
			return fmt.Errorf("%s/%s/%s: %w", Prefix, ch.Info.ID, name, errors.Join(err, ErrInvalidName))
		}
		ch.Info = info
	case endName:
		var end ChainEnd
		if err := c.readJSON(ctx, ch.Info.ID+"/"+name, &end); err != nil {
			return err
		}
		ch.End = &end
	default:
		if s, err := ParseSegmentName(ch.Info.ID, strings.TrimSuffix(name, ageExt)); err == nil {
			ch.Segments = append(ch.Segments, s)
		}
	}
	return nil
}

func (c *ChainStore) readJSON(ctx context.Context, name string, v any) error {
	rc, err := c.get(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxJSON+1))
	if err != nil {
		return fmt.Errorf("read %s/%s: %w", Prefix, name, err)
	}
	if len(b) > maxJSON {
		return fmt.Errorf("%s/%s is longer than %d bytes", Prefix, name, maxJSON)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s/%s: %w", Prefix, name, err)
	}
	return nil
}
