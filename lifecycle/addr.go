package lifecycle

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DetectAddr returns the local address of the interface that routes to the
// first of targets ("host" or "host:port") that is not loopback: the address
// other nodes reach this one at. With no such target it returns the first
// non-loopback IPv4 address of an interface that is up. No packet is sent:
// a UDP "connection" only asks the kernel for the route.
func DetectAddr(targets []string) (string, error) {
	for _, t := range targets {
		host := t
		if h, _, err := net.SplitHostPort(t); err == nil {
			host = h
		}
		host = strings.TrimSpace(host)
		if host == "" {
			continue
		}
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 || ips[0].IsLoopback() {
			continue
		}
		c, err := net.Dial("udp", net.JoinHostPort(ips[0].String(), "8301"))
		if err != nil {
			continue
		}
		addr := c.LocalAddr().(*net.UDPAddr).IP.String()
		c.Close()
		return addr, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("detect the advertise address: %w", err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				return ipn.IP.String(), nil
			}
		}
	}
	return "", errors.New("detect the advertise address: no route to Consul and no non-loopback interface; set ADVERTISE_ADDR")
}

// LocalAddr is where this node reaches its own redis or sentinel on port:
// the bind address, or 127.0.0.1 when redis listens on every address.
func LocalAddr(bind string, port int) string {
	host := bind
	if ip := net.ParseIP(bind); bind == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// splitAddr splits an "ip:port" address into its host and port.
func splitAddr(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: port %q is not a number", addr, port)
	}
	return host, p, nil
}
