package cluster

import (
	"net"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

func TestNewErrors(t *testing.T) {
	rc := &rest.Config{Host: "https://127.0.0.1:6443"}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no REST", Options{QueueImage: "q"}, "Options.REST: required"},
		{"no queue image", Options{REST: rc}, "Options.QueueImage: required"},
		{"peers without pod IP", Options{REST: rc, QueueImage: "q", PeersService: "p", PeerTokenSecret: "s"}, "Options.PodIP: required with PeersService"},
		{"peers without token", Options{REST: rc, QueueImage: "q", PeersService: "p", PodIP: "10.0.0.1"}, "Options.PeerTokenSecret: required with PeersService"},
		{"bad listen", Options{REST: rc, QueueImage: "q", Identity: "r", Listen: "nope"}, "Options.Listen"},
		{"admin in use", Options{REST: rc, QueueImage: "q", Identity: "r", Listen: "127.0.0.1:0", Admin: busy.Addr().String()}, "Options.Admin"},
		{"certificates without HTTPS", Options{REST: rc, QueueImage: "q", Identity: "r", TLSDir: t.TempDir()},
			"Options.TLSCertFile, TLSKeyFile, TLSDir: certificates given without an HTTPS listener"},
		{"a certificate that does not load", Options{REST: rc, QueueImage: "q", Identity: "r", TLSListen: "127.0.0.1:0",
			TLSCertFile: "/nonexistent/tls.crt", TLSKeyFile: "/nonexistent/tls.key"}, "/nonexistent/tls.crt"},
		{"HTTPS in use", Options{REST: rc, QueueImage: "q", Identity: "r", Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
			TLSListen: busy.Addr().String()}, "Options.TLSListen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// New raises client-go's default rate limit, and keeps one that is set.
func TestNewRateLimit(t *testing.T) {
	for _, tc := range []struct {
		qps   float32
		burst int
		want  float32
	}{{0, 0, 50}, {7, 10, 7}} {
		ln1, _ := net.Listen("tcp", "127.0.0.1:0")
		ln2, _ := net.Listen("tcp", "127.0.0.1:0")
		c, err := New(Options{REST: &rest.Config{Host: "https://127.0.0.1:6443", QPS: tc.qps, Burst: tc.burst}, QueueImage: "q", Identity: "r", Ingress: ln1, AdminListener: ln2})
		if err != nil {
			t.Fatal(err)
		}
		if c.IngressAddr() != ln1.Addr() || c.AdminAddr() != ln2.Addr() {
			t.Error("the given listeners are not used")
		}
		ln1.Close()
		ln2.Close()
		if got := c.cs.CoreV1().RESTClient().GetRateLimiter().QPS(); got != tc.want {
			t.Errorf("QPS %v: the client's rate is %v, want %v", tc.qps, got, tc.want)
		}
	}
}

// In cluster mode HTTPS needs no certificate files: the DomainMappings' Secrets
// may be the only certificates.
func TestNewHTTPSWithoutFiles(t *testing.T) {
	c, err := New(Options{REST: &rest.Config{Host: "https://127.0.0.1:6443"}, QueueImage: "q", Identity: "r",
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", TLSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.closeListeners()
	if c.HTTPSAddr() == nil || c.certs == nil || c.secrets == nil || c.secrets.interval != DefaultSecretInterval {
		t.Errorf("HTTPS without files: address %v, certificates %v, secrets %v", c.HTTPSAddr(), c.certs, c.secrets)
	}
}
