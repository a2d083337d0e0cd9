package harness

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// S3 is a real S3 server a test started: versitygw (tools/versitygw,
// installed by make deps) on a free loopback port with a POSIX backend in a
// temporary directory, whose top-level directories are buckets.
type S3 struct {
	*Process
	// Endpoint is the server's URL, "http://127.0.0.1:port".
	Endpoint string
	// Root is the POSIX backend's directory.
	Root string
	// AccessKey and SecretKey are the root account's, fresh and random
	// for each server.
	AccessKey, SecretKey string
	// Region is the region the server signs for.
	Region string
}

// StartS3 starts versitygw with the given buckets and waits until it
// answers. Its keys reach it through its environment, never argv.
func StartS3(t testing.TB, buckets ...string) *S3 {
	t.Helper()
	bin := NeedBinary(t, "versitygw")
	dir := TempDir(t, "versitygw-")
	s := &S3{Root: filepath.Join(dir, "root"), AccessKey: "AK" + randomHex(t, 9), SecretKey: randomHex(t, 20), Region: "us-east-1"}
	for _, d := range []string{s.Root, filepath.Join(dir, "meta")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range buckets {
		s.AddBucket(t, b)
	}
	port := FreePort(t)
	s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.Process = StartProcess(t, ProcessOptions{
		Name: "versitygw", LogPath: filepath.Join(dir, "versitygw.log"), Path: bin,
		Args: []string{"--port", fmt.Sprintf("127.0.0.1:%d", port), "--region", s.Region, "--quiet",
			"posix", "--sidecar", filepath.Join(dir, "meta"), s.Root},
		Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"ROOT_ACCESS_KEY_ID=" + s.AccessKey, "ROOT_SECRET_ACCESS_KEY=" + s.SecretKey},
	})
	err := Wait(30*time.Second, func() error {
		if s.Exited() {
			return errors.New("versitygw exited")
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		t.Fatalf("versitygw did not come up: %v\n%s", err, s.Tail(30))
	}
	return s
}

// AddBucket creates a bucket (a top-level directory of the backend).
func (s *S3) AddBucket(t testing.TB, name string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(s.Root, name), 0o700); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
