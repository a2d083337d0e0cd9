package manta

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	tterrors "github.com/joyent/triton-go/errors"
)

// AuthError is Manta refusing a request (401 or 403). It wraps
// store.ErrAuth.
type AuthError struct {
	Status int
	Code   string // muskie's restCode, e.g. InvalidSignature
	KeyID  string // MANTA_KEY_ID as given
	User   string // user or user/subuser
	Role   string
}

func (e *AuthError) Error() string {
	switch e.Code {
	case "AuthorizationFailed", "NoMatchingRoleTag", "InvalidRole", "RoleDoesNotExist":
		return fmt.Sprintf("Manta denied access to user %s role %q (%d %s): check MANTA_ROLE and the bucket's role tags",
			e.User, e.Role, e.Status, e.Code)
	}
	return fmt.Sprintf("Manta refused the signature for key %s user %s: check MANTA_KEY_ID and MANTA_PRIVATE_KEY (%d %s)",
		e.KeyID, e.User, e.Status, e.Code)
}

// Unwrap makes errors.Is(err, store.ErrAuth) true.
func (e *AuthError) Unwrap() error { return store.ErrAuth }

// classify turns triton-go's API errors into the store's sentinels,
// keeping the original text for 404s and other failures.
func (s *Store) classify(err error) error {
	var api *tterrors.APIError
	if !errors.As(err, &api) {
		return err
	}
	switch api.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &AuthError{Status: api.StatusCode, Code: api.Code, KeyID: s.keyID, User: s.user, Role: s.role}
	case http.StatusNotFound:
		return fmt.Errorf("%w (%s)", store.ErrNotFound, api.Code)
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func isAuth(err error) bool { return errors.Is(err, store.ErrAuth) }
