package activator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	fakeclock "k8s.io/utils/clock/testing"

	"github.com/servekit/servekit/queue"
)

func TestHoldThroughScaleFromZero(t *testing.T) {
	for _, cc := range []int{0, 1, 10} {
		t.Run(fmt.Sprint("containerConcurrency ", cc), func(t *testing.T) {
			a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: cc}})
			const n = 100
			results := make([]result, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i] = a.do(t, testKey, fmt.Sprint(i), nil) })
			}
			waitFor(t, "100 requests held", func() bool { return a.t.Waiting(testKey) == n })

			pods := []*testPod{newPod(t, nil), newPod(t, nil)}
			if err := a.t.UpdateEndpoints(testKey, []string{pods[0].addr, pods[1].addr}); err != nil {
				t.Fatal(err)
			}
			wg.Wait()

			want := make(map[string]int, n)
			for i, r := range results {
				if r.code != http.StatusOK || !strings.HasSuffix(r.body, " body-"+fmt.Sprint(i)) {
					t.Errorf("request %d: %d %q, want 200 with its body echoed", i, r.code, r.body)
				}
				want[fmt.Sprint(i)] = 1
			}
			got := pods[0].idCounts()
			for id, c := range pods[1].idCounts() {
				got[id] += c
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("requests seen by the pods, by id (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerConcurrencyOneNeverExceeded(t *testing.T) {
	a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	pods := []*testPod{newPod(t, nil), newPod(t, nil)}
	if err := a.t.UpdateEndpoints(testKey, []string{pods[0].addr, pods[1].addr}); err != nil {
		t.Fatal(err)
	}
	const n = 60
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() { codes[i] = a.do(t, testKey, fmt.Sprint(i), nil).code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	for i, p := range pods {
		if m := p.max.Load(); m > 1 {
			t.Errorf("pod %d saw %d concurrent requests, containerConcurrency is 1", i, m)
		}
	}
	if got := pods[0].hits.Load() + pods[1].hits.Load(); got != n {
		t.Errorf("pods served %d requests, want %d", got, n)
	}
}

func TestPodRemovedMidFlightDrains(t *testing.T) {
	a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	block := make(chan struct{})
	first, second := newPod(t, block), newPod(t, nil)
	// First-available with containerConcurrency 1 uses the lower address first.
	lo, hi := first, second
	if hi.addr < lo.addr {
		lo, hi = hi, lo
	}
	if err := a.t.UpdateEndpoints(testKey, []string{first.addr}); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() { done <- a.do(t, testKey, "in-flight", nil) }()
	if id := <-first.started; id != "in-flight" {
		t.Fatalf("first pod got %q", id)
	}
	// The pod leaves the endpoints while serving; the other pod arrives.
	if err := a.t.UpdateEndpoints(testKey, []string{second.addr}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if r := a.do(t, testKey, fmt.Sprint("after-", i), nil); r.code != http.StatusOK || !strings.HasPrefix(r.body, second.addr) {
			t.Errorf("request after removal: %d %q, want 200 from %s", r.code, r.body, second.addr)
		}
	}
	close(block)
	if r := <-done; r.code != http.StatusOK || !strings.HasPrefix(r.body, first.addr) {
		t.Errorf("in-flight request: %d %q, want 200 from the removed pod", r.code, r.body)
	}
	if got := first.hits.Load(); got != 1 {
		t.Errorf("removed pod served %d requests, want 1", got)
	}
	_ = lo
}

func TestFailoverWhenPodGoneBeforeSending(t *testing.T) {
	a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	p1, p2 := newPod(t, nil), newPod(t, nil)
	gone, alive := p1, p2
	if alive.addr < gone.addr { // first-available tries the lower address first
		gone, alive = alive, gone
	}
	if err := a.t.UpdateEndpoints(testKey, []string{gone.addr, alive.addr}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both pods probed", func() bool { return gone.probes.Load() > 0 && alive.probes.Load() > 0 })
	waitFor(t, "capacity 2", func() bool { return len(*a.t.revs[testKey].assigned.Load()) == 2 })
	gone.srv.Close() // the pod disappears; the platform has not told the activator yet
	r := a.do(t, testKey, "x", nil)
	// The body reached the second pod intact after the first attempt failed.
	if want := alive.addr + " body-x"; r.code != http.StatusOK || r.body != want {
		t.Fatalf("got %d %q, want 200 %q", r.code, r.body, want)
	}
	if got := alive.idCounts()["x"]; got != 1 {
		t.Errorf("live pod saw the request %d times, want 1", got)
	}
	if !strings.Contains(a.logs.String(), "pod unreachable") {
		t.Errorf("no log of the unreachable pod:\n%s", a.logs)
	}
}

func TestForwardedHeaders(t *testing.T) {
	a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 0}})
	p := newPod(t, nil)
	if err := a.t.UpdateEndpoints(testKey, []string{p.addr}); err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	hdr.Set(queue.ProxyHeaderName, "forged")
	hdr.Set(queue.PeerTokenHeader, "forged")
	hdr.Set(queue.OriginalHostHeader, "evil.example")
	hdr.Set(queue.KubeletProbeHeader, "") // empty value: not a probe at the activator
	hdr.Set(RevisionNameHeader, "other")
	hdr.Set(RevisionNamespaceHeader, "other-ns")
	if r := a.do(t, testKey, "h", hdr); r.code != http.StatusOK {
		t.Fatalf("got %d %q", r.code, r.body)
	}
	p.mu.Lock()
	got := p.headers[0]
	p.mu.Unlock()
	wantHost := strings.TrimPrefix(a.srv.URL, "http://")
	for _, c := range []struct{ name, want string }{
		{queue.ProxyHeaderName, queue.ProxyHeaderValue},
		{queue.PeerTokenHeader, "s3cret"},
		{queue.OriginalHostHeader, wantHost},
		{RevisionNameHeader, ""},
		{RevisionNamespaceHeader, ""},
	} {
		if v := got.Get(c.name); v != c.want {
			t.Errorf("pod saw %s = %q, want %q", c.name, v, c.want)
		}
	}
	if _, ok := got[queue.KubeletProbeHeader]; ok {
		t.Errorf("pod saw %s", queue.KubeletProbeHeader)
	}
	if got.Get("X-Forwarded-For") == "" {
		t.Error("pod saw no X-Forwarded-For")
	}
}

func TestPokeOncePerColdStart(t *testing.T) {
	clk := fakeclock.NewFakeClock(time.Now())
	type stat struct {
		Name               string
		Concurrency, Count float64
	}
	var (
		mu    sync.Mutex
		stats []stat
	)
	sink := StatSinkFunc(func(ns, name string, at time.Time, c, n float64) {
		mu.Lock()
		defer mu.Unlock()
		stats = append(stats, stat{name, c, n})
	})
	snapshot := func() []stat {
		mu.Lock()
		defer mu.Unlock()
		return append([]stat(nil), stats...)
	}
	a := startActivator(t, Options{Clock: clk, StatSink: sink}, map[RevisionKey]Revision{testKey: {}})
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { a.do(t, testKey, fmt.Sprint(i), nil) })
	}
	waitFor(t, "requests held", func() bool { return a.t.Waiting(testKey) == n })
	if diff := cmp.Diff([]stat{{testKey.Name, 1, 1}}, snapshot()); diff != "" {
		t.Fatalf("stats while 50 requests wait: one poke expected (-want +got):\n%s", diff)
	}
	p := newPod(t, nil)
	if err := a.t.UpdateEndpoints(testKey, []string{p.addr}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Report: the requests were in the activator for no fake time: concurrency 0,
	// 50 arrivals minus the poke. Then an idle report: the revision is cold again.
	for i := 0; i < 2; i++ {
		waitFor(t, "reporter waiting on its ticker", clk.HasWaiters)
		clk.Step(time.Second)
		want := 2 + i
		waitFor(t, "report", func() bool { return len(snapshot()) == want })
	}
	if r := a.do(t, testKey, "again", nil); r.code != http.StatusOK {
		t.Fatalf("request after idle: %d %q", r.code, r.body)
	}
	want := []stat{{testKey.Name, 1, 1}, {testKey.Name, 0, n - 1}, {testKey.Name, 0, 0}, {testKey.Name, 1, 1}}
	if diff := cmp.Diff(want, snapshot()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestAnswers(t *testing.T) {
	other := RevisionKey{Namespace: "default", Name: "other"}
	a := startActivator(t, Options{QueueDepth: 2}, map[RevisionKey]Revision{
		testKey: {ContainerConcurrency: 1, Timeout: 50 * time.Millisecond},
		other:   {ContainerConcurrency: 1},
	})
	t.Run("unknown revision", func(t *testing.T) {
		r := a.do(t, RevisionKey{Namespace: "default", Name: "nope"}, "1", nil)
		if diff := cmp.Diff(result{404, "activator: unknown revision default/nope\n"}, r, cmp.AllowUnexported(result{})); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("unresolvable request", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL, nil)
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("no pod within the revision timeout", func(t *testing.T) {
		r := a.do(t, testKey, "1", nil)
		if diff := cmp.Diff(result{503, "activator request timeout\n"}, r, cmp.AllowUnexported(result{})); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("queue full", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { a.t.Try(ctx, other, func(string) error { return nil }) })
		}
		waitFor(t, "queue filled", func() bool { return a.t.Waiting(other) == 2 })
		r := a.do(t, other, "3", nil)
		cancel()
		wg.Wait()
		if diff := cmp.Diff(result{503, "pending request queue full\n"}, r, cmp.AllowUnexported(result{})); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("activator probe", func(t *testing.T) {
		hdr := http.Header{queue.ProbeHeaderName: {"activator"}}
		if diff := cmp.Diff(result{200, "activator\n"}, a.do(t, testKey, "p", hdr), cmp.AllowUnexported(result{})); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		hdr = http.Header{queue.ProbeHeaderName: {"queue"}}
		if r := a.do(t, testKey, "p", hdr); r.code != http.StatusBadRequest {
			t.Errorf("K-Network-Probe: queue at the activator: %d, want 400", r.code)
		}
	})
	t.Run("kubelet probe of the activator itself", func(t *testing.T) {
		for _, hdr := range []http.Header{{"User-Agent": {"kube-probe/1.33"}}, {"K-Kubelet-Probe": {"x"}}} {
			req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/healthz", nil)
			maps.Copy(req.Header, hdr)
			resp, err := a.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(b) != "ok\n" {
				t.Errorf("%v, no revision: %d %q, want 200 \"ok\"", hdr, resp.StatusCode, b)
			}
		}
	})
	t.Run("a kube-probe User-Agent for a revision is traffic", func(t *testing.T) {
		// testKey has no pod: a request for it waits its 50 ms timeout and gets a
		// 503, whatever its User-Agent (issue 13: an outside client got "ok").
		hdr := http.Header{"User-Agent": {"kube-probe/1.33"}}
		if r := a.do(t, testKey, "k", hdr); r.code != http.StatusServiceUnavailable {
			t.Errorf("kube-probe for a revision: %d %q, want 503 (held like any request)", r.code, r.body)
		}
	})
}

func TestRemoveRevisionReleasesWaiters(t *testing.T) {
	a := startActivator(t, Options{}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 2}})
	done := make(chan result, 1)
	go func() { done <- a.do(t, testKey, "1", nil) }()
	waitFor(t, "request held", func() bool { return a.t.Waiting(testKey) == 1 })
	a.t.RemoveRevision(testKey)
	if r := <-done; r.code != http.StatusNotFound {
		t.Errorf("waiting request after removal: %d %q, want 404", r.code, r.body)
	}
}

func TestProbeUntilReady(t *testing.T) {
	clk := fakeclock.NewFakeClock(time.Now())
	a := startActivator(t, Options{Clock: clk}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	p := newPod(t, nil)
	p.probeOK.Store(false)
	if err := a.t.UpdateEndpoints(testKey, []string{p.addr}); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() { done <- a.do(t, testKey, "1", nil) }()
	waitFor(t, "first probe failed", func() bool { return p.probes.Load() == 1 })
	waitFor(t, "request held", func() bool { return a.t.Waiting(testKey) == 1 })
	p.probeOK.Store(true)
	// The reporter's ticker makes HasWaiters true before the prober has armed its
	// timer, so one step could fire before the prober waits: step the probe interval
	// until the second probe is seen (no further probe follows a passing one).
	for deadline := time.Now().Add(10 * time.Second); p.probes.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the second probe")
		}
		clk.Step(DefaultProbeInterval)
	}
	if r := <-done; r.code != http.StatusOK {
		t.Errorf("after the pod became ready: %d %q", r.code, r.body)
	}
	if got := p.probes.Load(); got != 2 {
		t.Errorf("probes = %d, want 2", got)
	}
	if p.hits.Load() != 1 {
		t.Errorf("pod hits = %d, want 1", p.hits.Load())
	}
}

func TestDeadlineAwareAdmission(t *testing.T) {
	clk := fakeclock.NewFakeClock(time.Now())
	var (
		mu         sync.Mutex
		coldStarts []time.Duration
		rejected   []string
	)
	hooks := Hooks{
		ColdStart: func(_ RevisionKey, d time.Duration) { mu.Lock(); coldStarts = append(coldStarts, d); mu.Unlock() },
		Rejected:  func(_ RevisionKey, r string) { mu.Lock(); rejected = append(rejected, r); mu.Unlock() },
	}
	a := startActivator(t, Options{Clock: clk, Hooks: hooks}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	p := newPod(t, nil)

	// A cold start that takes 5 s (fake time).
	done := make(chan error, 1)
	go func() { done <- a.t.Try(context.Background(), testKey, func(string) error { return nil }) }()
	waitFor(t, "request held", func() bool { return a.t.Waiting(testKey) == 1 })
	clk.Step(5 * time.Second)
	if err := a.t.UpdateEndpoints(testKey, []string{p.addr}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Scaled to zero again.
	if err := a.t.UpdateEndpoints(testKey, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(time.Second))
	defer cancel()
	err := a.t.Try(ctx, testKey, func(string) error { return nil })
	var de *DeadlineError
	if !errors.As(err, &de) {
		t.Fatalf("Try with 1 s left for a 5 s cold start: %v, want a DeadlineError", err)
	}
	if de.Expected != 5*time.Second || de.Remaining > time.Second {
		t.Errorf("DeadlineError = %+v", de)
	}
	// Through the Handler: a revision timeout shorter than the cold start is answered
	// 503 at once, with the reason.
	if err := a.t.SetRevision(testKey, Revision{ContainerConcurrency: 1, Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if r := a.do(t, testKey, "short", nil); r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "is starting") {
		t.Errorf("handler: %d %q, want 503 saying the revision is starting", r.code, r.body)
	}
	// The hook runs after the pod was put in use: wait for it.
	waitFor(t, "cold start hook", func() bool { mu.Lock(); defer mu.Unlock(); return len(coldStarts) > 0 })
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]time.Duration{5 * time.Second}, coldStarts); diff != "" {
		t.Errorf("cold starts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{ReasonDeadline, ReasonDeadline}, rejected); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
}

func TestFloodBeyondQueue(t *testing.T) {
	const depth, n = 20, 300
	a := startActivator(t, Options{QueueDepth: depth}, map[RevisionKey]Revision{testKey: {ContainerConcurrency: 1}})
	results := make(chan result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results <- a.do(t, testKey, fmt.Sprint(i), nil) })
	}
	// Everything beyond the queue is refused while the queue is held.
	refused := 0
	for refused < n-depth {
		r := <-results
		if r.code != http.StatusServiceUnavailable || r.body != "pending request queue full\n" {
			t.Fatalf("while the queue is full: %d %q", r.code, r.body)
		}
		refused++
	}
	if got := a.t.Waiting(testKey); got != depth {
		t.Errorf("waiting = %d, want %d", got, depth)
	}
	p := newPod(t, nil)
	if err := a.t.UpdateEndpoints(testKey, []string{p.addr}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.code != http.StatusOK {
			t.Errorf("queued request: %d %q", r.code, r.body)
		}
	}
	if got := p.hits.Load(); got != depth {
		t.Errorf("pod served %d, want %d", got, depth)
	}
}
