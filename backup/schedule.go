package backup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/registry"
	"github.com/hashicorp/go-hclog"
)

// Registry is what the scheduler needs of Consul (registry.Registry).
type Registry interface {
	KVStore
	TryAcquire(ctx context.Context, key, holder string) (*registry.Lock, bool, error)
	Acquire(ctx context.Context, key, holder string) (*registry.Lock, error)
	Instances(ctx context.Context, name string, passingOnly bool) ([]registry.Instance, error)
}

// NodeState reports this node's redis role (redisnode.RoleMaster or
// RoleReplica) and whether it is healthy (for a replica: its master link
// is up; for a master: its write fence is down). The node provides it.
type NodeState func(ctx context.Context) (role string, healthy bool)

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Backup says how this node takes a backup; Role is filled in from
	// Node. Redis, DataDir and Store are required.
	Backup Options
	// Registry is the Consul client. Required.
	Registry Registry
	// Node is this node's role and health. Required.
	Node NodeState
	// Holder is written as the lock's value (this node's address).
	Holder string
	// Interval is how often Run checks (BACKUP_INTERVAL), TTL how old
	// the last backup may get (BACKUP_TTL). Both required.
	Interval, TTL time.Duration
	// Keep is BACKUP_KEEP: newest backups kept, 0 = all.
	Keep int
	// Retain, when set, is called after each prune that left Keep
	// backups, with the time of the oldest one kept: what lives as long
	// as the backups (point-in-time chains) is pruned with them.
	Retain func(ctx context.Context, oldestKept time.Time) error
	// MasterGrace is how long past TTL the master leaves the backup to
	// passing replicas before taking it itself; default 3×Interval.
	MasterGrace time.Duration
	// MaxBackoff caps the wait between failed attempts; default
	// min(TTL, 1h), at least Interval.
	MaxBackoff time.Duration
	Log        hclog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Observer, when set, is told of every attempt this node makes and of
	// the cluster's last backup each time the scheduler reads it (metrics
	// implement it).
	Observer Observer
}

// Observer is told what the scheduler did and saw.
type Observer interface {
	// BackupAttempt reports one attempt of this node: size is the
	// uploaded size, err nil on success.
	BackupAttempt(start, end time.Time, size int64, err error)
	// ClusterBackup reports the time of the cluster's newest good backup.
	ClusterBackup(at time.Time)
}

type noObserver struct{}

func (noObserver) BackupAttempt(time.Time, time.Time, int64, error) {}
func (noObserver) ClusterBackup(time.Time)                          {}

// Scheduler takes the cluster's backups: one per TTL for the whole
// cluster, under KeyBackupLock, preferably on a healthy replica.
type Scheduler struct {
	o       SchedulerOptions
	log     hclog.Logger
	trigger chan struct{}

	mu       sync.Mutex
	failures int       // consecutive failed attempts of this node
	retryAt  time.Time // no scheduled attempt before this after a failure
	dueSince time.Time // when this node first saw a backup due
}

// Decision is what one Tick did and why.
type Decision struct {
	// Backup is the name of the backup taken, "" when none was.
	Backup string
	// Reason is an English sentence.
	Reason string
}

// NewScheduler validates o.
func NewScheduler(o SchedulerOptions) (*Scheduler, error) {
	switch {
	case o.Registry == nil:
		return nil, fmt.Errorf("%w: Registry is required", ErrInvalidOptions)
	case o.Node == nil:
		return nil, fmt.Errorf("%w: Node is required", ErrInvalidOptions)
	case o.Interval <= 0 || o.TTL <= 0:
		return nil, fmt.Errorf("%w: Interval and TTL must be positive", ErrInvalidOptions)
	}
	if err := o.Backup.validate(); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = o.Backup.Log
	}
	if o.MasterGrace <= 0 {
		o.MasterGrace = 3 * o.Interval
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = max(min(o.TTL, time.Hour), o.Interval)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Backup.Log = o.Log
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	return &Scheduler{o: o, log: o.Log, trigger: make(chan struct{}, 1)}, nil
}

// Now asks Run to take a backup at once, ignoring the TTL (SIGUSR2). It
// does not block; requests made while one is pending are merged.
func (s *Scheduler) Now() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Run checks every Interval whether a backup is due, and takes one on Now,
// until ctx ends. It logs each decision whose reason changed.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	last := ""
	for {
		var d Decision
		var err error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			d, err = s.Tick(ctx)
		case <-s.trigger:
			var info store.Info
			if info, err = s.BackupNow(ctx); err == nil {
				d = Decision{Backup: info.Name, Reason: "took a backup on request"}
			}
		}
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("backup failed", "error", err, "retry_in", s.backoff())
			last = ""
		case err == nil && (d.Reason != last || d.Backup != ""):
			s.log.Info(d.Reason, "backup", d.Backup)
			last = d.Reason
		}
	}
}

// Tick decides whether this node backs up now, and does.
func (s *Scheduler) Tick(ctx context.Context) (Decision, error) {
	now := s.o.Now()
	last, found, err := ReadLast(ctx, s.o.Registry)
	if err != nil {
		return Decision{}, err
	}
	if found {
		s.o.Observer.ClusterBackup(last.Created)
	}
	age := now.Sub(last.Created)
	if found && age < s.o.TTL {
		s.succeeded()
		return Decision{Reason: "The last backup is younger than BACKUP_TTL."}, nil
	}
	dueFor := s.due(now)
	if wait := s.waitAfterFailure(now); wait > 0 {
		return Decision{Reason: "A backup is due; retrying after the last failure's backoff."}, nil
	}
	role, healthy := s.o.Node(ctx)
	if !healthy {
		return Decision{Reason: "A backup is due, but this node is not healthy."}, nil
	}
	if role == redisnode.RoleMaster && dueFor < s.o.MasterGrace {
		replicas, err := s.o.Registry.Instances(ctx, registry.ServiceReplica, true)
		if err != nil {
			return Decision{}, fmt.Errorf("look for passing replicas: %w", err)
		}
		if len(replicas) > 0 {
			return Decision{Reason: "A backup is due; the master leaves it to a passing replica."}, nil
		}
	}
	lock, held, err := s.o.Registry.TryAcquire(ctx, KeyBackupLock, s.o.Holder)
	if err != nil {
		return Decision{}, fmt.Errorf("acquire %s: %w", KeyBackupLock, err)
	}
	if !held {
		return Decision{Reason: "A backup is due; another node holds the backup lock."}, nil
	}
	defer s.release(ctx, lock)
	if last2, found2, err := ReadLast(ctx, s.o.Registry); err != nil {
		return Decision{}, err
	} else if found2 && last2.Name != last.Name && s.o.Now().Sub(last2.Created) < s.o.TTL {
		return Decision{Reason: "Another node has just taken the backup."}, nil
	}
	info, err := s.takeLocked(ctx, lock, role)
	if err != nil {
		return Decision{}, err
	}
	return Decision{Backup: info.Name, Reason: fmt.Sprintf("The last backup was older than BACKUP_TTL; this %s took one.", role)}, nil
}

// BackupNow takes a backup whatever the TTL, waiting for the lock while
// another node backs up (ctx bounds the wait), then records and prunes.
func (s *Scheduler) BackupNow(ctx context.Context) (store.Info, error) {
	lock, err := s.o.Registry.Acquire(ctx, KeyBackupLock, s.o.Holder)
	if err != nil {
		return store.Info{}, fmt.Errorf("acquire %s: %w", KeyBackupLock, err)
	}
	defer s.release(ctx, lock)
	role, _ := s.o.Node(ctx)
	return s.takeLocked(ctx, lock, role)
}

// takeLocked backs up while holding lock (cancelled if it is lost),
// records the verified backup in Consul and prunes old ones.
func (s *Scheduler) takeLocked(ctx context.Context, lock *registry.Lock, role string) (store.Info, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-lock.Lost():
			cancel(lock.Err())
		case <-ctx.Done():
		}
	}()
	o := s.o.Backup
	o.Role = role
	start := s.o.Now()
	info, err := Backup(ctx, o)
	defer func() { s.o.Observer.BackupAttempt(start, s.o.Now(), info.Size, err) }()
	if err == nil {
		if cerr := context.Cause(ctx); cerr != nil {
			err = cerr
		}
	}
	if err == nil {
		err = writeLast(ctx, s.o.Registry, info, s.o.Holder)
	}
	if err != nil {
		s.failed()
		if cerr := context.Cause(ctx); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		return store.Info{}, err
	}
	s.succeeded()
	s.o.Observer.ClusterBackup(s.o.Now())
	deleted, perr := Prune(ctx, s.o.Backup.Store, s.o.Keep, info.Name)
	if perr != nil {
		s.log.Warn("could not delete old backups", "error", perr)
	}
	if len(deleted) > 0 {
		s.log.Info("deleted old backups", "names", deleted, "keep", s.o.Keep)
	}
	if perr == nil {
		s.retain(ctx)
	}
	return info, nil
}

// retain calls Retain with the oldest backup kept, once BACKUP_KEEP
// backups are stored (before that nothing has expired).
func (s *Scheduler) retain(ctx context.Context) {
	if s.o.Retain == nil || s.o.Keep <= 0 {
		return
	}
	list, err := s.o.Backup.Store.List(ctx)
	if err == nil && len(list) >= s.o.Keep {
		err = s.o.Retain(ctx, BackupTime(list[0]))
	}
	if err != nil {
		s.log.Warn("could not prune what is kept with the backups", "error", err)
	}
}

// BackupTime is when a backup was taken: its sidecar's Created, else
// when the store wrote it.
func BackupTime(i store.Info) time.Time {
	if i.Meta != nil && !i.Meta.Created.IsZero() {
		return i.Meta.Created
	}
	return i.Modified
}

// release gives the backup lock up; if that fails Consul frees it when the
// session lapses.
func (s *Scheduler) release(ctx context.Context, lock *registry.Lock) {
	if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("could not release the backup lock; it lapses with its session", "error", err)
	}
}

func (s *Scheduler) failed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures++
	s.retryAt = s.o.Now().Add(s.backoffLocked())
}

func (s *Scheduler) succeeded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures, s.retryAt, s.dueSince = 0, time.Time{}, time.Time{}
}

// due notes that a backup is due and returns for how long this node has
// seen it due.
func (s *Scheduler) due(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dueSince.IsZero() {
		s.dueSince = now
	}
	return now.Sub(s.dueSince)
}

func (s *Scheduler) waitAfterFailure(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retryAt.Sub(now)
}

func (s *Scheduler) backoff() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backoffLocked()
}

// backoffLocked is the wait after the current run of failures: none after
// the first (the next run retries), then Interval, doubling up to
// MaxBackoff.
func (s *Scheduler) backoffLocked() time.Duration {
	if s.failures <= 1 {
		return 0
	}
	d := s.o.Interval
	for i := 2; i < s.failures && d < s.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.o.MaxBackoff)
}
