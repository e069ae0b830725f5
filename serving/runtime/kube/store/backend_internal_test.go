package store

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// slowInner is a wrapped backend whose Apply of "slow" waits until release is
// closed; it records every Scale.
type slowInner struct {
	release chan struct{}
	applied chan struct{} // closed when Apply("slow") has started
	mu      sync.Mutex
	scales  []string
}

func (s *slowInner) Run(ctx context.Context, _ func(types.NamespacedName)) error {
	<-ctx.Done()
	return nil
}

func (s *slowInner) Apply(rev *v1.Revision) error {
	if rev.Name == "slow" {
		close(s.applied)
		<-s.release
	}
	return nil
}

func (s *slowInner) Scale(key types.NamespacedName, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scales = append(s.scales, key.Name+"="+string(rune('0'+n)))
	return nil
}

func (s *slowInner) Delete(types.NamespacedName) error                    { return nil }
func (s *slowInner) Pods(types.NamespacedName) []runtime.Pod              { return nil }
func (s *slowInner) Stats(types.NamespacedName, time.Time) []metrics.Stat { return nil }

// A release waiting on the API server holds up no other revision's Scale, and a
// Scale of the revision being released, recorded meanwhile, is written after it.
func TestReleaseHoldsNoLockAcrossTheWrappedBackend(t *testing.T) {
	inner := &slowInner{release: make(chan struct{}), applied: make(chan struct{})}
	var unblock sync.Once
	t.Cleanup(func() { unblock.Do(func() { close(inner.release) }) }) // even on failure
	b := NewBackend(inner)
	slow := types.NamespacedName{Namespace: "default", Name: "slow"}
	other := types.NamespacedName{Namespace: "default", Name: "other"}
	if err := b.Apply(&v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "slow"}}); err != nil {
		t.Fatal(err)
	}
	_ = b.Scale(slow, 1)
	done := make(chan error, 1)
	go func() { done <- b.release(slow, "uid-1", nil) }()
	<-inner.applied

	scaled := make(chan error, 1)
	go func() { scaled <- b.Scale(other, 3) }() // not pending: straight to the wrapped backend
	select {
	case err := <-scaled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Scale of another revision waited for a release in flight")
	}
	if err := b.Scale(slow, 2); err != nil { // recorded while the release runs
		t.Fatal(err)
	}
	unblock.Do(func() { close(inner.release) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	inner.mu.Lock()
	got := append([]string(nil), inner.scales...)
	inner.mu.Unlock()
	// other first (during slow's Apply); slow's last write is its latest scale.
	if len(got) < 2 || got[0] != "other=3" || got[len(got)-1] != "slow=2" {
		t.Errorf("scales written = %v, want other=3 first and slow=2 last", got)
	}
	if b.pendingRevision(slow) != nil {
		t.Error("slow is still pending after its release")
	}
}
