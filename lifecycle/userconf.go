package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/autopilotpattern/redis-autopilot/etc"
	"github.com/autopilotpattern/redis-autopilot/supervisor"
)

// ErrUserConfig is wrapped by CheckUserConfig's errors: the server refused
// the user's directives.
var ErrUserConfig = errors.New("the server refused the configuration")

// UserConfigCheck is the input of CheckUserConfig.
type UserConfigCheck struct {
	Sup                         Runner
	ServerPath, SentinelPath    string
	RedisUser, RedisInclude     []string
	RedisUserSets, SentinelUser []string
	// TempDir holds the throwaway servers' files; "" is os.TempDir().
	TempDir string
	// Timeout bounds each check; 0 is 30 s.
	Timeout time.Duration
}

// CheckUserConfig has the servers themselves judge the user's directives
// before anything starts, so that a typo is an error at start with the
// server's own message, never a crash loop. redis: a throwaway
// redis-server with the user's directives and includes, no TCP port and a
// unix socket in a private directory, must answer PING (modules named by
// loadmodule are loaded by then); it is then stopped. sentinel: a
// throwaway sentinel with the user's directives and port 0 must get past
// loading its configuration (it then exits, having nowhere to listen).
// Nothing is checked when the user gave nothing.
func CheckUserConfig(ctx context.Context, o UserConfigCheck) error {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	dir, err := os.MkdirTemp(o.TempDir, "redis-autopilot-check-")
	if err != nil {
		return fmt.Errorf("check the configuration: %w", err)
	}
	defer os.RemoveAll(dir)
	if len(o.RedisUser)+len(o.RedisInclude) > 0 {
		if err := checkRedisConf(ctx, o, dir); err != nil {
			return err
		}
	}
	if len(o.SentinelUser) > 0 {
		return checkSentinelConf(ctx, o, dir)
	}
	return nil
}

func checkRedisConf(ctx context.Context, o UserConfigCheck, dir string) error {
	sock, conf := filepath.Join(dir, "redis.sock"), filepath.Join(dir, "redis.conf")
	rc := etc.RedisConf{Port: 0, UnixSocket: sock, Dir: dir, AppendOnly: false,
		User: o.RedisUser, Include: o.RedisInclude, UserSets: o.RedisUserSets}
	if err := etc.WriteFile(conf, func(w io.Writer) error { return etc.RenderRedis(w, rc) }); err != nil {
		return fmt.Errorf("check the redis configuration: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	runCtx, ready := context.WithCancel(ctx)
	defer ready()
	go func() { // the server answering ends the run: the configuration loaded
		if waitPong(runCtx, sock) {
			ready()
		}
	}()
	res, err := o.Sup.Run(runCtx, supervisor.Command{Name: "redis-config-check", Path: o.ServerPath,
		Args: []string{conf}, Dir: dir, StopGrace: 5 * time.Second, CaptureLimit: 16 << 10})
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("check the redis configuration: the throwaway redis-server neither answered nor exited: %w", ctx.Err())
	case runCtx.Err() != nil: // it answered: the configuration loaded
		return nil
	case err == nil:
		err = errors.New("exited 0 before answering")
	}
	return fmt.Errorf("%w: %s with REDIS_CONFIG_EXTRA / REDIS_CONFIG_INCLUDE_DIR: %s (%v)",
		ErrUserConfig, filepath.Base(o.ServerPath), serverMessage(res.Output), err)
}

// notListening is what redis-sentinel logs once its configuration has
// loaded, when it has no port to listen on.
const notListening = "Configured to not listen anywhere"

func checkSentinelConf(ctx context.Context, o UserConfigCheck, dir string) error {
	conf := filepath.Join(dir, "sentinel.conf")
	sc := etc.SentinelConf{Port: 1, Dir: dir, MasterAddr: "127.0.0.1", MasterPort: 1, Quorum: 1,
		DownAfter: time.Second, FailoverTimeout: time.Second, User: o.SentinelUser}
	if err := etc.WriteFile(conf, func(w io.Writer) error {
		var b bytes.Buffer
		if err := etc.RenderSentinel(&b, sc); err != nil {
			return err
		}
		// port 0: load the configuration, then exit for want of a port.
		_, err := w.Write(bytes.Replace(b.Bytes(), []byte("\nport 1\n"), []byte("\nport 0\n"), 1))
		return err
	}); err != nil {
		return fmt.Errorf("check the sentinel configuration: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	res, err := o.Sup.Run(ctx, supervisor.Command{Name: "sentinel-config-check", Path: o.SentinelPath,
		Args: []string{conf}, Dir: dir, StopGrace: 5 * time.Second, CaptureLimit: 16 << 10})
	if ctx.Err() != nil {
		return fmt.Errorf("check the sentinel configuration: the throwaway sentinel did not exit: %w", ctx.Err())
	}
	if bytes.Contains(res.Output, []byte(notListening)) {
		return nil
	}
	return fmt.Errorf("%w: %s with SENTINEL_CONFIG_EXTRA: %s (%v)", ErrUserConfig, filepath.Base(o.SentinelPath), serverMessage(res.Output), err)
}

// logPrefix is the start of a redis log line: "27428:M 28 Nov 2026 08:58:40.245 # ".
var logPrefix = regexp.MustCompile(`^[0-9]+:[A-Z] [0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+ [.*#-] `)

// serverMessage picks the server's own complaint out of its output: the
// lines of a "FATAL CONFIG FILE ERROR" report (Redis 7, Valkey), or of
// Redis 8's "Unresolved Configuration(s) Detected" (it takes an unknown
// directive for a module's until it has started), or its last two lines;
// without their log prefix.
func serverMessage(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fatal := false
	for i, l := range lines {
		if strings.Contains(l, "FATAL CONFIG FILE ERROR") || strings.Contains(l, "Unresolved Configuration") {
			lines, fatal = lines[i:], true
			break
		}
	}
	if !fatal && len(lines) > 2 {
		lines = lines[len(lines)-2:]
	}
	if len(lines) > 6 {
		lines = lines[:6]
	}
	for i := range lines {
		lines[i] = logPrefix.ReplaceAllString(strings.TrimSpace(lines[i]), "")
	}
	return strings.Join(lines, " | ")
}

// waitPong reports whether a server answers PING on the unix socket sock
// before ctx ends: it then runs its event loop, past loading its
// configuration and modules.
func waitPong(ctx context.Context, sock string) bool {
	for {
		if pong(ctx, sock) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func pong(ctx context.Context, sock string) bool {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := io.ReadFull(conn, buf)
	return string(buf[:n]) == "+PONG\r\n"
}

// userMark starts the user's lines in sentinel.conf; it also names the
// directives they set (a comment survives Sentinel's rewrites), so that
// the next start can drop those the user has since removed.
const userMark = "# SENTINEL_CONFIG_EXTRA"

// appendUserLines puts the user's lines (SENTINEL_CONFIG_EXTRA) last in
// the sentinel.conf at path, kept with Sentinel's learned state, once:
// every line setting a directive the user sets now or set at the previous
// start is dropped first. Lines are matched by directive, not by text:
// Sentinel rewrites them in its own form (`loglevel  VERBOSE` becomes
// `loglevel verbose`, paths get quoted), and a line matched by text was
// appended again on every start (and a changed or removed one stayed).
func appendUserLines(path string, lines []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if len(lines) == 0 && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("add SENTINEL_CONFIG_EXTRA to %s: %w", path, err)
	}
	old := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	drop, keys := map[string]bool{}, []string{}
	for _, l := range lines {
		if k := directiveKey(l); k != "" && !drop[k] {
			drop[k] = true
			keys = append(keys, k)
		}
	}
	marked := false
	for _, l := range old {
		if prev, ok := strings.CutPrefix(strings.TrimSpace(l), userMark); ok {
			marked = true
			for _, k := range strings.Split(strings.TrimPrefix(prev, ":"), ",") {
				if k = strings.TrimSpace(k); k != "" {
					drop[k] = true
				}
			}
		}
	}
	if len(lines) == 0 && !marked {
		return nil // nothing of the user's, then or now
	}
	var keep []string
	for _, l := range old {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, userMark) && (strings.HasPrefix(t, "#") || !drop[directiveKey(t)]) {
			keep = append(keep, l)
		}
	}
	out := strings.Join(keep, "\n") + "\n"
	if len(lines) > 0 {
		out += fmt.Sprintf("%s: %s\n%s\n", userMark, strings.Join(keys, ", "), strings.Join(lines, "\n"))
	}
	return etc.WriteFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, out)
		return err
	})
}

// directiveKey is what a sentinel.conf line sets: its directive in lower
// case, with Sentinel's sub-directive ("sentinel notification-script") or
// the ACL user's name ("user alice"); "" for a blank or unreadable line.
func directiveKey(line string) string {
	args, err := etc.SplitArgs(strings.TrimSpace(line))
	if err != nil || len(args) == 0 {
		return ""
	}
	k := strings.ToLower(args[0])
	switch {
	case k == "sentinel" && len(args) > 1:
		k += " " + strings.ToLower(args[1])
	case k == "user" && len(args) > 1:
		k += " " + args[1]
	}
	return k
}
