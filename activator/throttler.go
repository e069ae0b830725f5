// This file owns the Throttler itself: its fields, the per-revision and per-pod
// state it keeps, its constructor, and Run, the lifecycle of its goroutines (probers
// and the stat reporter).

package activator

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// Throttler admits requests to revisions as capacity allows. Create it with
// NewThrottler, tell it about revisions (SetRevision) and their pods
// (UpdateEndpoints), and call Run to start probing and reporting. All methods are safe
// for concurrent use.
type Throttler struct {
	clock          clock.WithTicker
	transport      http.RoundTripper
	ownTransport   *http.Transport // set when transport was made here; closed by Run
	h2cTransport   http.RoundTripper
	ownH2C         *http.Transport // set when h2cTransport was made here; closed by Run
	peerToken      string
	sink           StatSink
	hooks          Hooks
	log            *slog.Logger
	depth          int64
	queueBytes     int64 // Options.QueueBytes, defaulted; negative: no bound
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
	h2c     bool         // Revision.H2C
	timeout atomic.Int64 // time.Duration
	breaker breaker
	policy  Policy
	// assigned is the sorted list of healthy pods this activator uses: replaced as a
	// whole, read without locks on every request.
	assigned atomic.Pointer[[]*Tracker]
	waiting  atomic.Int64 // requests in Try that have not reached a pod
	// waitingBytes sums the sizes of those requests (TrySized).
	waitingBytes atomic.Int64
	removed      atomic.Bool
	stats        revStats

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
		queueBytes:     o.QueueBytes,
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
	t.h2cTransport = o.H2CTransport
	if t.h2cTransport == nil {
		base, ok := t.transport.(*http.Transport)
		if !ok {
			base = NewTransport()
		}
		t.ownH2C = H2CTransport(base)
		t.h2cTransport = t.ownH2C
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.depth <= 0 {
		t.depth = DefaultQueueDepth
	}
	if t.queueBytes == 0 {
		t.queueBytes = DefaultQueueBytes
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

// H2CTransport returns the transport to the pods of H2C revisions
// (Options.H2CTransport or the default).
func (t *Throttler) H2CTransport() http.RoundTripper { return t.h2cTransport }

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
	if t.ownH2C != nil {
		t.ownH2C.CloseIdleConnections()
	}
	return nil
}
