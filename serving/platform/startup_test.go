package platform

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servekit/servekit/serving/controller"
)

// startupClient asks the platform's listeners, with a timeout: a listener that
// does not answer fails the test instead of hanging it.
type startupClient struct {
	t *testing.T
	c *http.Client
}

func newStartupClient(t *testing.T) startupClient {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(c.CloseIdleConnections)
	return startupClient{t: t, c: c}
}

// get returns the status code and body of GET url with Host host ("" for the URL's).
func (s startupClient) get(url, host string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// status returns the platform's /status.
func (s startupClient) status(p *Platform) controller.Status {
	s.t.Helper()
	_, body := s.get("http://"+p.AdminAddr().String()+"/status", "")
	var st controller.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		s.t.Fatalf("/status: %v: %s", err, body)
	}
	return st
}

// waitStatus polls /status until cond holds, failing the test after d.
func (s startupClient) waitStatus(p *Platform, what string, d time.Duration, cond func(controller.Status) bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for st := s.status(p); !cond(st); st = s.status(p) {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out after %v waiting for %s; last /status: %+v", d, what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasError reports whether st lists a rejected source named file containing msg.
func hasError(st controller.Status, file, msg string) bool {
	for _, e := range st.Errors {
		if filepath.Base(e.Source) == file && strings.Contains(e.Error, msg) {
			return true
		}
	}
	return false
}

// runPlatform runs p until the returned stop is called; stop fails the test if Run
// does not return within 30 s, or returns an error.
func runPlatform(t *testing.T, p *Platform) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30s of cancel")
		}
	}
}

// The first scan of the manifests never delays serving: while it is stuck, the
// admin and ingress listeners answer; once it ends, the manifests present at
// start-up are applied (issue 17, case 3).
func TestFirstScanDoesNotDelayServing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: [Service\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Manifests: dir, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	scan := p.firstScan
	p.firstScan = func() { <-release; scan() } // a scan stuck in a slow file system
	stop := runPlatform(t, p)
	defer stop()
	defer close(release)

	c := newStartupClient(t)
	if code, body := c.get("http://"+p.AdminAddr().String()+"/healthz", ""); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz during the first scan = %d %q, want 200 ok", code, body)
	}
	if code, _ := c.get("http://"+p.IngressAddr().String()+"/", "nope.default.example.com"); code != http.StatusNotFound {
		t.Errorf("ingress during the first scan = %d, want 404", code)
	}
	release <- struct{}{}
	c.waitStatus(p, "broken.yaml rejected", 10*time.Second, func(st controller.Status) bool { return hasError(st, "broken.yaml", "malformed YAML") })
}
