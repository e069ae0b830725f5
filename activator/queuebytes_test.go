package activator

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestQueueBytes: the requests waiting for a revision with no pod may hold at most
// Options.QueueBytes of request heads; one more large request gets the queue-full 503
// at once, a small one still waits, and a request alone is admitted whatever its size.
func TestQueueBytes(t *testing.T) {
	a := startActivator(t, Options{QueueBytes: 100 << 10}, map[RevisionKey]Revision{
		testKey: {ContainerConcurrency: 1, Timeout: time.Minute},
	})
	big := func(n int) http.Header { return http.Header{"X-Pad": {strings.Repeat("x", n)}} }

	// Alone, a 150 KiB head is admitted (it waits: the revision has no pod).
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = a.t.TrySized(ctx, testKey, 150<<10, func(string) error { return nil })
	})
	waitFor(t, "the large request held", func() bool { return a.t.Waiting(testKey) == 1 })
	// With it waiting, a 60 KiB head through the handler is refused at once.
	r := a.do(t, testKey, "2", big(60<<10))
	if diff := cmp.Diff(result{503, "pending request queue full\n"}, r, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("second large request (-want +got):\n%s", diff)
	}
	cancel()
	wg.Wait()
	waitFor(t, "the queue empty", func() bool { return a.t.Waiting(testKey) == 0 })

	// Two 40 KiB heads fit in 100 KiB; a third does not; once one leaves, it does.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	ctx1, cancel1 := context.WithCancel(ctx)
	for _, c := range []context.Context{ctx1, ctx} {
		wg.Go(func() { _ = a.t.TrySized(c, testKey, 40<<10, func(string) error { return nil }) })
	}
	waitFor(t, "two requests held", func() bool { return a.t.Waiting(testKey) == 2 })
	if r := a.do(t, testKey, "3", big(40<<10)); r.code != http.StatusServiceUnavailable {
		t.Errorf("third 40 KiB request: %d %q, want 503", r.code, r.body)
	}
	small := make(chan error, 1)
	go func() { small <- a.t.TrySized(ctx, testKey, 100, func(string) error { return nil }) }()
	waitFor(t, "a small request still held", func() bool { return a.t.Waiting(testKey) == 3 })
	cancel1()
	waitFor(t, "one request gone", func() bool { return a.t.Waiting(testKey) == 2 })
	ok := make(chan error, 1)
	go func() { ok <- a.t.TrySized(ctx, testKey, 40<<10, func(string) error { return nil }) }()
	waitFor(t, "the third admitted after one left", func() bool { return a.t.Waiting(testKey) == 3 })
	cancel()
	wg.Wait()
	<-ok
	<-small
}

func TestRequestHeadSize(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "http://example.com/a?b=c", nil)
	r.Header.Set("X-Pad", strings.Repeat("x", 1000))
	if n := RequestHeadSize(r); n < 1000 || n > 1100 {
		t.Errorf("RequestHeadSize = %d, want about 1,000 + the request line", n)
	}
}
