package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/servekit/servekit/activator"
)

// fakeTarget records what a Source does to it.
type fakeTarget struct {
	mu     sync.Mutex
	calls  []string
	refuse activator.RevisionKey // SetRevision fails for it
}

func (f *fakeTarget) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeTarget) SetRevision(key activator.RevisionKey, r activator.Revision) error {
	if key == f.refuse {
		return errors.New("refused")
	}
	f.record(fmt.Sprintf("set %s cc=%d timeout=%v h2c=%t", key, r.ContainerConcurrency, r.Timeout, r.H2C))
	return nil
}

func (f *fakeTarget) UpdateEndpoints(key activator.RevisionKey, addrs []string) error {
	f.record(fmt.Sprintf("endpoints %s %v", key, addrs))
	return nil
}

func (f *fakeTarget) RemoveRevision(key activator.RevisionKey) { f.record("remove " + key.String()) }

func (f *fakeTarget) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	slices.Sort(c)
	return c
}

func TestSourceApply(t *testing.T) {
	ft := &fakeTarget{refuse: activator.RevisionKey{Namespace: "a", Name: "bad"}}
	s := NewSource(ft, nil)
	s.Apply(&Config{Revisions: []Revision{
		{Namespace: "a", Name: "x", ContainerConcurrency: 1, TimeoutSeconds: 5, Hosts: []string{"X.example.com"}, Addresses: []string{"10.0.0.1:80"}},
		{Namespace: "a", Name: "y", Protocol: "h2c"},
		{Namespace: "a", Name: "bad"},
	}})
	want := []string{"endpoints a/x [10.0.0.1:80]", "endpoints a/y []", "set a/x cc=1 timeout=5s h2c=false", "set a/y cc=0 timeout=0s h2c=true"}
	if diff := cmp.Diff(want, ft.take()); diff != "" {
		t.Errorf("first Apply (-want +got):\n%s", diff)
	}
	s.Apply(&Config{Revisions: []Revision{{Namespace: "a", Name: "y", Protocol: "h2c", Addresses: []string{"10.0.0.2:80"}}}})
	want = []string{"endpoints a/y [10.0.0.2:80]", "remove a/x", "set a/y cc=0 timeout=0s h2c=true"}
	if diff := cmp.Diff(want, ft.take()); diff != "" {
		t.Errorf("second Apply (-want +got):\n%s", diff)
	}
	// The hosts are the last Config's: x.example.com is gone.
	if _, err := s.Resolve(httptest.NewRequest("GET", "http://x.example.com/", nil)); err == nil {
		t.Error("x.example.com still resolves after its revision left")
	}
	if k, err := s.Resolve(httptest.NewRequest("GET", "http://y.a.svc.cluster.local:8080/", nil)); err != nil || k.String() != "a/y" {
		t.Errorf("service host: %v, %v", k, err)
	}
}

func TestSourceLoadAndWatch(t *testing.T) {
	ft := &fakeTarget{}
	var logs lockedBuilder
	s := NewSource(ft, slog.New(slog.NewTextHandler(&logs, nil)))
	file := filepath.Join(t.TempDir(), "endpoints.yaml")
	// Written atomically: Watch could otherwise read an empty, truncated file, which
	// is a valid Config without revisions.
	write := func(content string) {
		if err := os.WriteFile(file+".tmp", []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Load(file); err == nil {
		t.Error("Load of a missing file: no error")
	}
	write("revisions:\n- {namespace: a, name: x, hosts: [x.example.com]}\n")
	if err := s.Load(file); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(file); err != nil { // unchanged: nothing applied
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"endpoints a/x []", "set a/x cc=0 timeout=0s h2c=false"}, ft.take()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	write("revisions: [")
	if err := s.Load(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("bad file: %v, want an error naming it", err)
	}
	if err := s.Load(file); err != nil {
		t.Errorf("the same bad content again: %v, want it reported once", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, file, 5*time.Millisecond) }()
	write("revisions:\n- {namespace: a, name: w}\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if k, err := s.Resolve(httptest.NewRequest("GET", "http://x.example.com/", nil)); err != nil {
			break // the new version was applied
		} else if time.Now().After(deadline) {
			t.Fatalf("Watch never applied the new file; x.example.com still resolves to %v", k)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch: %v", err)
	}
	if diff := cmp.Diff([]string{"endpoints a/w []", "remove a/x", "set a/w cc=0 timeout=0s h2c=false"}, ft.take()); diff != "" {
		t.Errorf("after Watch (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), "endpoints loaded") {
		t.Errorf("loads not logged:\n%s", logs.String())
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
