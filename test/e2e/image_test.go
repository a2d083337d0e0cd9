//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	// baseImage is the Debian base both Dockerfile stages are built from.
	baseImage = "localhost/debian:trixie"
	// testImage is the image under test.
	testImage = "localhost/redis-autopilot:e2e"
	// builderImage names the Dockerfile's builder stage, so that its
	// cached layers are kept and the previous build's can be removed.
	builderImage = "localhost/redis-autopilot:e2e-builder"
	// hostCAs holds the extra CA certificates this host trusts. They are
	// copied into the local base image so that HTTPS from the builder (the
	// Go module proxy) works behind the same TLS-intercepting proxy as the
	// host. Only this test's base image gets them, never the Dockerfile.
	hostCAs = "/usr/local/share/ca-certificates"
	// cachedMinbase is make matrix's debootstrap of trixie (test/matrix/run.sh).
	cachedMinbase = "/var/cache/redis-autopilot/trixie-minbase"
)

// ensureBaseImage makes localhost/debian:trixie unless it exists: from make
// matrix's cached debootstrap when there is one, else with debootstrap (no
// image registry is reachable here).
func ensureBaseImage(t *testing.T, p podman) {
	t.Helper()
	if _, err := p.run("image", "exists", baseImage); err == nil {
		t.Logf("base image %s exists; not rebuilding (podman rmi it to rebuild)", baseImage)
		return
	}
	dir, err := os.MkdirTemp("/var/tmp", "e2e-rootfs-")
	if err != nil {
		t.Fatalf("make rootfs dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	root := filepath.Join(dir, "trixie")
	if _, err := os.Stat(filepath.Join(cachedMinbase, ".complete")); err == nil {
		t.Logf("base image from make matrix's %s", cachedMinbase)
		if out, err := exec.Command("cp", "-a", cachedMinbase, root).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v\n%s", cachedMinbase, err, out)
		}
		os.Remove(filepath.Join(root, ".complete"))
	} else {
		out, err := exec.Command("debootstrap", "--variant=minbase", "trixie", root, "http://deb.debian.org/debian").CombinedOutput()
		if err != nil {
			t.Fatalf("debootstrap trixie: %v\n%s", err, lastLines(string(out), 20))
		}
	}
	// Trim what debian:trixie-slim does not ship either: package lists
	// and downloaded .debs (about 80 MB).
	for _, glob := range []string{"var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb"} {
		matches, _ := filepath.Glob(filepath.Join(root, glob))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				t.Fatalf("trim rootfs: %v", err)
			}
		}
	}
	copyHostCAs(t, root)
	importRootfs(t, root)
}

// copyHostCAs puts the host's extra CA certificates where the
// ca-certificates package picks them up when a stage installs it.
func copyHostCAs(t *testing.T, root string) {
	t.Helper()
	certs, _ := filepath.Glob(filepath.Join(hostCAs, "*.crt"))
	if len(certs) == 0 {
		return
	}
	dst := filepath.Join(root, hostCAs)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatalf("copy host CAs: %v", err)
	}
	for _, c := range certs {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatalf("copy host CAs: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(c)), b, 0o644); err != nil {
			t.Fatalf("copy host CAs: %v", err)
		}
	}
	t.Logf("copied %d host CA certificate(s) from %s into the base image", len(certs), hostCAs)
}

// importRootfs runs `tar -C root -c . | podman import - baseImage`.
func importRootfs(t *testing.T, root string) {
	t.Helper()
	tar := exec.Command("tar", "-C", root, "-c", ".")
	imp := exec.Command("podman", "import", "-q", "-", baseImage)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatalf("import base image: %v", err)
	}
	imp.Stdin = pipe
	if err := tar.Start(); err != nil {
		t.Fatalf("import base image: tar: %v", err)
	}
	out, impErr := imp.CombinedOutput()
	tarErr := tar.Wait()
	if impErr != nil || tarErr != nil {
		t.Fatalf("import base image: podman import: %v, tar: %v\n%s", impErr, tarErr, out)
	}
}

// buildImage builds the repository's Dockerfile on the local base. Docker
// format keeps HEALTHCHECK (the OCI format drops it). Layers are cached by
// podman, so a rebuild after a source change only recompiles redis-autopilot.
//
// Each source change leaves the previous build's images behind (the image
// under test and the builder stage's last layers, about 150 MB); on a
// machine that runs this test again and again they fill the disk until
// podman fails committing a layer ("io: read/write on closed pipe"). So the
// builder stage is tagged too, and once the new images exist the ones the
// tags named before are removed (podman rmi also removes their parents
// that no other image uses; the cached layers they share stay).
func buildImage(t *testing.T, p podman, repo string) {
	t.Helper()
	imageID := func(tag string) (string, error) { return p.run("image", "inspect", "--format", "{{.Id}}", tag) }
	before := map[string]string{}
	for _, tag := range []string{testImage, builderImage} {
		if id, err := imageID(tag); err == nil {
			before[tag] = id
		}
	}
	args := append([]string{"build", "--format", "docker"}, ulimits...)
	args = append(args,
		"--build-arg", "BASE="+baseImage,
		"--build-arg", "GO_BASE="+baseImage,
		"--build-arg", "VERSION=e2e")
	if _, err := p.run(append(args, "-t", testImage, repo)...); err != nil {
		t.Fatalf("build the image: %v", err)
	}
	// Every layer is cached by now: this only names the builder stage.
	if _, err := p.run(append(args, "--target", "builder", "-t", builderImage, repo)...); err != nil {
		t.Fatalf("tag the builder stage: %v", err)
	}
	for tag, old := range before {
		id, err := imageID(tag)
		if err != nil {
			t.Fatalf("inspect %s after the build: %v", tag, err)
		}
		if id == old {
			continue
		}
		if _, err := p.run("rmi", old); err != nil {
			t.Logf("the previous %s (%.12s) stays: %v", tag, old, err)
			continue
		}
		t.Logf("removed the previous %s (%.12s) and its unshared layers", tag, old)
	}
}

// checkImage asserts the image's contract: entrypoint, healthcheck, ports,
// volume, the binaries it must and must not ship.
func checkImage(t *testing.T, p podman) {
	t.Helper()
	inspect := map[string]string{
		"{{json .Config.Entrypoint}}":                 `["/usr/local/bin/redis-autopilot"]`,
		"{{json .Config.Healthcheck.Test}}":           `["CMD","/usr/local/bin/redis-autopilot","health"]`,
		"{{json .Config.Volumes}}":                    `{"/data":{}}`,
		"{{len .Config.ExposedPorts}}":                "3",
		"{{index .Config.ExposedPorts \"8008/tcp\"}}": "{}",
	}
	for format, want := range inspect {
		if got := p.must("image", "inspect", "--format", format, testImage); got != want {
			t.Errorf("image %s: got %s, want %s", format, got, want)
		}
	}
	script := `set -e
for b in redis-server redis-sentinel redis-cli redis-check-rdb redis-check-aof consul redis-autopilot; do command -v $b >/dev/null || { echo "missing $b"; exit 1; }; done
for b in jq curl consul-template; do if command -v $b >/dev/null; then echo "unwanted $b"; exit 1; fi; done
if [ -n "$(ls /var/lib/apt/lists)" ]; then echo "apt lists left"; exit 1; fi
consul version | head -1; redis-server --version; redis-autopilot version`
	out, err := p.run(append(append([]string{"run", "--rm", "--entrypoint", "/bin/sh"}, ulimits...), testImage, "-c", script)...)
	if err != nil {
		t.Fatalf("image contents: %v\n%s", err, out)
	}
	t.Logf("image contents: %s", out)
	for _, want := range []string{"Consul v1.13.9", "Redis server v=8."} { // the default image: Debian 13's Redis 8
		if !strings.Contains(out, want) {
			t.Errorf("image ships %q, want %s", out, want)
		}
	}
	size := p.must("image", "inspect", "--format", "{{.Size}}", testImage)
	t.Logf("image %s size: %s bytes", testImage, size)
}
