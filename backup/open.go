package backup

import (
	"cmp"
	"fmt"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/backup/store/manta"
	"github.com/autopilotpattern/redis-autopilot/config"
	"github.com/hashicorp/go-hclog"
)

// OpenStore returns the store the configuration selects: the directory
// store when BACKUP_DIR is set, else Manta when it is configured, else S3
// when S3_URL is set, else nil with no error (backups are off).
func OpenStore(cfg *config.Config, log hclog.Logger) (store.Store, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	switch {
	case cfg.BackupDir != "":
		s, err := dir.New(dir.Options{Dir: cfg.BackupDir, Log: log.Named("dir")})
		if err != nil {
			return nil, fmt.Errorf("open backup directory %s: %w", cfg.BackupDir, err)
		}
		return s, nil
	case cfg.MantaEnabled():
		s, err := manta.New(manta.Options{
			URL: cfg.MantaURL, User: cfg.MantaUser, Subuser: cfg.MantaSubuser, Role: cfg.MantaRole,
			KeyID: cfg.MantaKeyID, Signer: cfg.MantaKey, Bucket: cfg.MantaBucket,
			ResponseTimeout: mantaResponseTimeout(cfg), Logger: log.Named("manta"),
		})
		if err != nil {
			return nil, fmt.Errorf("open Manta store: %w", err)
		}
		return s, nil
	case cfg.S3.Enabled():
		return openS3(cfg, log)
	}
	return nil, nil
}

// mantaResponseTimeout bounds every Manta request's wait for an answer:
// twice BACKUP_STALL_TIMEOUT, so that where a stall watch runs (uploads,
// read-backs, restores) it names the stall first, and a request nothing
// watches (list, delete) ends too.
func mantaResponseTimeout(cfg *config.Config) time.Duration {
	return 2 * cmp.Or(cfg.BackupStallTimeout, DefaultStallTimeout)
}
