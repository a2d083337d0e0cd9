package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// FileSuffix makes the name of the variable that holds the path of a file
// with a secret's value, as Docker and compose secrets expect:
// REDIS_PASSWORD_FILE=/run/secrets/redis-password. Every setting marked
// Secret has one; a new secret gets it by being marked Secret.
const FileSuffix = "_FILE"

// maxSecretFile bounds what is read from a *_FILE (a PEM key is a few KB).
const maxSecretFile = 1 << 20

// lookupSecret returns a secret setting's value from its variable or its
// *_FILE variant (not both), and the name it came from. One trailing
// newline of the file is dropped: echo and editors add one.
func lookupSecret(env string, lookupEnv func(string) (string, bool)) (value, from string, err error) {
	v, _ := lookupEnv(env)
	path, _ := lookupEnv(env + FileSuffix)
	switch {
	case path == "":
		return v, env, nil
	case v != "":
		return "", "", &Error{Var: env + FileSuffix, Value: path, Reason: "set either " + env + " or " + env + FileSuffix + ", not both"}
	}
	b, err := readSecretFile(path)
	if err != nil {
		return "", "", &Error{Var: env + FileSuffix, Value: path, Reason: err.Error(), Err: err}
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", "", &Error{Var: env + FileSuffix, Value: path, Reason: "is empty; leave " + env + FileSuffix + " unset for no " + env}
	}
	return s, env + FileSuffix, nil
}

// readSecretFile reads a regular file of at most maxSecretFile bytes. Its
// errors never quote the content.
func readSecretFile(path string) ([]byte, error) {
	if _, err := parseAbsPath(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot be opened: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("must be a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("cannot be read: %w", err)
	case len(b) > maxSecretFile:
		return nil, fmt.Errorf("is larger than %d bytes", maxSecretFile)
	}
	return b, nil
}

// secretForms are the values to redact for a secret's value v: v, and v
// with '#' for newline decoded (MANTA_PRIVATE_KEY's encoding).
func secretForms(v string) []string {
	if strings.Contains(v, "#") {
		return []string{v, strings.ReplaceAll(v, "#", "\n")}
	}
	return []string{v}
}

// SecretEnv lists the variables that hold secrets or name their files;
// children's environments must not have them.
func SecretEnv() []string {
	var out []string
	for _, s := range settings {
		if s.Secret {
			out = append(out, s.Env, s.Env+FileSuffix)
		}
	}
	return out
}
