package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/backup/store/dir"
	"github.com/autopilotpattern/redis-autopilot/redisnode"
	"github.com/autopilotpattern/redis-autopilot/test/harness"
)

// waitNextSecond waits until the wall clock is past the second now.
func waitNextSecond(t *testing.T) int64 {
	t.Helper()
	start := time.Now().Unix()
	harness.Eventually(t, 2*time.Second, func() error {
		if time.Now().Unix() == start {
			return errors.New("same second")
		}
		return nil
	})
	return time.Now().Unix()
}

// `backup list` shows a chain's window and `backup restore --to` restores
// to a second, to latest, and refuses a time outside the window; without
// Consul (CONSUL_HTTP_ADDR points nowhere).
func TestBackupRestoreToTime(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{Extra: []string{"appendonly yes", "appendfsync always"}})
	storeDir := t.TempDir()
	st, err := dir.New(dir.Options{Dir: storeDir})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := pitr.NewChainStore(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc := redisnode.Dial(r.Addr, "")
	defer rc.Close()
	sh, err := pitr.NewShipper(pitr.ShipperOptions{Node: pitr.RedisNode{C: rc}, DataDir: r.Dir, Store: cs, Holder: r.Addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := sh.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	first := waitNextSecond(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Client.Set(ctx, "a", "1", 0).Err())
	second := waitNextSecond(t)
	must(r.Client.Set(ctx, "b", "1", 0).Err())
	harness.Eventually(t, 10*time.Second, func() error {
		if _, err := sh.Tick(ctx); err != nil {
			return err
		}
		if st, _ := sh.Status(); st.LastTS < second || st.BytesBehind != 0 {
			return fmt.Errorf("shipped %+v", st)
		}
		return nil
	})
	e := env{"REDIS_PORT": strconv.Itoa(harness.FreePort(t)), "BACKUP_DIR": storeDir,
		"CONSUL_HTTP_ADDR": "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))}
	step := func(wantCode int, wantOut string, args ...string) {
		t.Helper()
		code, out, errOut := runCmd(t, e, args...)
		if code != wantCode || !strings.Contains(out+errOut, wantOut) {
			t.Fatalf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", args, code, wantCode, wantOut, out, errOut)
		}
	}
	chain, _ := sh.Status()
	step(exitOK, "POINT-IN-TIME CHAIN", "backup", "list")
	step(exitOK, chain.Chain, "backup", "list")
	_, js, _ := runCmd(t, e, "backup", "list", "--json")
	var listed listOutput
	if err := json.Unmarshal([]byte(js), &listed); err != nil {
		t.Fatalf("list --json: %v\n%s", err, js)
	}
	if len(listed.Chains) != 1 || listed.Chains[0].Chain != chain.Chain || listed.Chains[0].To.Unix() != second ||
		listed.Chains[0].From.Unix() >= first || listed.Chains[0].Status != "open" || listed.Chains[0].Encryption != "" {
		t.Fatalf("list --json chains %+v, want %s open from before %d to %d", listed.Chains, chain.Chain, first, second)
	}
	at := func(ts int64) string { return time.Unix(ts, 0).UTC().Format(time.RFC3339) }
	for _, tc := range []struct {
		to   string
		ts   int64 // the parent second recorded
		keys []string
	}{{at(first), first, []string{"a"}}, {"latest", second, []string{"a", "b"}}} {
		e["REDIS_DATA_DIR"] = harness.TempDir(t, "cmdpitr")
		step(exitOK, "restored chain "+chain.Chain, "backup", "restore", "--to", tc.to)
		if ref, found, err := pitr.ReadParentFile(e["REDIS_DATA_DIR"]); err != nil || !found || ref.Chain != chain.Chain || ref.TS != tc.ts {
			t.Fatalf("--to %s left parent %+v (%v, %v), want %s at %d", tc.to, ref, found, err, chain.Chain, tc.ts)
		}
		got := harness.StartRedis(t, harness.RedisOptions{Dir: e["REDIS_DATA_DIR"], Extra: []string{"appendonly yes"}})
		keys, err := got.Client.Keys(ctx, "*").Result()
		slices.Sort(keys)
		if err != nil || !slices.Equal(keys, tc.keys) {
			t.Fatalf("--to %s: keys %v, %v; want %v", tc.to, keys, err, tc.keys)
		}
	}
	e["REDIS_DATA_DIR"] = harness.TempDir(t, "cmdpitr")
	step(exitFailure, "time outside the recoverable window: 1999-01-01T00:00:00Z is not in", "backup", "restore", "--to", "1999-01-01T00:00:00Z")
	step(exitUsage, "RFC 3339", "backup", "restore", "--to", "yesterday")
}

// The status line of point-in-time shipping names the chain, node, newest
// second shipped, bytes behind and the store's error.
func TestPITRLine(t *testing.T) {
	st := &pitr.Status{Chain: "20261128T114943Z-7ccd3674", Node: "10.0.0.2:6379", LastTS: 1795866585, BytesBehind: 42,
		StoreError: "injected", Updated: time.Unix(1795866590, 0).UTC()}
	got := pitrLine(st, "")
	for _, want := range []string{st.Chain, st.Node, "2026-11-28T11:49:45Z", "42 bytes behind", "as of 2026-11-28T11:49:50Z", "the store fails: injected"} {
		if !strings.Contains(got, want) {
			t.Errorf("pitrLine = %q, want %q in it", got, want)
		}
	}
	if got := pitrLine(nil, ""); !strings.Contains(got, "no node") {
		t.Errorf("pitrLine(nil) = %q", got)
	}
	if got := pitrLine(nil, "consul down"); got != "error: consul down" {
		t.Errorf("pitrLine(error) = %q", got)
	}
}
