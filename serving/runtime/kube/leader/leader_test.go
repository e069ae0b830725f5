package leader_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/servekit/servekit/serving/runtime/kube/leader"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func opts(cs *fake.Clientset, id string) leader.Options {
	return leader.Options{
		Client: cs, Namespace: "servekit", Name: "controller", Identity: id,
		LeaseDuration: 600 * time.Millisecond, RenewDeadline: 400 * time.Millisecond, RetryPeriod: 100 * time.Millisecond,
	}
}

// TestOneLeaderAtATime runs two candidates on one Lease: exactly one runs fn; when its
// context ends it releases the Lease, the other takes over, and each Run returns only
// after its fn has.
func TestOneLeaderAtATime(t *testing.T) {
	cs := fake.NewClientset()
	var mu sync.Mutex
	leading := map[string]bool{}
	both := false
	started := make(chan string, 2)
	fn := func(id string) func(context.Context) error {
		return func(ctx context.Context) error {
			mu.Lock()
			leading[id] = true
			both = both || len(leading) > 1
			mu.Unlock()
			started <- id
			<-ctx.Done()
			mu.Lock()
			delete(leading, id)
			mu.Unlock()
			return nil
		}
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelA()
	defer cancelB()
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- leader.Run(ctxA, opts(cs, "a"), fn("a")) }()
	go func() { doneB <- leader.Run(ctxB, opts(cs, "b"), fn("b")) }()

	first := waitStarted(t, started)
	cancelFirst, doneFirst, cancelOther, doneOther := cancelA, doneA, cancelB, doneB
	if first == "b" {
		cancelFirst, doneFirst, cancelOther, doneOther = cancelB, doneB, cancelA, doneA
	}
	cancelFirst()
	if err := <-doneFirst; err != nil {
		t.Errorf("Run of the first leader = %v, want nil after its ctx ended", err)
	}
	mu.Lock()
	if leading[first] {
		t.Errorf("Run of %s returned while its fn still ran", first)
	}
	mu.Unlock()
	second := waitStarted(t, started)
	if second == first {
		t.Fatalf("%s led twice", first)
	}
	cancelOther()
	if err := <-doneOther; err != nil {
		t.Errorf("Run of the second leader = %v", err)
	}
	if both {
		t.Error("both candidates led at once")
	}
}

func waitStarted(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case id := <-ch:
		return id
	case <-time.After(30 * time.Second):
		t.Fatal("no candidate became leader within 30s")
		return ""
	}
}

// TestFnEndsLeadership: when fn returns, Run returns its error and releases the
// Lease, so another candidate leads at once.
func TestFnEndsLeadership(t *testing.T) {
	cs := fake.NewClientset()
	boom := errors.New("boom")
	if err := leader.Run(context.Background(), opts(cs, "a"), func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want fn's error", err)
	}
	ran := false
	if err := leader.Run(context.Background(), opts(cs, "b"), func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("second candidate: Run = %v, ran %v; want nil and ran", err, ran)
	}
}

func TestRequiredOptions(t *testing.T) {
	for name, o := range map[string]leader.Options{
		"no client":   {Namespace: "n", Name: "l", Identity: "a"},
		"no name":     {Client: fake.NewClientset(), Namespace: "n", Identity: "a"},
		"no identity": {Client: fake.NewClientset(), Namespace: "n", Name: "l"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := leader.Run(context.Background(), o, func(context.Context) error { return nil }); err == nil {
				t.Error("Run accepted incomplete options")
			}
		})
	}
}
