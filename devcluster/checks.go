package devcluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Binaries are the programs a dev cluster runs, with the command that
// installs each on a Debian machine.
var Binaries = []struct{ Name, Install string }{
	{"consul", "make deps (builds consul v1.13.9 into /usr/local/bin), or install HashiCorp's consul package"},
	{"redis-server", "apt-get install -y redis-server"},
	{"redis-sentinel", "apt-get install -y redis-sentinel"},
}

// MissingError names the programs that are not on PATH.
type MissingError struct {
	Missing []string // names, in the order of Binaries
}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s not on PATH; install:", strings.Join(e.Missing, ", "))
	for _, m := range e.Missing {
		for _, bin := range Binaries {
			if bin.Name == m {
				fmt.Fprintf(&b, "\n  %-15s %s", m, bin.Install)
			}
		}
	}
	return b.String()
}

// FindBinaries looks every program of Binaries up with lookPath
// (exec.LookPath) and returns their paths by name, or a *MissingError
// naming each one missing.
func FindBinaries(lookPath func(string) (string, error)) (map[string]string, error) {
	paths := map[string]string{}
	var missing []string
	for _, b := range Binaries {
		p, err := lookPath(b.Name)
		if err != nil {
			missing = append(missing, b.Name)
			continue
		}
		paths[b.Name] = p
	}
	if len(missing) > 0 {
		return nil, &MissingError{Missing: missing}
	}
	return paths, nil
}

// PortsInUseError names the ports something already listens on.
type PortsInUseError struct {
	InUse []Port
}

func (e *PortsInUseError) Error() string {
	var names []string
	for _, p := range e.InUse {
		names = append(names, fmt.Sprintf("%d (%s)", p.Port, p.What))
	}
	return fmt.Sprintf("ports in use on 127.0.0.1: %s; another dev cluster or Consul may be running: "+
		"stop it, or shift every port with --port-offset N (e.g. --port-offset 1000)", strings.Join(names, ", "))
}

// CheckPorts returns a *PortsInUseError when any port of the layout cannot
// be listened on at 127.0.0.1 now.
func CheckPorts(l Layout) error {
	var inUse []Port
	for _, p := range l.Ports() {
		if !free(p) {
			inUse = append(inUse, p)
		}
	}
	if len(inUse) > 0 {
		return &PortsInUseError{InUse: inUse}
	}
	return nil
}

func free(p Port) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	if p.UDP {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		pc.Close()
	}
	return true
}
