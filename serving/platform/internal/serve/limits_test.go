package serve

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"
)

// listen serves ingress (with limits) and admin (defaults) on loopback until the
// test ends.
func listen(t *testing.T, limits Limits) (ingress, admin string) {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	var addrs []string
	var ls []Listener
	for _, lim := range []Limits{limits, {}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		ls = append(ls, Listener{Handler: ok, Listener: ln, Limits: lim})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	Go(ctx, &g, 5*time.Second, ls...)
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
	return addrs[0], addrs[1]
}

// roundTrip sends req on a new connection and returns the status line (or the error).
func roundTrip(addr, req string) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return "write: " + err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "read: " + err.Error()
	}
	resp.Body.Close()
	return resp.Status
}

func get(extra string) string {
	return "GET / HTTP/1.1\r\nHost: x\r\n" + extra + "Connection: close\r\n\r\n"
}

// Issue 17: Go's default of 1 MB of headers per request let 1,000 held requests take
// 1.47 GB. Over the limit (64 KiB by default) a request gets 431.
func TestMaxHeaderBytes(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the servers stopped
	for _, tc := range []struct {
		name   string
		limits Limits
		header int
		want   string
	}{
		{"default, small header", Limits{}, 1 << 10, "200 OK"},
		{"default, 100 KiB header", Limits{}, 100 << 10, "431 Request Header Fields Too Large"},
		{"1 KiB limit, 8 KiB header", Limits{MaxHeaderBytes: 1 << 10}, 8 << 10, "431 Request Header Fields Too Large"},
		{"1 MiB limit, 100 KiB header", Limits{MaxHeaderBytes: 1 << 20}, 100 << 10, "200 OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := listen(t, tc.limits)
			if got := roundTrip(addr, get("X-Big: "+strings.Repeat("a", tc.header)+"\r\n")); got != tc.want {
				t.Errorf("GET with a %d-byte header = %s, want %s", tc.header, got, tc.want)
			}
		})
	}
}

// Issue 17: 20,000 idle connections exhausted the file descriptors, after which
// pods could not start and the admin listener stopped answering. With the cap at N,
// N idle connections held open make the next one get a 503 at once; the admin
// listener keeps answering; once they close, requests succeed again.
func TestMaxConns(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the servers stopped
	const n = 8
	addr, admin := listen(t, Limits{MaxConns: n})
	var held []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Held connections are served: each answers a request and stays open.
	for i, c := range held {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("held connection %d: %v", i, err)
		}
		resp.Body.Close()
	}
	start := time.Now()
	// Read the answer before sending anything: the 503 comes at once, unasked.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	c.Close()
	if err != nil {
		t.Fatalf("connection over the cap: %v, want a 503", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || time.Since(start) > 2*time.Second {
		t.Errorf("connection over the cap: %s after %v, want 503 at once", resp.Status, time.Since(start))
	}
	if got := roundTrip(admin, get("")); got != "200 OK" {
		t.Errorf("admin while the ingress is saturated: %s, want 200 OK", got)
	}
	for _, c := range held {
		c.Close()
	}
	// The slots free as the server notices the closes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := roundTrip(addr, get(""))
		if got == "200 OK" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the held connections closed: %s, want 200 OK", got)
		}
		time.Sleep(time.Millisecond)
	}
}
