package activator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/servekit/servekit/queue"
)

// Options configure a Throttler. The zero value is usable.
type Options struct {
	// Clock drives probing and reporting and stamps stats; nil means the real clock.
	Clock clock.WithTicker
	// Transport carries the probes. The Handler uses the same one by default, so a
	// connection warmed by a probe serves the first request. Nil means NewTransport();
	// its idle connections are closed when Run returns.
	Transport http.RoundTripper
	// PeerToken is the secret shared with the pods' queue proxies
	// (queue.PeerTokenHeader), sent on probes. Empty sends none.
	PeerToken string
	// StatSink receives the per-revision stats and the scale-from-zero poke; nil
	// discards them.
	StatSink StatSink
	// Hooks observe cold starts, queue waits and rejections; nil fields are no-ops.
	Hooks Hooks
	// Logger receives probe results, ignored endpoint addresses and failovers; nil
	// discards.
	Logger *slog.Logger
	// QueueDepth is how many requests may wait (not yet sent to a pod) per revision;
	// the next is refused with queue.ErrRequestQueueFull. Zero means DefaultQueueDepth.
	QueueDepth int
	// ProbeInterval is the pause between probes of a pod not yet healthy; zero means
	// DefaultProbeInterval.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe; zero means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// ReportInterval is the stats period; zero means DefaultReportInterval.
	ReportInterval time.Duration
	// Policy returns the load-balancing policy for a containerConcurrency; nil means
	// PolicyFor.
	Policy func(containerConcurrency int) Policy
}

// Hooks are called on events worth measuring. A nil field is a no-op. They are called
// concurrently and must not block.
type Hooks struct {
	// ColdStart receives, per revision, the time from the first request that had to
	// wait for a revision without ready pods to the moment its first pod became ready.
	ColdStart func(key RevisionKey, d time.Duration)
	// QueueWait receives each request's time from arrival to being handed to a pod.
	QueueWait func(key RevisionKey, d time.Duration)
	// Rejected is called for each request refused without reaching a pod, with a short
	// reason: "unknown-revision", "queue-full", "deadline" (DeadlineError) or "timeout"
	// (no capacity within the request's deadline).
	Rejected func(key RevisionKey, reason string)
}

// Rejection reasons passed to Hooks.Rejected.
const (
	ReasonUnknownRevision = "unknown-revision"
	ReasonQueueFull       = "queue-full"
	ReasonDeadline        = "deadline"
	ReasonTimeout         = "timeout"
)

// NewTransport returns the transport the Throttler and Handler use by default: plain
// HTTP/1.1 to pod addresses, no proxy from the environment, no compression, and a
// large idle pool (Knative: 1000 in all, 100 per pod).
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// Throttler admits requests to revisions as capacity allows. Create it with
// NewThrottler, tell it about revisions (SetRevision) and their pods
// (UpdateEndpoints), and call Run to start probing and reporting. All methods are safe
// for concurrent use.
type Throttler struct {
	clock          clock.WithTicker
	transport      http.RoundTripper
	ownTransport   *http.Transport // set when transport was made here; closed by Run
	peerToken      string
	sink           StatSink
	hooks          Hooks
	log            *slog.Logger
	depth          int64
	probeInterval  time.Duration
	probeTimeout   time.Duration
	reportInterval time.Duration
	policyFor      func(int) Policy

	// mu guards the fields below; it is taken before any revision's mu.
	mu      sync.RWMutex
	revs    map[RevisionKey]*revision
	index   int             // this activator's position among count (-1: unknown)
	count   int             // activators sharing every revision
	runCtx  context.Context // non-nil while Run runs: probers are started under it
	running bool
	wg      sync.WaitGroup // probers
}

type revision struct {
	key     RevisionKey
	cc      int
	timeout atomic.Int64 // time.Duration
	breaker breaker
	policy  Policy
	// assigned is the sorted list of healthy pods this activator uses: replaced as a
	// whole, read without locks on every request.
	assigned atomic.Pointer[[]*Tracker]
	waiting  atomic.Int64 // requests in Try that have not reached a pod
	removed  atomic.Bool
	stats    revStats

	mu   sync.Mutex // guards pods, orphans, coldSince, coldStart
	pods map[string]*pod
	// orphans are trackers no longer assigned (the pod left the endpoints, failed or
	// went to another activator's subset) whose requests are still in flight. Each such
	// request holds a slot of the revision breaker; the capacity is raised by their
	// number so that they do not keep new requests from the remaining pods (with
	// containerConcurrency 1 and a draining pod, the new pod would otherwise sit idle
	// until the old request ended).
	orphans   map[*Tracker]struct{}
	coldSince time.Time     // first request that waited with no pod; zero when warm
	coldStart time.Duration // last observed cold start
}

type pod struct {
	tracker *Tracker
	healthy bool
	stop    context.CancelFunc // stops its prober; nil when none runs
}

// NewThrottler returns a Throttler configured by o.
func NewThrottler(o Options) *Throttler {
	t := &Throttler{
		clock:          o.Clock,
		transport:      o.Transport,
		peerToken:      o.PeerToken,
		sink:           o.StatSink,
		hooks:          o.Hooks,
		log:            o.Logger,
		depth:          int64(o.QueueDepth),
		probeInterval:  o.ProbeInterval,
		probeTimeout:   o.ProbeTimeout,
		reportInterval: o.ReportInterval,
		policyFor:      o.Policy,
		revs:           make(map[RevisionKey]*revision),
		index:          -1,
	}
	if t.clock == nil {
		t.clock = clock.RealClock{}
	}
	if t.transport == nil {
		t.ownTransport = NewTransport()
		t.transport = t.ownTransport
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.depth <= 0 {
		t.depth = DefaultQueueDepth
	}
	if t.probeInterval <= 0 {
		t.probeInterval = DefaultProbeInterval
	}
	if t.probeTimeout <= 0 {
		t.probeTimeout = DefaultProbeTimeout
	}
	if t.reportInterval <= 0 {
		t.reportInterval = DefaultReportInterval
	}
	if t.policyFor == nil {
		t.policyFor = PolicyFor
	}
	return t
}

// Transport returns the transport used for probes (Options.Transport or the default).
func (t *Throttler) Transport() http.RoundTripper { return t.transport }

// SetRevision adds a revision or updates its timeout. Requests for a revision are
// buffered from the moment it is added, before any pod exists. Its
// containerConcurrency cannot change (revisions are immutable): that is an error.
func (t *Throttler) SetRevision(key RevisionKey, r Revision) error {
	if err := r.validate(key); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if rev := t.revs[key]; rev != nil {
		if rev.cc != r.ContainerConcurrency {
			return fmt.Errorf("activator: revision %s: containerConcurrency cannot change from %d to %d (revisions are immutable)",
				key, rev.cc, r.ContainerConcurrency)
		}
		rev.timeout.Store(int64(r.timeout()))
		return nil
	}
	rev := &revision{
		key:     key,
		cc:      r.ContainerConcurrency,
		breaker: newBreaker(r.ContainerConcurrency),
		policy:  t.policyFor(r.ContainerConcurrency),
		pods:    make(map[string]*pod),
		orphans: make(map[*Tracker]struct{}),
	}
	rev.timeout.Store(int64(r.timeout()))
	rev.assigned.Store(&[]*Tracker{})
	t.revs[key] = rev
	return nil
}

// Revision returns what the Throttler knows of a revision.
func (t *Throttler) Revision(key RevisionKey) (Revision, bool) {
	t.mu.RLock()
	rev := t.revs[key]
	t.mu.RUnlock()
	if rev == nil {
		return Revision{}, false
	}
	return Revision{ContainerConcurrency: rev.cc, Timeout: time.Duration(rev.timeout.Load())}, true
}

// Waiting returns how many requests for the revision are waiting for a pod (0 for an
// unknown revision): the activator's queue depth, worth exporting as a gauge.
func (t *Throttler) Waiting(key RevisionKey) int {
	t.mu.RLock()
	rev := t.revs[key]
	t.mu.RUnlock()
	if rev == nil {
		return 0
	}
	return int(rev.waiting.Load())
}

// RemoveRevision forgets a revision. Requests waiting for it return
// ErrUnknownRevision at once; requests already at a pod complete.
func (t *Throttler) RemoveRevision(key RevisionKey) {
	t.mu.Lock()
	rev := t.revs[key]
	delete(t.revs, key)
	t.mu.Unlock()
	if rev == nil {
		return
	}
	rev.mu.Lock()
	defer rev.mu.Unlock()
	for _, p := range rev.pods {
		if p.stop != nil {
			p.stop()
		}
	}
	clear(rev.pods)
	clear(rev.orphans)
	rev.removed.Store(true)
	rev.assigned.Store(&[]*Tracker{})
	// Wake every waiter: each finds no pod, sees removed and returns.
	rev.breaker.UpdateConcurrency(math.MaxInt32)
}

// UpdateActivators tells the Throttler that count activators share the revisions and
// this one is number index (0-based, in an order all activators agree on, e.g. sorted
// addresses). For containerConcurrency > 0 each activator then uses its own subset of
// the pods (Knative's subsetting), so that the sum of the activators' capacities is the
// revision's. index -1 or count <= 1 means all pods.
func (t *Throttler) UpdateActivators(index, count int) error {
	if count < 0 || index < -1 || (count > 0 && index >= count) {
		return fmt.Errorf("activator: UpdateActivators: index %d out of range for count %d", index, count)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.index, t.count = index, count
	now := t.clock.Now()
	for _, rev := range t.revs {
		rev.mu.Lock()
		d, ended := t.recomputeLocked(rev, now)
		rev.mu.Unlock()
		if ended {
			t.coldStartEnded(rev.key, d)
		}
	}
	return nil
}

// UpdateEndpoints sets the addresses (ip:port of each pod's queue proxy) of a
// revision's pods, ready or not. New pods are probed and used as soon as a probe
// passes; pods no longer listed get no new requests (those in flight complete).
// Duplicate and malformed addresses are ignored with a logged reason. The only error
// is ErrUnknownRevision.
func (t *Throttler) UpdateEndpoints(key RevisionKey, addrs []string) error {
	want := make(map[string]struct{}, len(addrs))
	for _, a := range addrs {
		norm, err := parseAddr(a)
		if err != nil {
			t.log.Warn("activator: ignoring endpoint address", "revision", key.String(), "address", a, "reason", err.Error())
			continue
		}
		if _, dup := want[norm]; dup {
			t.log.Warn("activator: ignoring endpoint address", "revision", key.String(), "address", a, "reason", "duplicate")
			continue
		}
		want[norm] = struct{}{}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	rev := t.revs[key]
	if rev == nil {
		return fmt.Errorf("%w %s", ErrUnknownRevision, key)
	}
	rev.mu.Lock()
	for addr, p := range rev.pods {
		if _, ok := want[addr]; !ok {
			if p.stop != nil {
				p.stop()
			}
			delete(rev.pods, addr)
		}
	}
	for addr := range want {
		if _, ok := rev.pods[addr]; !ok {
			p := &pod{tracker: NewTracker(addr, rev.cc)}
			rev.pods[addr] = p
			t.startProberLocked(rev, p)
		}
	}
	d, ended := t.recomputeLocked(rev, t.clock.Now())
	rev.mu.Unlock()
	if ended {
		t.coldStartEnded(key, d)
	}
	return nil
}

// parseAddr checks that s is ip:port with a usable IP and a non-zero port and returns
// it in canonical form.
func parseAddr(s string) (string, error) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
	switch {
	case err != nil:
		return "", errors.New("not ip:port")
	case ap.Port() == 0:
		return "", errors.New("port 0")
	case ap.Addr().IsUnspecified() || ap.Addr().IsMulticast():
		return "", errors.New("not a unicast address")
	}
	return ap.String(), nil
}

// recomputeLocked rebuilds the revision's assigned pods and capacity after a change of
// pods, health or subsetting; rev.mu and t.mu (read) are held. It reports the length
// of a cold start that this change ended.
func (t *Throttler) recomputeLocked(rev *revision, now time.Time) (time.Duration, bool) {
	if rev.removed.Load() {
		return 0, false
	}
	healthy := make([]*Tracker, 0, len(rev.pods))
	for _, p := range rev.pods {
		if p.healthy {
			p.tracker.SetCapacity(rev.cc)
			healthy = append(healthy, p.tracker)
		}
	}
	slices.SortFunc(healthy, func(a, b *Tracker) int { return strings.Compare(a.addr, b.addr) })
	assigned := healthy
	if rev.cc > 0 {
		assigned = assignSlice(healthy, t.index, t.count)
	}
	inNew := make(map[*Tracker]bool, len(assigned))
	for _, tr := range assigned {
		inNew[tr] = true
		if tr.orphaned.Load() {
			tr.orphaned.Store(false)
			delete(rev.orphans, tr)
		}
	}
	for _, tr := range *rev.assigned.Load() {
		if !inNew[tr] {
			// Flag first, then count (in updateCapacityLocked): a request that releases
			// the tracker and then sees no flag released before the count was taken.
			tr.orphaned.Store(true)
			rev.orphans[tr] = struct{}{}
		}
	}
	// Trackers first, capacity last: a request released by more capacity always finds
	// the pod that brought it.
	rev.assigned.Store(&assigned)
	t.updateCapacityLocked(rev)
	if len(assigned) > 0 && !rev.coldSince.IsZero() {
		d := now.Sub(rev.coldSince)
		rev.coldSince, rev.coldStart = time.Time{}, d
		return d, true
	}
	return 0, false
}

// updateCapacityLocked sets the revision breaker's capacity from its assigned pods and
// the requests still in flight to orphaned trackers; rev.mu is held.
func (t *Throttler) updateCapacityLocked(rev *revision) {
	c := capacityFor(rev.cc, len(*rev.assigned.Load()))
	if rev.cc > 0 {
		extra := 0
		for tr := range rev.orphans {
			if n := tr.InFlight(); n > 0 {
				extra += n
			} else {
				delete(rev.orphans, tr)
				tr.orphaned.Store(false)
			}
		}
		c = min(c+extra, math.MaxInt32)
	} else {
		clear(rev.orphans) // a gate has no count to correct
	}
	rev.breaker.UpdateConcurrency(c)
}

// orphanDone is called when a request to an orphaned tracker ended.
func (t *Throttler) orphanDone(rev *revision) {
	rev.mu.Lock()
	defer rev.mu.Unlock()
	if !rev.removed.Load() {
		t.updateCapacityLocked(rev)
	}
}

func (t *Throttler) coldStartEnded(key RevisionKey, d time.Duration) {
	t.log.Info("activator: revision ready after cold start", "revision", key.String(), "coldStart", d)
	if h := t.hooks.ColdStart; h != nil {
		h(key, d)
	}
}

func (t *Throttler) reject(key RevisionKey, reason string) {
	if h := t.hooks.Rejected; h != nil {
		h(key, reason)
	}
}

// Try waits until the revision has capacity, reserves a pod and calls fn with its
// address, all within ctx (whose deadline should be the revision timeout). It returns
// fn's error, or without calling fn:
//   - ErrUnknownRevision (wrapped) for a revision not known (or removed meanwhile);
//   - queue.ErrRequestQueueFull when Options.QueueDepth requests already wait;
//   - a *DeadlineError when ctx's deadline ends before the cold start would;
//   - ctx.Err() when ctx ended first.
//
// When fn returns an error wrapping ErrPodUnreachable, the pod is marked unhealthy and
// fn is called again with another pod (MaxAttempts in all).
func (t *Throttler) Try(ctx context.Context, key RevisionKey, fn func(dest string) error) error {
	t.mu.RLock()
	rev := t.revs[key]
	t.mu.RUnlock()
	if rev == nil {
		t.reject(key, ReasonUnknownRevision)
		return fmt.Errorf("%w %s", ErrUnknownRevision, key)
	}
	start := t.clock.Now()
	if rev.stats.begin(start) && t.sink != nil {
		t.sink.RecordStat(key.Namespace, key.Name, start, 1, 1)
	}
	defer func() { rev.stats.end(t.clock.Now()) }()
	if rev.waiting.Add(1) > t.depth {
		rev.waiting.Add(-1)
		t.reject(key, ReasonQueueFull)
		return queue.ErrRequestQueueFull
	}
	waiting := true
	defer func() {
		if waiting {
			rev.waiting.Add(-1)
		}
	}()
	if len(*rev.assigned.Load()) == 0 {
		if err := t.admitCold(ctx, rev, start); err != nil {
			t.reject(key, ReasonDeadline)
			return err
		}
	}
	for attempts := 1; ; attempts++ {
		var (
			picked bool
			ferr   error
		)
		err := rev.breaker.Maybe(ctx, func() {
			tr := rev.policy(*rev.assigned.Load())
			if tr == nil {
				return
			}
			defer func() {
				tr.Release()
				if tr.orphaned.Load() {
					t.orphanDone(rev)
				}
			}()
			picked = true
			if waiting {
				waiting = false
				rev.waiting.Add(-1)
				if h := t.hooks.QueueWait; h != nil {
					h(key, t.clock.Since(start))
				}
			}
			ferr = fn(tr.addr)
			if ferr != nil && errors.Is(ferr, ErrPodUnreachable) {
				t.podUnreachable(rev, tr, ferr)
			}
		})
		switch {
		case err != nil:
			if errors.Is(err, context.DeadlineExceeded) {
				t.reject(key, ReasonTimeout)
			}
			return err
		case !picked:
			// Capacity and pods disagreed for a moment (an update is in progress, or the
			// revision went away): queue again, as Knative does.
			if rev.removed.Load() {
				t.reject(key, ReasonUnknownRevision)
				return fmt.Errorf("%w %s", ErrUnknownRevision, key)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			runtime.Gosched()
			continue
		case ferr != nil && errors.Is(ferr, ErrPodUnreachable) && attempts < MaxAttempts && ctx.Err() == nil:
			t.log.Info("activator: failing over to another pod", "revision", key.String(), "error", ferr.Error())
			continue
		}
		return ferr
	}
}

// admitCold applies deadline-aware admission to a request that would wait for a
// revision with no pod: it fails when ctx's deadline comes before the revision's last
// observed cold start (measured from the first waiting request) would end.
func (t *Throttler) admitCold(ctx context.Context, rev *revision, now time.Time) error {
	rev.mu.Lock()
	if len(*rev.assigned.Load()) > 0 {
		rev.mu.Unlock()
		return nil
	}
	if rev.coldSince.IsZero() {
		rev.coldSince = now
	}
	observed := rev.coldStart
	expected := observed - now.Sub(rev.coldSince)
	rev.mu.Unlock()
	if observed <= 0 || expected <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok {
		if rem := dl.Sub(now); rem < expected {
			return &DeadlineError{Key: rev.key, Remaining: rem, Expected: expected}
		}
	}
	return nil
}

// podUnreachable takes a pod that refused a request out of use and probes it again.
func (t *Throttler) podUnreachable(rev *revision, tr *Tracker, cause error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rev.mu.Lock()
	defer rev.mu.Unlock()
	p := rev.pods[tr.addr]
	if p == nil || p.tracker != tr || !p.healthy {
		return
	}
	t.log.Warn("activator: pod unreachable, probing it again", "revision", rev.key.String(), "address", tr.addr, "error", cause.Error())
	p.healthy = false
	t.startProberLocked(rev, p)
	t.recomputeLocked(rev, t.clock.Now())
}

// Run probes pods and reports stats until ctx ends, then stops its goroutines and
// returns nil. Endpoints pushed before Run are probed when it starts. Run may be
// called again after it returned, never twice at once.
func (t *Throttler) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.mu.Lock()
	if t.running {
		t.mu.Unlock()
		return errors.New("activator: Throttler.Run is already running")
	}
	t.running, t.runCtx = true, runCtx
	for _, rev := range t.revs {
		rev.mu.Lock()
		for _, p := range rev.pods {
			if !p.healthy && p.stop == nil {
				t.startProberLocked(rev, p)
			}
		}
		rev.mu.Unlock()
	}
	t.mu.Unlock()

	ticker := t.clock.NewTicker(t.reportInterval)
	defer ticker.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-ticker.C():
			t.report(t.clock.Now())
		}
	}

	t.mu.Lock()
	t.running, t.runCtx = false, nil
	for _, rev := range t.revs {
		rev.mu.Lock()
		for _, p := range rev.pods {
			p.stop = nil // the prober ends with runCtx; the next Run starts a new one
		}
		rev.mu.Unlock()
	}
	cancel()
	t.mu.Unlock()
	t.wg.Wait()
	if t.ownTransport != nil {
		t.ownTransport.CloseIdleConnections()
	}
	return nil
}

// report sends every active revision's stats for the period ending at now.
func (t *Throttler) report(now time.Time) {
	t.mu.RLock()
	revs := make([]*revision, 0, len(t.revs))
	for _, rev := range t.revs {
		revs = append(revs, rev)
	}
	t.mu.RUnlock()
	for _, rev := range revs {
		c, n, ok := rev.stats.report(now)
		if ok && t.sink != nil {
			t.sink.RecordStat(rev.key.Namespace, rev.key.Name, now, c, n)
		}
	}
}

// startProberLocked starts probing p until it passes (t.mu and rev.mu held). Without
// Run, nothing starts: Run starts the probers it finds.
func (t *Throttler) startProberLocked(rev *revision, p *pod) {
	if t.runCtx == nil {
		return
	}
	ctx, cancel := context.WithCancel(t.runCtx)
	p.stop = cancel
	t.wg.Go(func() {
		defer cancel()
		t.probeLoop(ctx, rev, p)
	})
}

func (t *Throttler) probeLoop(ctx context.Context, rev *revision, p *pod) {
	for {
		err := t.probe(ctx, p.tracker.addr)
		if err == nil {
			t.podHealthy(ctx, rev, p)
			return
		}
		if ctx.Err() != nil {
			return
		}
		t.log.Debug("activator: probe failed", "revision", rev.key.String(), "address", p.tracker.addr, "error", err.Error())
		timer := t.clock.NewTimer(t.probeInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		}
	}
}

func (t *Throttler) podHealthy(ctx context.Context, rev *revision, p *pod) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rev.mu.Lock()
	if ctx.Err() != nil || rev.pods[p.tracker.addr] != p {
		rev.mu.Unlock()
		return // removed while the probe ran
	}
	p.healthy, p.stop = true, nil
	d, ended := t.recomputeLocked(rev, t.clock.Now())
	rev.mu.Unlock()
	t.log.Debug("activator: pod ready", "revision", rev.key.String(), "address", p.tracker.addr)
	if ended {
		t.coldStartEnded(rev.key, d)
	}
}

// probeUserAgent is Knative's, so a Knative queue-proxy recognises the probe.
const probeUserAgent = "Knative-Activator-Probe"

// probe asks the pod's queue proxy whether it is ready: 200 with body "queue".
func (t *Throttler) probe(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, t.probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	req.Header.Set(queue.ProbeHeaderName, queue.ProbeHeaderValue)
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set(queue.ProxyHeaderName, queue.ProxyHeaderValue)
	if t.peerToken != "" {
		req.Header.Set(queue.PeerTokenHeader, t.peerToken)
	}
	resp, err := t.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != queue.ProbeHeaderValue {
		return fmt.Errorf("status %d, body %q; want 200 %q", resp.StatusCode, body, queue.ProbeHeaderValue)
	}
	return nil
}
