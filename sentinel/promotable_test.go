package sentinel

import (
	"errors"
	"slices"
	"testing"
)

func replica(addr string, fields ...string) Instance {
	m := map[string]string{"flags": "slave", "last-ok-ping-reply": "300", "master-link-status": "ok"}
	for i := 0; i+1 < len(fields); i += 2 {
		m[fields[i]] = fields[i+1]
	}
	ip, port := addr[:len(addr)-5], addr[len(addr)-4:]
	m["ip"], m["port"] = ip, port
	return newInstance(m)
}

func TestPromotable(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Instance
		want bool
	}{
		{"connected, link up", replica("10.0.0.1:6379"), true},
		{"s_down", replica("10.0.0.1:6379", "flags", "s_down,slave"), false},
		{"disconnected (not connected yet)", replica("10.0.0.1:6379", "flags", "slave,disconnected"), false},
		{"link down as last read, or INFO not read yet", replica("10.0.0.1:6379", "master-link-status", "err"), false},
		{"no PING reply for 6 s", replica("10.0.0.1:6379", "last-ok-ping-reply", "6000"), false},
		{"no PING reply field", replica("10.0.0.1:6379", "last-ok-ping-reply", ""), false},
	} {
		if got := tc.in.Promotable(); got != tc.want {
			t.Errorf("%s: Promotable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPromotableBy(t *testing.T) {
	const m, r = "10.0.0.2:6379", "10.0.0.1:6379"
	v := View{Master: m, Answers: []Answer{
		{Sentinel: "s1", Master: m, Entry: m, Replicas: []Instance{replica(r)}},
		{Sentinel: "s2", Master: m, Entry: m, Replicas: []Instance{replica("10.0.0.3:6379")}},
		{Sentinel: "s3", Master: m, Entry: m, Replicas: []Instance{replica(r, "master-link-status", "err")}},
		{Sentinel: "s4", Master: "10.0.0.9:6379", Entry: "10.0.0.9:6379", Replicas: []Instance{replica(r)}},
		{Sentinel: "s5", Master: m, Entry: "10.0.0.8:6379", Replicas: []Instance{replica(r)}},
		{Sentinel: "s6", Err: errors.New("refused")},
		{Sentinel: "s7", Master: m, Entry: m, Replicas: []Instance{replica("10.0.0.3:6379"), replica(r)}},
	}}
	if got := v.PromotableBy(r); !slices.Equal(got, []string{"s1", "s7"}) {
		t.Errorf("PromotableBy = %v, want [s1 s7]", got)
	}
	v.Master = ""
	if got := v.PromotableBy(r); len(got) != 0 {
		t.Errorf("no majority: PromotableBy = %v, want none", got)
	}
}
