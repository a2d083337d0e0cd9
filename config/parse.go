package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/etc"
	"github.com/autopilotpattern/redis-autopilot/internal/runas"
)

// into adapts a parser into a setting's set function that stores the
// parsed value in the field chosen by field.
func into[T any](field func(*Config) *T, parse func(string) (T, error)) func(*Config, string) error {
	return func(c *Config, v string) error {
		x, err := parse(v)
		if err != nil {
			return err
		}
		*field(c) = x
		return nil
	}
}

func parseString(v string) (string, error) { return v, nil }

// parseDuration accepts Go's syntax (24h, 2s, 500ms) or a plain integer
// meaning seconds, and insists on at least a millisecond.
func parseDuration(v string) (time.Duration, error) {
	const reason = "must be a positive duration like 5s, 500ms, 24h, or a whole number of seconds"
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, errors.New(reason)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Millisecond {
		return 0, errors.New(reason)
	}
	return d, nil
}

// parseSentinelTime is parseDuration within Sentinel's limit: it reads
// its times as C ints of milliseconds and refuses to start on a larger one.
func parseSentinelTime(v string) (time.Duration, error) {
	d, err := parseDuration(v)
	if err == nil && d > etc.MaxSentinelTime {
		err = fmt.Errorf("must be at most %dms (%s), Sentinel's limit", etc.MaxSentinelTime.Milliseconds(), etc.MaxSentinelTime)
	}
	return d, err
}

// parseQuorum accepts 1 to Sentinel's largest quorum.
func parseQuorum(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > etc.MaxQuorum {
		return 0, fmt.Errorf("must be a whole number from 1 to %d", etc.MaxQuorum)
	}
	return n, nil
}

// parseUser accepts a user name or uid the system knows.
func parseUser(v string) (string, error) {
	if _, err := runas.Lookup(v); err != nil {
		return "", errors.New("is not a user of this system (see /etc/passwd); unset it for the default, redis")
	}
	return v, nil
}

func parsePort(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("must be a port number 1-65535")
	}
	return n, nil
}

// intAtLeast returns a parser for whole numbers >= min.
func intAtLeast(min int) func(string) (int, error) {
	return func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return 0, fmt.Errorf("must be a whole number >= %d", min)
		}
		return n, nil
	}
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, errors.New("must be true, false, 1, 0, yes or no")
}

func parseAbsPath(v string) (string, error) {
	if !filepath.IsAbs(v) {
		return "", errors.New("must be an absolute path")
	}
	return filepath.Clean(v), nil
}

// parseIP returns the canonical form of an IPv4 or IPv6 address.
func parseIP(v string) (string, error) {
	ip := net.ParseIP(v)
	if ip == nil {
		return "", errors.New("must be an IP address")
	}
	return ip.String(), nil
}

// parseHTTPAddr accepts host:port (host may be empty) or "off", which
// yields "" (no listener).
func parseHTTPAddr(v string) (string, error) {
	if strings.EqualFold(v, "off") {
		return "", nil
	}
	if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
		return "", errors.New(`must be host:port, :port, or "off"`)
	}
	return v, nil
}

// parseConsulAddr accepts what the Consul client does: host:port,
// http(s)://host:port[/prefix] or unix:///path.
func parseConsulAddr(v string) (string, error) {
	const reason = "must be host:port, http://host:port, https://host:port or unix:///path"
	scheme, rest, found := strings.Cut(v, "://")
	if !found {
		rest = v
	} else if scheme == "unix" {
		if !filepath.IsAbs(rest) {
			return "", errors.New(reason)
		}
		return v, nil
	} else if scheme != "http" && scheme != "https" {
		return "", errors.New(reason)
	}
	hostport, _, _ := strings.Cut(rest, "/")
	if host, port, err := net.SplitHostPort(hostport); err != nil || host == "" || !validPort(port) {
		return "", errors.New(reason)
	}
	return v, nil
}

func validPort(s string) bool {
	_, err := parsePort(s)
	return err == nil
}

func parseURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("must be an http(s) URL like https://us-east.manta.joyent.com")
	}
	return strings.TrimRight(v, "/"), nil
}

// oneOf returns a parser accepting exactly the given lowercase words,
// case-insensitively, and yielding them lowercase.
func oneOf(words ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, w := range words {
			if strings.EqualFold(v, w) {
				return w, nil
			}
		}
		return "", fmt.Errorf("must be one of %s", strings.Join(words, ", "))
	}
}

// parseList splits a comma-separated list, dropping empty items.
func parseList(v string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// parseJSONObject checks that v is one JSON object. The reason never
// quotes v, which may hold ACL tokens.
func parseJSONObject(v string) (string, error) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(v), &obj); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return "", fmt.Errorf("is not valid JSON (syntax error at byte %d)", syn.Offset)
		}
		return "", errors.New("must be a JSON object")
	}
	return v, nil
}
