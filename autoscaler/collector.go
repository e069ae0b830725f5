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
	// find, when set, is asked first: a MultiScaler's collector finds the
	// collections held in its revisions there, so a revision costs one
	// map entry, not two. It returns nil for a key it does not know.
	find func(types.NamespacedName) *collection
}

// collection is one revision's windows. The four windows are held by
// value (a WeightedBuckets is a TimedBuckets plus its α, unused for linear
// averaging), so a revision's window state is one object plus its bucket
// rings, and a tick reads it without interface calls.
type collection struct {
	// mu guards every field.
	mu sync.Mutex
	// scrapes: the revision's pods are scraped (TBC ≠ -1), so an empty
	// stable window is ErrNoData.
	scrapes bool
	// weighted: the windows average weighted-exponentially.
	weighted     bool
	algorithm    string
	stableWindow time.Duration
	panicWindow  time.Duration
	// stable and panic are indexed by metric: conc (0) and rps (1).
	stable [2]window.WeightedBuckets
	panic  [2]window.WeightedBuckets
}

// Window indexes in collection.stable and collection.panic.
const (
	conc = 0
	rps  = 1
)

// NewCollector returns an empty collector.
func NewCollector() *Collector {
	return &Collector{revs: make(map[types.NamespacedName]*collection)}
}

func newWindow(weighted bool, w time.Duration) window.WeightedBuckets {
	if weighted {
		return *window.NewWeightedBuckets(w)
	}
	return window.WeightedBuckets{TimedBuckets: *window.NewTimedBuckets(w)}
}

func resizeWindow(b *window.WeightedBuckets, weighted bool, now time.Time, w time.Duration) {
	if weighted {
		b.Resize(now, w)
	} else {
		b.TimedBuckets.Resize(now, w)
	}
}

// CreateOrUpdate starts collecting for key, or applies a changed spec:
// windows are resized (keeping data last written within the old window
// before now) and a changed algorithm starts new, empty windows.
func (c *Collector) CreateOrUpdate(key types.NamespacedName, s Spec, now time.Time) {
	if c.find != nil {
		if col := c.find(key); col != nil {
			col.update(s, now, false)
			return
		}
	}
	c.mu.Lock()
	col, ok := c.revs[key]
	if !ok {
		col = &collection{}
		c.revs[key] = col
	}
	c.mu.Unlock()
	col.update(s, now, !ok)
}

// update applies s to col; fresh means col was just created.
func (col *collection) update(s Spec, now time.Time, fresh bool) {
	col.mu.Lock()
	defer col.mu.Unlock()
	col.updateLocked(s, now, fresh)
}

// updateLocked is update with col.mu held.
func (col *collection) updateLocked(s Spec, now time.Time, fresh bool) {
	col.scrapes = s.Scrapes()
	if fresh || col.algorithm != s.Algorithm {
		col.algorithm = s.Algorithm
		col.weighted = s.Algorithm == AlgorithmWeightedExponential
		for i := range col.stable {
			col.stable[i] = newWindow(col.weighted, s.StableWindow)
			col.panic[i] = newWindow(col.weighted, s.PanicWindow)
		}
	} else {
		for i := range col.stable {
			if s.StableWindow != col.stableWindow {
				resizeWindow(&col.stable[i], col.weighted, now, s.StableWindow)
			}
			if s.PanicWindow != col.panicWindow {
				resizeWindow(&col.panic[i], col.weighted, now, s.PanicWindow)
			}
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
	if c.find != nil {
		if col := c.find(key); col != nil {
			return col
		}
	}
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
	col.record(now.Unix(), st)
	return nil
}

// record adds st to the windows at the second sec (Unix seconds).
func (col *collection) record(sec int64, st Stat) {
	c := st.AverageConcurrentRequests - st.AverageProxiedConcurrentRequests
	r := st.RequestCount - st.ProxiedRequestCount
	col.mu.Lock()
	col.stable[conc].RecordUnix(sec, c)
	col.panic[conc].RecordUnix(sec, c)
	col.stable[rps].RecordUnix(sec, r)
	col.panic[rps].RecordUnix(sec, r)
	col.mu.Unlock()
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
	return col.stableAndPanic(now.Unix(), rps)
}

// stableAndPanic is Collector.StableAndPanic at the second sec.
func (col *collection) stableAndPanic(sec int64, rps bool) (float64, float64, error) {
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.stableAndPanicLocked(sec, rps)
}

// stableAndPanicLocked is stableAndPanic with col.mu held.
func (col *collection) stableAndPanicLocked(sec int64, rps bool) (float64, float64, error) {
	m := conc
	if rps {
		m = 1
	}
	stable, panic := &col.stable[m], &col.panic[m]
	if col.scrapes && stable.IsEmptyUnix(sec) {
		return 0, 0, ErrNoData
	}
	if col.weighted {
		return stable.WindowAverageUnix(sec), panic.WindowAverageUnix(sec), nil
	}
	return stable.TimedBuckets.WindowAverageUnix(sec), panic.TimedBuckets.WindowAverageUnix(sec), nil
}
