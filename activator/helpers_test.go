package activator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servekit/servekit/queue"
)

// testPod is a pod on loopback: it answers the activator's probe and counts requests.
type testPod struct {
	srv  *httptest.Server
	addr string

	probeOK  atomic.Bool
	probes   atomic.Int64
	hits     atomic.Int64
	cur, max atomic.Int64
	started  chan string   // request IDs as they arrive (buffered)
	block    chan struct{} // when non-nil, requests wait for it to close

	mu      sync.Mutex // guards ids, headers
	ids     map[string]int
	headers []http.Header
}

func newPod(t *testing.T, block chan struct{}) *testPod {
	t.Helper()
	p := &testPod{started: make(chan string, 1000), block: block, ids: make(map[string]int)}
	p.probeOK.Store(true)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
			p.probes.Add(1)
			if !p.probeOK.Load() {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, queue.ProbeHeaderValue)
			return
		}
		p.hits.Add(1)
		n := p.cur.Add(1)
		defer p.cur.Add(-1)
		for {
			m := p.max.Load()
			if n <= m || p.max.CompareAndSwap(m, n) {
				break
			}
		}
		id := r.Header.Get("X-Id")
		p.mu.Lock()
		p.ids[id]++
		p.headers = append(p.headers, r.Header.Clone())
		p.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		p.started <- id
		if p.block != nil {
			<-p.block
		}
		fmt.Fprintf(w, "%s %s", p.addr, body)
	}))
	p.addr = strings.TrimPrefix(p.srv.URL, "http://")
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testPod) idCounts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.ids))
	for k, v := range p.ids {
		out[k] = v
	}
	return out
}

var testKey = RevisionKey{Namespace: "default", Name: "hello-00001"}

// headerResolver reads the revision from X-Revision: ns/name (tests only).
var headerResolver = ResolverFunc(func(r *http.Request) (RevisionKey, error) {
	ns, name, ok := strings.Cut(r.Header.Get("X-Revision"), "/")
	if !ok {
		return RevisionKey{}, fmt.Errorf("no X-Revision header")
	}
	return RevisionKey{Namespace: ns, Name: name}, nil
})

// testActivator is a running Throttler behind a Handler served on loopback.
type testActivator struct {
	t      *Throttler
	srv    *httptest.Server
	client *http.Client
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startActivator(t *testing.T, o Options, revs map[RevisionKey]Revision) *testActivator {
	t.Helper()
	logs := &syncBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	th := NewThrottler(o)
	for k, r := range revs {
		if err := th.SetRevision(k, r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- th.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	h, err := NewHandler(HandlerOptions{Throttler: th, Resolver: headerResolver, PeerToken: "s3cret", Logger: o.Logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return &testActivator{t: th, srv: srv, client: &http.Client{Transport: tr}, logs: logs}
}

type result struct {
	code int
	body string
}

func (a *testActivator) do(t *testing.T, key RevisionKey, id string, hdr http.Header) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/path", strings.NewReader("body-"+id))
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("X-Revision", key.String())
	req.Header.Set("X-Id", id)
	resp, err := a.client.Do(req)
	if err != nil {
		return result{code: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{code: resp.StatusCode, body: string(b)}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
