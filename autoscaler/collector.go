package autoscaler

import (
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler/window"
)

// Revisions are keyed by types.NamespacedName (namespace and revision
// name), a plain value type from k8s.io/apimachinery with no Kubernetes
// client behind it.

// ErrNoData is returned when nothing was recorded for a revision within
// its stable window (and its pods are scraped): the tick is invalid.
var ErrNoData = errors.New("autoscaler: no data in the stable window")

// ErrNotCollecting is returned for a revision the collector does not know.
var ErrNotCollecting = errors.New("autoscaler: revision not being collected")

// Collector keeps the four metric windows of every revision (stable and
// panic, concurrency and requests per second) and merges scraped and
// pushed stats into them. It is safe for concurrent use.
type Collector struct {
	// mu guards revs (the map, not the collections).
	mu   sync.RWMutex
	revs map[types.NamespacedName]*collection
}

// collection is one revision's windows.
type collection struct {
	// mu guards every field.
	mu           sync.Mutex
	scrapes      bool
	algorithm    string
	stableConc   window.Averager
	panicConc    window.Averager
	stableRPS    window.Averager
	panicRPS     window.Averager
	stableWindow time.Duration
	panicWindow  time.Duration
}

// NewCollector returns an empty collector.
func NewCollector() *Collector {
	return &Collector{revs: make(map[types.NamespacedName]*collection)}
}

func newAverager(alg string, w time.Duration) window.Averager {
	if alg == AlgorithmWeightedExponential {
		return window.NewWeightedBuckets(w)
	}
	return window.NewTimedBuckets(w)
}

// CreateOrUpdate starts collecting for key, or applies a changed spec:
// windows are resized (keeping data last written within the old window
// before now) and a changed algorithm starts new, empty windows.
func (c *Collector) CreateOrUpdate(key types.NamespacedName, s Spec, now time.Time) {
	c.mu.Lock()
	col, ok := c.revs[key]
	if !ok {
		col = &collection{}
		c.revs[key] = col
	}
	c.mu.Unlock()

	col.mu.Lock()
	defer col.mu.Unlock()
	col.scrapes = s.Scrapes()
	if !ok || col.algorithm != s.Algorithm {
		col.algorithm = s.Algorithm
		col.stableConc = newAverager(s.Algorithm, s.StableWindow)
		col.stableRPS = newAverager(s.Algorithm, s.StableWindow)
		col.panicConc = newAverager(s.Algorithm, s.PanicWindow)
		col.panicRPS = newAverager(s.Algorithm, s.PanicWindow)
	} else {
		if s.StableWindow != col.stableWindow {
			col.stableConc.Resize(now, s.StableWindow)
			col.stableRPS.Resize(now, s.StableWindow)
		}
		if s.PanicWindow != col.panicWindow {
			col.panicConc.Resize(now, s.PanicWindow)
			col.panicRPS.Resize(now, s.PanicWindow)
		}
	}
	col.stableWindow, col.panicWindow = s.StableWindow, s.PanicWindow
}

// Delete stops collecting for key.
func (c *Collector) Delete(key types.NamespacedName) {
	c.mu.Lock()
	delete(c.revs, key)
	c.mu.Unlock()
}

func (c *Collector) get(key types.NamespacedName) *collection {
	c.mu.RLock()
	col := c.revs[key]
	c.mu.RUnlock()
	return col
}

// Record adds a stat to key's windows at the second containing now:
// concurrency minus proxied concurrency, and requests minus proxied
// requests. Stats recorded in the same second add up — a scraped stat and
// an activator's pushed stat merge this way. Unknown keys are ignored
// (ErrNotCollecting).
func (c *Collector) Record(key types.NamespacedName, now time.Time, st Stat) error {
	col := c.get(key)
	if col == nil {
		return ErrNotCollecting
	}
	conc := st.AverageConcurrentRequests - st.AverageProxiedConcurrentRequests
	rps := st.RequestCount - st.ProxiedRequestCount
	col.mu.Lock()
	col.stableConc.Record(now, conc)
	col.panicConc.Record(now, conc)
	col.stableRPS.Record(now, rps)
	col.panicRPS.Record(now, rps)
	col.mu.Unlock()
	return nil
}

// StableAndPanicConcurrency returns key's stable and panic concurrency
// averages at now. It returns ErrNoData when the stable window is empty
// and the revision is scraped; an unscraped revision (TBC -1) reports its
// (zero) averages instead.
func (c *Collector) StableAndPanicConcurrency(key types.NamespacedName, now time.Time) (float64, float64, error) {
	return c.stableAndPanic(key, now, false)
}

// StableAndPanicRPS is StableAndPanicConcurrency for requests per second.
func (c *Collector) StableAndPanicRPS(key types.NamespacedName, now time.Time) (float64, float64, error) {
	return c.stableAndPanic(key, now, true)
}

// StableAndPanic returns the averages of the metric named by metric
// (MetricRPS, or concurrency for anything else).
func (c *Collector) StableAndPanic(key types.NamespacedName, now time.Time, metric string) (float64, float64, error) {
	return c.stableAndPanic(key, now, metric == MetricRPS)
}

func (c *Collector) stableAndPanic(key types.NamespacedName, now time.Time, rps bool) (float64, float64, error) {
	col := c.get(key)
	if col == nil {
		return 0, 0, ErrNotCollecting
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	stable, panic := col.stableConc, col.panicConc
	if rps {
		stable, panic = col.stableRPS, col.panicRPS
	}
	if col.scrapes && stable.IsEmpty(now) {
		return 0, 0, ErrNoData
	}
	return stable.WindowAverage(now), panic.WindowAverage(now), nil
}
