package autoscaler

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// PodCounter tells the MultiScaler how many pods of a revision are ready.
// Return (0, nil) for a revision whose pods do not exist (yet); any error
// makes that revision's tick invalid. ReadyPods must be safe for concurrent
// use: a tick over many revisions asks from several goroutines at once.
type PodCounter interface {
	ReadyPods(key types.NamespacedName) (int, error)
}

// ScaleSetter receives a revision's scale. SetScale is called from the
// MultiScaler's tick goroutine whenever the result (ignoring RequeueAfter)
// differs from the last one delivered successfully; an error is logged and
// the result is delivered again on the next tick.
type ScaleSetter interface {
	SetScale(ctx context.Context, key types.NamespacedName, r ScaleResult) error
}

// StatScraper produces a revision's stat for one second; *Scraper is one.
// ErrNoPods means "nothing to record".
type StatScraper interface {
	Scrape(ctx context.Context, key types.NamespacedName, now time.Time, spec Spec) (Stat, error)
}

// Reporter observes every tick (for metrics). It is called from the tick
// goroutine and must not block.
type Reporter interface {
	ReportTick(TickReport)
}

// TickReport is one revision's tick: what the decider saw, what it decided
// and what the bounds logic applied.
type TickReport struct {
	// Key is the revision.
	Key types.NamespacedName
	// Now is the tick's instant.
	Now time.Time
	// Metric is the scaling metric of Observation's averages
	// (MetricConcurrency or MetricRPS).
	Metric string
	// Observation is the decider's input (NoData on an invalid tick).
	Observation Observation
	// Decision is the decider's output.
	Decision Decision
	// Result is the scale after bounds and scale-to-zero gating.
	Result ScaleResult
}

// Options configure a MultiScaler.
type Options struct {
	// Clock drives the tickers; nil means the real clock.
	Clock clock.WithTicker
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// PodCounter counts ready pods; required.
	PodCounter PodCounter
	// ScaleSetter receives scale results; required.
	ScaleSetter ScaleSetter
	// Scraper, when set, is called every second for each revision whose
	// pods are scraped (TBC ≠ -1) and its stat recorded. Nil means the
	// caller feeds every stat through Record and Push.
	Scraper StatScraper
	// ScrapeConcurrency bounds concurrent scrapes; 0 means 32.
	ScrapeConcurrency int
	// Reporter observes ticks; nil means none.
	Reporter Reporter
}

// MultiScaler runs the autoscaler for many revisions: one 2 s tick loop
// deciding for every revision (collector → decider → bounds →
// ScaleSetter), an optional 1 s scrape loop, and immediate ticks on poke.
// A tick decides its revisions on up to GOMAXPROCS goroutines and then
// calls Reporter and ScaleSetter from the tick goroutine alone. Revisions
// may be added, updated and removed while it runs. All methods are safe
// for concurrent use.
type MultiScaler struct {
	opts      Options
	clock     clock.WithTicker
	log       *slog.Logger
	collector *Collector

	// mu guards revs, list and pokes.
	mu   sync.RWMutex
	revs map[types.NamespacedName]*revision
	// list holds the revisions of revs in a dense slice, in the order
	// they were added (a removal moves the last one into the hole; each
	// revision knows its index). The tick walks it instead of the map:
	// revisions added in sequence are allocated in sequence, so walking
	// them in that order lets the processor stream their memory instead
	// of waiting on each one (see docs/autoscaling.md).
	list  []*revision
	pokes map[types.NamespacedName]struct{}
	// pokeCh wakes the run loop (buffer 1, never blocks a sender).
	pokeCh chan struct{}

	// scratch is reused by the tick goroutine only.
	scratch []*revision
	// par is the tick's fan-out state, used by the tick goroutine and the
	// workers it starts and waits for.
	par tickPar
}

// tickChunk is how many revisions a tick worker claims at a time: small
// enough to balance the work between cores that other processes share,
// large enough that claiming (one atomic add) costs nothing.
const tickChunk = 128

// tickPar fans the deciding part of a tick out over GOMAXPROCS goroutines.
// Workers claim chunks of revs with next; a result to deliver goes to the
// next free entry of sends (claimed with nsend), a report (only with a
// Reporter) to the revision's own index in reports. The tick goroutine then
// reports and delivers from those buffers alone, so Reporter and
// ScaleSetter are still called from one goroutine. Both buffers are as
// long as revs and reused, so a tick allocates nothing unless the number
// of revisions grew.
type tickPar struct {
	revs []*revision
	now  time.Time
	// report: Options.Reporter is set, so every revision's tick is listed.
	report  bool
	next    atomic.Int64 // next chunk to claim
	nsend   atomic.Int64 // entries of sends in use
	sends   []tickSend
	reports []TickReport
	wg      sync.WaitGroup
	// work is the worker goroutine's function, built once so that
	// starting a worker allocates no closure.
	work func()
}

// tickSend is a decided result waiting to be delivered.
type tickSend struct {
	r   *revision
	res ScaleResult
}

// revision is one revision's autoscaling state, in one object: the
// decider, the bounds and the metric windows are held by value so that a
// tick touches one revision's memory and no map (only the windows' bucket
// rings live apart). The decider and the bounds share the revision's one
// copy of its Spec, so a tick reads ~690 bytes per revision, not ~870.
type revision struct {
	key types.NamespacedName
	// idx is the revision's index in MultiScaler.list (guarded by
	// MultiScaler.mu).
	idx int
	// col is the revision's windows; the collector finds it through
	// MultiScaler.findCollection. Its lock, col.mu, also guards the
	// fields below: one lock per revision, so a tick takes one lock (an
	// atomic instruction, which makes the processor wait for the memory
	// before it) per revision, not two.
	col collection
	// spec is the revision's spec; decider.spec and bounds.spec point
	// at it.
	spec      Spec
	decider   Decider
	bounds    Bounds
	last      ScaleResult
	delivered bool
}

// NewMultiScaler checks o and returns an idle MultiScaler; call Run.
func NewMultiScaler(o Options) (*MultiScaler, error) {
	if o.PodCounter == nil {
		return nil, errors.New("autoscaler: Options.PodCounter is required")
	}
	if o.ScaleSetter == nil {
		return nil, errors.New("autoscaler: Options.ScaleSetter is required")
	}
	if o.ScrapeConcurrency <= 0 {
		o.ScrapeConcurrency = 32
	}
	m := &MultiScaler{
		opts:      o,
		clock:     o.Clock,
		log:       o.Logger,
		collector: NewCollector(),
		revs:      make(map[types.NamespacedName]*revision),
		pokes:     make(map[types.NamespacedName]struct{}),
		pokeCh:    make(chan struct{}, 1),
	}
	m.collector.find = m.findCollection
	m.par.work = func() {
		defer m.par.wg.Done()
		m.decideChunks()
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m, nil
}

// Set adds a revision or updates its spec. A new revision's decider is
// created now with the ready pods PodCounter reports (more than one ready
// pod starts it in panic, docs/autoscaling.md surprise 8).
func (m *MultiScaler) Set(key types.NamespacedName, spec Spec) {
	now := m.clock.Now()
	m.mu.RLock()
	r := m.revs[key]
	m.mu.RUnlock()
	if r != nil {
		r.col.mu.Lock()
		r.col.updateLocked(spec, now, false)
		r.spec = spec // the decider's and the bounds' spec
		r.col.mu.Unlock()
		return
	}
	if from := spec.InitialScaleClampedFrom; from != 0 || spec.BoundedInitialScale() != spec.InitialScale {
		m.log.Warn("autoscaler: initial-scale is above max-scale: the revision starts at max-scale",
			"revision", key.String(), "initialScale", max(from, spec.InitialScale), "maxScale", spec.MaxScale)
	}
	ready, err := m.opts.PodCounter.ReadyPods(key)
	if err != nil {
		ready = 0
	}
	r = &revision{key: key, spec: spec, decider: *NewDecider(spec, int32(ready), now), bounds: *NewBounds(spec, now)}
	r.decider.spec, r.bounds.spec = &r.spec, &r.spec
	r.col.update(spec, now, true)
	m.mu.Lock()
	if _, ok := m.revs[key]; !ok { // lost a race with another Set: keep the first
		m.revs[key] = r
		r.idx = len(m.list)
		m.list = append(m.list, r)
	}
	m.mu.Unlock()
}

// findCollection returns the windows of key's revision, or nil.
func (m *MultiScaler) findCollection(key types.NamespacedName) *collection {
	m.mu.RLock()
	r := m.revs[key]
	m.mu.RUnlock()
	if r == nil {
		return nil
	}
	return &r.col
}

// Remove stops scaling a revision and forgets its metrics.
func (m *MultiScaler) Remove(key types.NamespacedName) {
	m.mu.Lock()
	if r := m.revs[key]; r != nil {
		last := m.list[len(m.list)-1]
		m.list[r.idx], last.idx = last, r.idx
		m.list[len(m.list)-1] = nil
		m.list = m.list[:len(m.list)-1]
	}
	delete(m.revs, key)
	delete(m.pokes, key)
	m.mu.Unlock()
	m.collector.Delete(key)
}

// Record records a scraped (or otherwise observed) stat at now.
func (m *MultiScaler) Record(key types.NamespacedName, now time.Time, st Stat) error {
	if col := m.findCollection(key); col != nil {
		col.record(now.Unix(), st)
		return nil
	}
	return m.collector.Record(key, now, st)
}

// Push records a stat pushed by the activator, stamped with the clock's
// current second (the activator leaves Timestamp unset), then pokes the
// revision: if its last decision was 0 and the stat carries load, it is
// decided immediately instead of at the next tick.
func (m *MultiScaler) Push(key types.NamespacedName, st Stat) error {
	now := m.clock.Now()
	if err := m.collector.Record(key, time.Unix(now.Unix(), 0), st); err != nil {
		return err
	}
	if st.AverageConcurrentRequests != 0 {
		m.Poke(key)
	}
	return nil
}

// Poke asks for an immediate tick of key if its last decision was exactly
// 0 (scale from zero). A revision with no decision yet (-1) is not poked.
func (m *MultiScaler) Poke(key types.NamespacedName) {
	m.mu.Lock()
	r := m.revs[key]
	m.mu.Unlock()
	if r == nil {
		return
	}
	r.col.mu.Lock()
	poke := r.decider.ShouldPoke(1)
	r.col.mu.Unlock()
	if !poke {
		return
	}
	m.mu.Lock()
	m.pokes[key] = struct{}{}
	m.mu.Unlock()
	select {
	case m.pokeCh <- struct{}{}:
	default:
	}
}

// Status returns key's decider status and last scale result.
func (m *MultiScaler) Status(key types.NamespacedName) (Status, ScaleResult, bool) {
	m.mu.RLock()
	r := m.revs[key]
	m.mu.RUnlock()
	if r == nil {
		return Status{}, ScaleResult{}, false
	}
	r.col.mu.Lock()
	defer r.col.mu.Unlock()
	return r.decider.Status(), r.last, true
}

// Collector returns the MultiScaler's collector, for reading averages. Its
// revisions' windows live in the MultiScaler (the collector finds them
// there), so Remove, not Collector().Delete, stops collecting for one.
func (m *MultiScaler) Collector() *Collector { return m.collector }

// Run ticks until ctx is done and returns nil after its goroutines end.
// Call it once.
func (m *MultiScaler) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t := m.clock.NewTicker(TickInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C():
				m.tick(ctx, m.clock.Now())
			case <-m.pokeCh:
				m.tickPoked(ctx, m.clock.Now())
			}
		}
	})
	if m.opts.Scraper != nil {
		g.Go(func() error {
			t := m.clock.NewTicker(ScrapeInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C():
					m.scrape(ctx, m.clock.Now())
				}
			}
		})
	}
	return g.Wait()
}

// snapshot copies the revision list into the tick goroutine's scratch.
func (m *MultiScaler) snapshot() []*revision {
	m.mu.RLock()
	s := append(m.scratch[:0], m.list...)
	m.mu.RUnlock()
	m.scratch = s
	return s
}

// tick decides every revision at now, then reports and delivers the
// results. Deciding (pod count, windows, decider, bounds) runs on up to
// GOMAXPROCS goroutines; each revision is decided exactly as on one, since
// revisions share no state.
func (m *MultiScaler) tick(ctx context.Context, now time.Time) {
	revs := m.snapshot()
	workers := min(runtime.GOMAXPROCS(0), (len(revs)+tickChunk-1)/tickChunk)
	if workers <= 1 {
		for _, r := range revs {
			m.tickOne(ctx, r, now)
		}
		clear(m.scratch) // drop references to removed revisions
		return
	}
	p := &m.par
	p.revs, p.now, p.report = revs, now, m.opts.Reporter != nil
	p.next.Store(0)
	p.nsend.Store(0)
	if len(p.sends) < len(revs) {
		p.sends = make([]tickSend, len(revs))
	}
	if p.report && len(p.reports) < len(revs) {
		p.reports = make([]TickReport, len(revs))
	}
	p.wg.Add(workers - 1)
	for range workers - 1 {
		go p.work()
	}
	m.decideChunks()
	p.wg.Wait()
	if p.report {
		for i := range revs {
			m.opts.Reporter.ReportTick(p.reports[i])
		}
	}
	sends := p.sends[:p.nsend.Load()]
	for _, sd := range sends {
		m.send(ctx, sd.r, sd.res)
	}
	clear(sends) // drop references to revisions
	p.revs = nil
	clear(m.scratch)
}

// decideChunks decides chunks of m.par.revs until none is left.
func (m *MultiScaler) decideChunks() {
	p := &m.par
	for {
		lo := int(p.next.Add(1)-1) * tickChunk
		if lo >= len(p.revs) {
			break
		}
		for i := lo; i < min(lo+tickChunk, len(p.revs)); i++ {
			r := p.revs[i]
			rep, send := m.decide(r, p.now)
			if p.report {
				p.reports[i] = rep
			}
			if send {
				p.sends[p.nsend.Add(1)-1] = tickSend{r, rep.Result}
			}
		}
	}
}

func (m *MultiScaler) tickPoked(ctx context.Context, now time.Time) {
	m.mu.Lock()
	var rs []*revision
	for k := range m.pokes {
		if r := m.revs[k]; r != nil {
			rs = append(rs, r)
		}
		delete(m.pokes, k)
	}
	m.mu.Unlock()
	for _, r := range rs {
		m.tickOne(ctx, r, now)
	}
}

// tickOne decides one revision, reports it and delivers a changed result.
func (m *MultiScaler) tickOne(ctx context.Context, r *revision, now time.Time) {
	rep, send := m.decide(r, now)
	if m.opts.Reporter != nil {
		m.opts.Reporter.ReportTick(rep)
	}
	if send {
		m.send(ctx, r, rep.Result)
	}
}

// decide runs r's decider and bounds at now. It reports the tick and
// whether the result must be delivered (it changed, or the last delivery
// failed). Safe to run for different revisions at once.
func (m *MultiScaler) decide(r *revision, now time.Time) (TickReport, bool) {
	ready, err := m.opts.PodCounter.ReadyPods(r.key)
	r.col.mu.Lock()
	obs := Observation{ReadyPods: int32(ready), NoData: err != nil}
	metric := r.spec.Metric
	if err == nil {
		var e error
		obs.Stable, obs.Panic, e = r.col.stableAndPanicLocked(now.Unix(), metric == MetricRPS)
		obs.NoData = e != nil
	}
	d := r.decider.Decide(now, obs)
	var res ScaleResult
	if err == nil {
		res = r.bounds.Reconcile(now, r.decider.Status(), int32(ready))
	} else {
		res = r.last
	}
	send := err == nil && (!r.delivered || !sameResult(res, r.last))
	r.last = res
	r.col.mu.Unlock()
	return TickReport{Key: r.key, Now: now, Metric: metric, Observation: obs, Decision: d, Result: res}, send
}

// send delivers r's result. It is called from the tick goroutine only.
func (m *MultiScaler) send(ctx context.Context, r *revision, res ScaleResult) {
	if err := m.opts.ScaleSetter.SetScale(ctx, r.key, res); err != nil {
		m.log.Error("autoscaler: set scale", "revision", r.key.String(), "replicas", res.Replicas, "err", err)
		r.col.mu.Lock()
		r.delivered = false
		r.col.mu.Unlock()
		return
	}
	r.col.mu.Lock()
	r.delivered = true
	r.col.mu.Unlock()
}

func sameResult(a, b ScaleResult) bool {
	a.RequeueAfter, b.RequeueAfter = 0, 0
	return a == b
}

// scrape records one scraped stat per scraped revision.
func (m *MultiScaler) scrape(ctx context.Context, now time.Time) {
	m.mu.RLock()
	type job struct {
		key  types.NamespacedName
		spec Spec
	}
	jobs := make([]job, 0, len(m.revs))
	for k, r := range m.revs {
		r.col.mu.Lock()
		if r.spec.Scrapes() {
			jobs = append(jobs, job{k, r.spec})
		}
		r.col.mu.Unlock()
	}
	m.mu.RUnlock()
	var g errgroup.Group
	g.SetLimit(m.opts.ScrapeConcurrency)
	for _, j := range jobs {
		g.Go(func() error {
			st, err := m.opts.Scraper.Scrape(ctx, j.key, now, j.spec)
			switch {
			case errors.Is(err, ErrNoPods):
			case err != nil:
				m.log.Warn("autoscaler: scrape", "revision", j.key.String(), "err", err)
			default:
				_ = m.collector.Record(j.key, now, st)
			}
			return nil
		})
	}
	_ = g.Wait()
}
