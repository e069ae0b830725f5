package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pods is a PodCounter backed by a map (missing = 0 ready).
type pods struct {
	mu  sync.Mutex
	n   map[types.NamespacedName]int
	err error
}

func (p *pods) ReadyPods(k types.NamespacedName) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[k], p.err
}

func (p *pods) set(k types.NamespacedName, n int) {
	p.mu.Lock()
	p.n[k] = n
	p.mu.Unlock()
}

type setCall struct {
	Key types.NamespacedName
	R   ScaleResult
}

// setter records SetScale calls on a channel.
type setter struct {
	ch  chan setCall
	err error
}

func (s *setter) SetScale(_ context.Context, k types.NamespacedName, r ScaleResult) error {
	if s.err != nil {
		return s.err
	}
	r.RequeueAfter = 0
	s.ch <- setCall{k, r}
	return nil
}

func newTestScaler(t testing.TB, o Options) (*MultiScaler, *pods, *setter, *testingclock.FakeClock) {
	t.Helper()
	clk := testingclock.NewFakeClock(epoch)
	p := &pods{n: map[types.NamespacedName]int{}}
	s := &setter{ch: make(chan setCall, 100)}
	o.Clock, o.PodCounter, o.ScaleSetter = clk, p, s
	ms, err := NewMultiScaler(o)
	if err != nil {
		t.Fatal(err)
	}
	return ms, p, s, clk
}

func TestNewMultiScalerRequires(t *testing.T) {
	if _, err := NewMultiScaler(Options{}); err == nil {
		t.Error("no PodCounter accepted")
	}
	if _, err := NewMultiScaler(Options{PodCounter: &pods{}}); err == nil {
		t.Error("no ScaleSetter accepted")
	}
}

func TestMultiScalerTickDecidesAndDelivers(t *testing.T) {
	ms, p, s, _ := newTestScaler(t, Options{})
	spec := mustSpec(t, nil, target10, 0) // target 10, TBC 0
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	b := types.NamespacedName{Namespace: "ns", Name: "b"}
	p.set(a, 1)
	ms.Set(a, spec)
	ms.Set(b, spec)
	ms.Record(a, sec(1), Stat{AverageConcurrentRequests: 15})
	ms.Record(b, sec(1), Stat{AverageConcurrentRequests: 0})

	ms.tick(context.Background(), sec(2))
	got := map[string]ScaleResult{}
	for range 2 {
		c := <-s.ch
		got[c.Key.Name] = c.R
	}
	want := map[string]ScaleResult{
		"a": {Replicas: 2, Want: 2, State: StateActive, Activators: 2},
		// b: no ready pods, decision 0 while activating: wait (want -1).
		"b": {Replicas: 1, Want: -1, State: StateActivating, Activators: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first tick (-want +got):\n%s", diff)
	}

	// Unchanged results are not delivered again.
	ms.tick(context.Background(), sec(4))
	select {
	case c := <-s.ch:
		t.Errorf("unchanged result delivered: %+v", c)
	default:
	}
	st, _, ok := ms.Status(a)
	if !ok || st.DesiredScale != 2 {
		t.Errorf("Status(a) = %+v, %v", st, ok)
	}

	// Removed revisions are forgotten.
	ms.Remove(a)
	if _, _, ok := ms.Status(a); ok {
		t.Error("removed revision still has a status")
	}
	if err := ms.Record(a, sec(5), Stat{}); !errors.Is(err, ErrNotCollecting) {
		t.Errorf("Record after Remove: %v", err)
	}
}

func TestMultiScalerPodCountErrorIsInvalid(t *testing.T) {
	ms, p, s, _ := newTestScaler(t, Options{})
	ms.Set(rev, mustSpec(t, nil, target10, 0))
	ms.Record(rev, sec(1), Stat{AverageConcurrentRequests: 15})
	p.err = errors.New("informer not synced")
	ms.tick(context.Background(), sec(2))
	if st, _, _ := ms.Status(rev); st.DesiredScale != -1 {
		t.Errorf("DesiredScale = %d after a pod-count error, want -1", st.DesiredScale)
	}
	select {
	case c := <-s.ch:
		t.Errorf("delivered %+v on a pod-count error", c)
	default:
	}
}

func TestMultiScalerRedeliversAfterSetError(t *testing.T) {
	ms, p, s, _ := newTestScaler(t, Options{})
	p.set(rev, 1)
	ms.Set(rev, mustSpec(t, nil, target10, 0))
	ms.Record(rev, sec(1), Stat{AverageConcurrentRequests: 5})
	s.err = errors.New("conflict")
	ms.tick(context.Background(), sec(2))
	s.err = nil
	ms.tick(context.Background(), sec(4))
	select {
	case c := <-s.ch:
		if c.R.Replicas != 1 {
			t.Errorf("redelivered %+v", c.R)
		}
	default:
		t.Error("result not redelivered after a SetScale error")
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func recv(t *testing.T, ch <-chan setCall) setCall {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for SetScale")
		return setCall{}
	}
}

type countingScraper struct {
	mu sync.Mutex
	n  int
}

func (c *countingScraper) Scrape(_ context.Context, _ types.NamespacedName, now time.Time, _ Spec) (Stat, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return Stat{AverageConcurrentRequests: 30, Timestamp: now.Unix()}, nil
}

func (c *countingScraper) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestMultiScalerRunScrapesTicksAndPokes(t *testing.T) {
	sc := &countingScraper{}
	ms, p, s, clk := newTestScaler(t, Options{Scraper: sc})
	spec := mustSpec(t, nil, target10, 0)
	ms.Set(rev, spec)
	p.set(rev, 1)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ms.Run(ctx) }()
	waitFor(t, "both tickers", func() bool { return clk.Waiters() == 2 })

	clk.Step(time.Second) // scrape at t=1
	waitFor(t, "a scrape", func() bool { return sc.count() == 1 })
	clk.Step(time.Second) // scrape and tick at t=2
	c := recv(t, s.ch)
	if c.R.Replicas < 3 {
		t.Errorf("after scraping 30 with target 10: %+v", c.R)
	}

	// Add a revision while running; it idles at 0, then an activator
	// stat pokes it without waiting for the tick.
	idle := types.NamespacedName{Namespace: "ns", Name: "idle"}
	ms.Set(idle, mustSpec(t, nil, map[string]string{AnnotationTargetBurstCapacity: "-1"}, 0))
	// Unscraped (TBC -1) and silent: its first tick decides 0.
	clk.Step(2 * time.Second)
	waitFor(t, "idle at 0", func() bool { st, _, _ := ms.Status(idle); return st.DesiredScale == 0 })
	if err := ms.Push(idle, Stat{AverageConcurrentRequests: 1, RequestCount: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the poke's decision", func() bool { st, _, _ := ms.Status(idle); return st.DesiredScale == 1 })

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestMultiScalerPokeIgnoredWithoutDecision(t *testing.T) {
	ms, _, _, _ := newTestScaler(t, Options{})
	ms.Set(rev, mustSpec(t, nil, nil, 0))
	ms.Poke(rev) // status -1: no poke (§9.19)
	ms.mu.RLock()
	n := len(ms.pokes)
	ms.mu.RUnlock()
	if n != 0 {
		t.Errorf("%d pokes queued for a revision without a decision", n)
	}
	ms.Poke(types.NamespacedName{Name: "unknown"})
}

func BenchmarkMultiScalerRecord100k(b *testing.B) { benchmarkTickPhase(b, 100_000, phaseRecord) }

// BenchmarkMultiScalerTickOnly100k times the tick alone (deciding every
// revision, reporting and scaling), without the second of stats that the
// platform records on its own goroutines before it.
func BenchmarkMultiScalerTickOnly100k(b *testing.B) { benchmarkTickPhase(b, 100_000, phaseTick) }

// benchmarkTick records one stat for each of n revisions and ticks, as the
// MultiScaler does every 2 s. One tick runs before the timer starts, so the
// figures are the steady state (the first tick delivers every revision and
// grows the reused tick lists once).
func benchmarkTick(b *testing.B, n int) { benchmarkTickPhase(b, n, phaseRecord|phaseTick) }

const (
	phaseRecord = 1 << iota
	phaseTick
)

// benchmarkTickPhase runs what benchmarkTick runs and times only the phases
// asked for (the timer and the CPU count are stopped around the others).
func benchmarkTickPhase(b *testing.B, n int, timed int) {
	ms, p, s, _ := newTestScaler(b, Options{})
	ms.opts.PodCounter = fixedPods(p.n) // read-only: no lock shared by the tick's workers
	go func() {
		for range s.ch {
		}
	}()
	defer close(s.ch)
	spec := mustSpec(b, nil, nil, 0)
	keys := make([]types.NamespacedName, n)
	for i := range keys {
		keys[i] = types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("rev-%06d", i)}
		p.n[keys[i]] = 3
		ms.Set(keys[i], spec)
	}
	ctx := context.Background()
	var cpu time.Duration
	phase := func(which int, f func()) {
		if timed&which == 0 {
			b.StopTimer()
			f()
			b.StartTimer()
			return
		}
		c0 := processCPU()
		f()
		cpu += processCPU() - c0
	}
	tick := func(i int) {
		now := sec(float64(2 * i))
		phase(phaseRecord, func() {
			for j, k := range keys {
				_ = ms.Record(k, now, Stat{AverageConcurrentRequests: float64(j % 500)})
			}
		})
		phase(phaseTick, func() { ms.tick(ctx, now) })
	}
	tick(0)
	cpu = 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		tick(i)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/revision")
	// CPU time of the whole process (every core) per tick: less sensitive
	// than wall time to other jobs on a shared machine.
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// tickRecorder is a Reporter keeping every revision's reports in order.
type tickRecorder map[types.NamespacedName][]TickReport

func (r tickRecorder) ReportTick(t TickReport) { r[t.Key] = append(r[t.Key], t) }

// fixedPods is a read-only PodCounter, as cheap as a platform's can be.
type fixedPods map[types.NamespacedName]int

func (p fixedPods) ReadyPods(k types.NamespacedName) (int, error) { return p[k], nil }

func BenchmarkMultiScalerTick1k(b *testing.B)   { benchmarkTick(b, 1_000) }
func BenchmarkMultiScalerTick10k(b *testing.B)  { benchmarkTick(b, 10_000) }
func BenchmarkMultiScalerTick100k(b *testing.B) { benchmarkTick(b, 100_000) }

// TestMultiScalerParallelTickMatchesSequential ticks many revisions (more
// than one worker's chunk) with varied load on two MultiScalers, one
// deciding on GOMAXPROCS goroutines and one revision at a time, and wants
// the same SetScale calls and the same status for every revision.
func TestMultiScalerParallelTickMatchesSequential(t *testing.T) {
	const n = 5*tickChunk + 17
	keys := make([]types.NamespacedName, n)
	run := func(parallel bool) (map[types.NamespacedName][]ScaleResult, map[types.NamespacedName][]TickReport) {
		rep := tickRecorder{}
		ms, p, s, _ := newTestScaler(t, Options{Reporter: rep})
		got := map[types.NamespacedName][]ScaleResult{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for c := range s.ch {
				got[c.Key] = append(got[c.Key], c.R)
			}
		}()
		specs := []Spec{mustSpec(t, nil, nil, 0), mustSpec(t, nil, target10, 0),
			mustSpec(t, nil, map[string]string{AnnotationWindow: "6s", AnnotationMetric: MetricRPS}, 0),
			mustSpec(t, nil, map[string]string{AnnotationMetricAggregation: AlgorithmWeightedExponential,
				AnnotationScaleDownDelay: "10s"}, 0)}
		for i := range keys {
			keys[i] = types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("r%04d", i)}
			p.set(keys[i], i%4)
			ms.Set(keys[i], specs[i%len(specs)])
		}
		ctx := context.Background()
		for tk := range 40 {
			now := sec(float64(2 * tk))
			for i, k := range keys {
				if (i+tk)%7 != 0 { // some seconds silent
					_ = ms.Record(k, now, Stat{AverageConcurrentRequests: float64((i * tk) % 300),
						RequestCount: float64((i + tk) % 50)})
				}
				if tk%5 == 0 {
					p.set(k, (i+tk)%6)
				}
			}
			if parallel {
				ms.tick(ctx, now)
			} else {
				for _, r := range ms.snapshot() {
					ms.tickOne(ctx, r, now)
				}
			}
		}
		close(s.ch)
		<-done
		return got, rep
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS ≥ 2 to run the tick on several goroutines")
	}
	par, parReports := run(true)
	seq, seqReports := run(false)
	if diff := cmp.Diff(seqReports, parReports); diff != "" {
		t.Errorf("parallel tick reports differ from sequential (-seq +par):\n%s", diff)
	}
	calls := 0
	for _, rs := range seq {
		calls += len(rs)
	}
	if len(seq) != n || calls < 2*n {
		t.Fatalf("%d revisions got %d SetScale calls; want all %d, several times", len(seq), calls, n)
	}
	if diff := cmp.Diff(seq, par); diff != "" {
		t.Errorf("parallel tick differs from sequential (-seq +par):\n%s", diff)
	}
}

func BenchmarkMultiScalerMemoryPerRevision(b *testing.B) {
	const n = 10_000
	spec := mustSpec(b, nil, nil, 0)
	keys := make([]types.NamespacedName, n)
	for i := range keys {
		keys[i] = types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("rev-%05d", i)}
	}
	var perRev float64
	for b.Loop() {
		ms, _, _, _ := newTestScaler(b, Options{})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, k := range keys {
			ms.Set(k, spec)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRev = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(ms)
	}
	b.ReportMetric(perRev, "B/revision")
}

func TestMultiScalerConcurrentUse(t *testing.T) {
	// Revisions added, updated, fed and removed from several goroutines
	// while the loops run: -race must stay quiet and Run must return.
	sc := &countingScraper{}
	ms, p, s, clk := newTestScaler(t, Options{Scraper: sc})
	go func() {
		for range s.ch {
		}
	}()
	defer close(s.ch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ms.Run(ctx) }()
	waitFor(t, "both tickers", func() bool { return clk.Waiters() == 2 })

	specs := []Spec{mustSpec(t, nil, nil, 0), mustSpec(t, nil, target10, 0),
		mustSpec(t, nil, map[string]string{AnnotationWindow: "30s", AnnotationMetric: MetricRPS}, 0)}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("r%d", (g*7+i)%10)}
				switch i % 6 {
				case 0:
					ms.Set(k, specs[i%len(specs)])
				case 1:
					_ = ms.Record(k, clk.Now(), Stat{AverageConcurrentRequests: float64(i)})
				case 2:
					_ = ms.Push(k, Stat{AverageConcurrentRequests: 1})
				case 3:
					ms.Status(k)
				case 4:
					p.set(k, i%4)
				case 5:
					if i%30 == 5 {
						ms.Remove(k)
					}
				}
			}
		})
	}
	for range 50 {
		clk.Step(time.Second)
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestMultiScalerInitialStatusAndPush(t *testing.T) {
	ms, _, _, clk := newTestScaler(t, Options{})
	ms.Set(rev, mustSpec(t, nil, nil, 0))
	st, _, ok := ms.Status(rev)
	if diff := cmp.Diff(Status{DesiredScale: -1, ExcessBurstCapacity: -111}, st); !ok || diff != "" {
		t.Errorf("initial status (-want +got):\n%s", diff)
	}
	// A pushed stat is stamped with the clock's whole second.
	clk.SetTime(sec(7.8))
	if err := ms.Push(rev, Stat{AverageConcurrentRequests: 4}); err != nil {
		t.Fatal(err)
	}
	if s, _, err := ms.Collector().StableAndPanicConcurrency(rev, sec(7)); err != nil || s != 4 {
		t.Errorf("stable at 7 s = %v, %v; want 4 recorded in second 7", s, err)
	}
	if err := ms.Push(types.NamespacedName{Name: "nope"}, Stat{}); !errors.Is(err, ErrNotCollecting) {
		t.Errorf("Push to an unknown revision: %v", err)
	}
}

// TestMultiScalerTickAfterRemovals adds revisions, removes some (the first,
// the last, ones in the middle, one twice), re-adds one and adds more, and
// wants every tick to decide each revision present exactly once and no
// removed one: the tick walks the MultiScaler's dense revision list, which
// a removal patches by moving the last revision into the hole.
func TestMultiScalerTickAfterRemovals(t *testing.T) {
	const n = 3*tickChunk + 5 // several chunks: the parallel path
	rep := tickRecorder{}
	ms, _, s, _ := newTestScaler(t, Options{Reporter: rep})
	go func() {
		for range s.ch {
		}
	}()
	defer close(s.ch)
	spec := mustSpec(t, nil, nil, 0)
	key := func(i int) types.NamespacedName {
		return types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("r%04d", i)}
	}
	want := map[types.NamespacedName]bool{}
	for i := range n {
		ms.Set(key(i), spec)
		want[key(i)] = true
	}
	for _, i := range []int{0, n - 1, 7, 200, 201, 7, n - 2} {
		ms.Remove(key(i))
		delete(want, key(i))
	}
	ms.Set(key(200), spec) // re-added
	want[key(200)] = true
	for i := n; i < n+tickChunk; i++ {
		ms.Set(key(i), spec)
		want[key(i)] = true
	}
	ms.Remove(key(n + 3))
	delete(want, key(n+3))

	for tk := 1; tk <= 2; tk++ {
		clear(rep)
		ms.tick(context.Background(), sec(float64(2*tk)))
		got := map[types.NamespacedName]bool{}
		for k, rs := range rep {
			if len(rs) != 1 {
				t.Errorf("tick %d decided %v %d times", tk, k, len(rs))
			}
			got[k] = true
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tick %d decided (-want +got):\n%s", tk, diff)
		}
	}
}

// TestMultiScalerSetUpdatesDeciderAndBounds changes a running revision's
// spec twice and wants each change to reach the part of the scaler that
// reads it at the next tick: a lower max-scale bounds the replicas (the
// bounds' spec), a higher target lowers the desired scale (the decider's).
// The revision's decider and bounds share one Spec in the MultiScaler.
func TestMultiScalerSetUpdatesDeciderAndBounds(t *testing.T) {
	ms, p, s, _ := newTestScaler(t, Options{})
	go func() {
		for range s.ch {
		}
	}()
	defer close(s.ch)
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	ms.Set(a, mustSpec(t, nil, target10, 0)) // 0 ready: not in panic
	p.set(a, 4)
	step := func(at float64, wantDesired, wantReplicas int32) {
		t.Helper()
		_ = ms.Record(a, sec(at-1), Stat{AverageConcurrentRequests: 40})
		_ = ms.Record(a, sec(at), Stat{AverageConcurrentRequests: 40})
		ms.tick(context.Background(), sec(at))
		st, res, _ := ms.Status(a)
		if st.DesiredScale != wantDesired || res.Replicas != wantReplicas {
			t.Errorf("at %vs: desired %d, replicas %d; want %d, %d", at, st.DesiredScale, res.Replicas, wantDesired, wantReplicas)
		}
	}
	step(2, 4, 4) // 40 / target 10
	ms.Set(a, mustSpec(t, nil, map[string]string{AnnotationTarget: "10", AnnotationTargetUtilization: "100",
		AnnotationTargetBurstCapacity: "0", AnnotationMaxScale: "2"}, 0))
	step(4, 4, 2) // the bounds clamp to max-scale 2
	ms.Set(a, mustSpec(t, nil, map[string]string{AnnotationTarget: "20", AnnotationTargetUtilization: "100",
		AnnotationTargetBurstCapacity: "0"}, 0))
	step(6, 2, 2) // 40 / target 20
}
