package queue

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// steppingClock is the real clock, except that every Now is step later than the
// one before: request timing becomes exact.
type steppingClock struct {
	RealClock
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// fakeClock stands still until Step moves it; Step fires what has come due, on
// the caller's goroutine (AfterFunc functions included), in order of due time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c      *fakeClock
	ch     chan time.Time // nil for AfterFunc
	f      func()         // nil unless AfterFunc
	period time.Duration  // > 0 for a ticker
	when   time.Time      // guarded by c.mu
	active bool           // guarded by c.mu
}

type fakeTicker struct{ *fakeTimer }

func (t fakeTicker) Stop() { t.fakeTimer.Stop() }

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(t *fakeTimer, d time.Duration) *fakeTimer {
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	return c.add(&fakeTimer{c: c, ch: make(chan time.Time, 1)}, d)
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	return c.add(&fakeTimer{c: c, f: f}, d)
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	return fakeTicker{c.add(&fakeTimer{c: c, ch: make(chan time.Time, 1), period: d}, d)}
}

// Active returns the number of timers and tickers armed.
func (c *fakeClock) Active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.active {
			n++
		}
	}
	return n
}

// Step moves the clock d forward and fires every timer that came due.
func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due []*fakeTimer
	for _, t := range c.timers {
		if t.active && !t.when.After(now) {
			due = append(due, t)
			if t.period > 0 {
				for !t.when.After(now) {
					t.when = t.when.Add(t.period)
				}
			} else {
				t.active = false
			}
		}
	}
	c.mu.Unlock()
	slices.SortFunc(due, func(a, b *fakeTimer) int { return a.when.Compare(b.when) })
	for _, t := range due {
		if t.f != nil {
			t.f()
			continue
		}
		select {
		case t.ch <- now:
		default: // like time's channels: a tick nobody took is dropped
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active, t.when = true, t.c.now.Add(d)
	return was
}

// TestDrainOnInjectedClock steps Drain's quiet period on a fake clock: a request
// during the drain restarts it.
func TestDrainOnInjectedClock(t *testing.T) {
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") }))
	clk := newFakeClock(epoch)
	p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), DrainQuietPeriod: 30 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	done := make(chan error, 1)
	go func() { done <- p.Drain(context.Background()) }()
	waitFor(t, "Drain to arm its timer", func() bool { return clk.Active() == 1 })

	clk.Step(20 * time.Second)
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil)) // at 20 s: quiet until 50 s
	if rec.Code != 200 {
		t.Fatalf("request while draining = %d, want 200", rec.Code)
	}
	clk.Step(10 * time.Second) // 30 s: the first timer fires, Drain waits 20 s more
	waitFor(t, "Drain to re-arm its timer", func() bool { return clk.Active() == 1 })
	select {
	case err := <-done:
		t.Fatalf("Drain returned %v 10 s after a request, want it to wait for 30 s of quiet", err)
	default:
	}
	clk.Step(20 * time.Second) // 50 s: quiet for 30 s
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Drain = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Drain did not return after 30 s of quiet on its clock")
	}
}

// TestTimeoutOnInjectedClock fires the revision timeout from the proxy's clock,
// not the wall clock.
func TestTimeoutOnInjectedClock(t *testing.T) {
	srv := startApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	clk := newFakeClock(epoch)
	p, err := NewProxy(ProxyOptions{Target: srv.Listener.Addr().String(), Timeout: 5 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseIdleConnections()
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	}()
	waitFor(t, "the request's timeout to be armed", func() bool { return clk.Active() == 1 })
	clk.Step(4 * time.Second)
	select {
	case <-done:
		t.Fatal("request ended before its timeout")
	default:
	}
	clk.Step(time.Second)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("request not ended by its timeout on the proxy's clock")
	}
	if rec.Code != http.StatusGatewayTimeout || rec.Body.String() != timeoutBody {
		t.Errorf("response = %d %q, want 504 %q", rec.Code, rec.Body.String(), timeoutBody)
	}
}
