package activator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSetRevisionErrors(t *testing.T) {
	th := NewThrottler(Options{})
	tests := []struct {
		name    string
		key     RevisionKey
		rev     Revision
		wantErr string
	}{
		{"negative cc", testKey, Revision{ContainerConcurrency: -1}, "containerConcurrency must be >= 0, got -1"},
		{"negative timeout", testKey, Revision{Timeout: -time.Second}, "timeout must be >= 0, got -1s"},
		{"no name", RevisionKey{Namespace: "ns"}, Revision{}, "namespace and name must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := th.SetRevision(tt.key, tt.rev)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SetRevision: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("containerConcurrency is immutable, timeout is not", func(t *testing.T) {
		if err := th.SetRevision(testKey, Revision{ContainerConcurrency: 1}); err != nil {
			t.Fatal(err)
		}
		if err := th.SetRevision(testKey, Revision{ContainerConcurrency: 2}); err == nil || !strings.Contains(err.Error(), "cannot change from 1 to 2") {
			t.Errorf("changing cc: %v", err)
		}
		if err := th.SetRevision(testKey, Revision{ContainerConcurrency: 1, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		got, _ := th.Revision(testKey)
		if diff := cmp.Diff(Revision{ContainerConcurrency: 1, Timeout: time.Minute}, got); diff != "" {
			t.Errorf("Revision (-want +got):\n%s", diff)
		}
	})
	t.Run("endpoints for an unknown revision", func(t *testing.T) {
		if err := th.UpdateEndpoints(RevisionKey{"a", "b"}, nil); !errors.Is(err, ErrUnknownRevision) {
			t.Errorf("got %v, want ErrUnknownRevision", err)
		}
	})
	t.Run("UpdateActivators range", func(t *testing.T) {
		for _, c := range [][2]int{{2, 2}, {-2, 1}, {0, -1}} {
			if err := th.UpdateActivators(c[0], c[1]); err == nil {
				t.Errorf("UpdateActivators(%d, %d): no error", c[0], c[1])
			}
		}
	})
}

func TestBadEndpointsIgnored(t *testing.T) {
	a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	p := newPod(t, nil)
	err := a.t.UpdateEndpoints(testKey, []string{p.addr, p.addr, "garbage", "10.0.0.1", "10.0.0.1:0", "0.0.0.0:80", " " + p.addr})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod in use", func() bool { return len(*a.t.revs[testKey].assigned.Load()) == 1 })
	logs := a.logs.String()
	for _, want := range []string{
		`address=garbage reason="not ip:port"`,
		`address=10.0.0.1 reason="not ip:port"`,
		`address=10.0.0.1:0 reason="port 0"`,
		`address=0.0.0.0:80 reason="not a unicast address"`,
		`reason=duplicate`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if r := a.do(t, testKey, "1", nil); r.code != 200 {
		t.Errorf("request: %d %q", r.code, r.body)
	}
	if got := p.probes.Load(); got != 1 {
		t.Errorf("pod probed %d times, want 1 (duplicates merged)", got)
	}
}

func TestSubsetting(t *testing.T) {
	a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	pods := []*testPod{newPod(t, nil), newPod(t, nil), newPod(t, nil)}
	addrs := []string{pods[0].addr, pods[1].addr, pods[2].addr}
	if err := a.t.UpdateActivators(1, 3); err != nil {
		t.Fatal(err)
	}
	if err := a.t.UpdateEndpoints(testKey, addrs); err != nil {
		t.Fatal(err)
	}
	// All three healthy in the throttler, not only probed at the pods: with fewer
	// healthy pods the subset is, for a moment, whichever pod passed first.
	rev := a.t.revs[testKey]
	waitFor(t, "all three pods healthy", func() bool {
		rev.mu.Lock()
		defer rev.mu.Unlock()
		n := 0
		for _, p := range rev.pods {
			if p.healthy {
				n++
			}
		}
		return n == 3
	})
	sorted := append([]string(nil), addrs...)
	slicesSort(sorted)
	assigned := *rev.assigned.Load()
	if len(assigned) != 1 || assigned[0].Addr() != sorted[1] {
		t.Fatalf("activator 1 of 3 uses %v, want only the second address %s", assigned, sorted[1])
	}
	mine := assigned[0].Addr()
	if got := a.t.revs[testKey].breaker.Capacity(); got != 1 {
		t.Errorf("capacity %d, want 1 (cc 1 × 1 assigned pod)", got)
	}
	for i := range 5 {
		if r := a.do(t, testKey, fmt.Sprint(i), nil); r.code != 200 || !strings.HasPrefix(r.body, mine) {
			t.Errorf("request %d: %d %q, want 200 from %s", i, r.code, r.body, mine)
		}
	}
	if err := a.t.UpdateActivators(-1, 0); err != nil {
		t.Fatal(err)
	}
	if got := a.t.revs[testKey].breaker.Capacity(); got != 3 {
		t.Errorf("capacity %d after leaving subsetting, want 3", got)
	}
}

func slicesSort(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

func TestQueueWaitHook(t *testing.T) {
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	hooks := Hooks{QueueWait: func(_ RevisionKey, d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() }}
	a := startActivator(t, Options{Hooks: hooks}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	p := newPod(t, nil)
	if err := a.t.UpdateEndpoints(testKey, []string{p.addr}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := a.t.Try(context.Background(), testKey, func(string) error { return nil }); err != nil {
			t.Fatalf("Try %d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 3 {
		t.Errorf("QueueWait called %d times, want 3", len(waits))
	}
}

func TestFailoverBounded(t *testing.T) {
	a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 0}})
	p := newPod(t, nil)
	if err := a.t.UpdateEndpoints(testKey, []string{p.addr}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod in use", func() bool { return len(*a.t.revs[testKey].assigned.Load()) == 1 })
	calls := 0
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := a.t.Try(ctx, testKey, func(string) error { calls++; return fmt.Errorf("%w: refused", ErrPodUnreachable) })
	// The only pod is taken out of use after the first failure; the request then waits
	// for it to pass a probe again (it does), so it is offered MaxAttempts times.
	if !errors.Is(err, ErrPodUnreachable) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Try: %v", err)
	}
	if calls > MaxAttempts {
		t.Errorf("fn called %d times, at most %d allowed", calls, MaxAttempts)
	}
}

func TestServiceHost(t *testing.T) {
	tests := []struct {
		host    string
		want    RevisionKey
		wantErr bool
	}{
		{"hello-00001.default.svc.cluster.local", RevisionKey{"default", "hello-00001"}, false},
		{"hello-00001.default.svc.cluster.local:8080", RevisionKey{"default", "hello-00001"}, false},
		{"hello.default.example.com", RevisionKey{}, true},
		{"hello.default.svc", RevisionKey{}, true},
		{".default.svc.x", RevisionKey{}, true},
		{"", RevisionKey{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, err := ServiceHost(tt.host)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzServiceHost(f *testing.F) {
	for _, s := range []string{"a.b.svc.c", "a.b.svc.c:80", "x", "a..svc.c", "[::1]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		k, err := ServiceHost(host)
		if err != nil {
			return
		}
		// Round trip: the key's host form parses back to the same key.
		back, err := ServiceHost(k.Name + "." + k.Namespace + ".svc.cluster.local")
		if err != nil || back != k || strings.Contains(k.Name, ".") || strings.Contains(k.Namespace, ".") {
			t.Errorf("ServiceHost(%q) = %v; round trip %v, %v", host, k, back, err)
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1:80", "[::1]:8012", "garbage", "1.2.3.4:0", " 10.0.0.1:1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm, err := parseAddr(s)
		if err != nil {
			return
		}
		// Canonical form is a fixed point.
		again, err := parseAddr(norm)
		if err != nil || again != norm {
			t.Errorf("parseAddr(%q) = %q; again %q, %v", s, norm, again, err)
		}
	})
}
