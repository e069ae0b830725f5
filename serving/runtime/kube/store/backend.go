package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Backend wraps the backend that runs the pods (serving/runtime/kube) so that it sees
// each Revision as the API server holds it. The controller stamps its own UIDs on
// the objects it makes (Revisions, a Service's Configuration); the
// Deployment and private Service a Revision becomes must be owned by the API server's
// Revision, or Kubernetes' garbage collector would delete them at once. So Apply only
// records the revision (and Scale its replicas); once the Store has created the
// Revision in the API server it applies it to the wrapped backend with the API UID
// and the API Revision's UID labels (serving.knative.dev/serviceUID and
// configurationUID: the API server's UIDs, the same after a controller restart),
// then the recorded scale. Everything else goes straight to the wrapped backend.
//
// The wrapped backend's error in applying a released revision is kept (RevisionError)
// until an apply succeeds, so the controller reports it in the Revision's status.
//
// Create it with NewBackend, hand it to controller.New as the Backend and to the Store
// as Options.Backend.
type Backend struct {
	inner  runtime.Backend
	wake   atomic.Pointer[func(types.NamespacedName)]
	notify atomic.Pointer[func(types.NamespacedName)] // the controller's, from Run

	mu struct {
		sync.Mutex
		pending map[types.NamespacedName]*pendingRev
		// errs holds the last release error of each revision; none after a success.
		errs map[types.NamespacedName]error
	}
}

// pendingRev is a revision not yet created in the API server, or applied to the
// wrapped backend but not yet scaled there. Guarded by Backend.mu.
type pendingRev struct {
	rev      *v1.Revision
	replicas int
	scaled   bool
	applied  bool             // the wrapped backend has it; only the scale is left
	hpa      *autoscaler.Spec // SetHPA's spec, for an HPA-class revision
	version  uint64           // counts the Scale calls, so a release sees one made meanwhile

	// op serialises the releases of this revision, and Delete waits for one in
	// flight; the wrapped backend's calls run under it, not under Backend.mu, so
	// they hold up no other revision.
	op sync.Mutex
}

var (
	_ runtime.Backend         = (*Backend)(nil)
	_ runtime.RevisionErrorer = (*Backend)(nil)
	_ runtime.HPAScaler       = (*Backend)(nil)
)

// NewBackend wraps inner.
func NewBackend(inner runtime.Backend) *Backend {
	b := &Backend{inner: inner}
	b.mu.pending = map[types.NamespacedName]*pendingRev{}
	b.mu.errs = map[types.NamespacedName]error{}
	return b
}

// Run runs the wrapped backend. notify is also called when a revision's
// RevisionError changes.
func (b *Backend) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	b.notify.Store(&notify)
	return b.inner.Run(ctx, notify)
}

// RevisionError returns the wrapped backend's last error in applying or scaling the
// released revision key, or nil if there was none since its last success.
func (b *Backend) RevisionError(key types.NamespacedName) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.errs[key]
}

// Apply records rev until the Store has created it in the API server.
func (b *Backend) Apply(rev *v1.Revision) error {
	key := types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}
	b.mu.Lock()
	b.mu.pending[key] = &pendingRev{rev: rev.DeepCopy()}
	b.mu.Unlock()
	if w := b.wake.Load(); w != nil {
		(*w)(key)
	}
	return nil
}

// Scale records the replicas of a pending revision, or scales the wrapped backend's.
func (b *Backend) Scale(key types.NamespacedName, replicas int) error {
	b.mu.Lock()
	if p := b.mu.pending[key]; p != nil {
		p.replicas, p.scaled = replicas, true
		p.version++
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.inner.Scale(key, replicas)
}

// SetHPA records the HPA spec of a pending revision (released with it, after its
// Apply), or hands it to the wrapped backend's HPA. A wrapped backend that does not
// implement runtime.HPAScaler cannot run the HPA class: that is the error.
func (b *Backend) SetHPA(key types.NamespacedName, spec autoscaler.Spec) error {
	hs, ok := b.inner.(runtime.HPAScaler)
	if !ok {
		return errors.New("kube/store: the wrapped backend does not run the HPA autoscaling class")
	}
	b.mu.Lock()
	if p := b.mu.pending[key]; p != nil {
		p.hpa = &spec
		p.version++
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return hs.SetHPA(key, spec)
}

// HPAStatus returns the wrapped backend's (zero if it has no HPA).
func (b *Backend) HPAStatus(key types.NamespacedName) runtime.HPAStatus {
	if hs, ok := b.inner.(runtime.HPAScaler); ok {
		return hs.HPAStatus(key)
	}
	return runtime.HPAStatus{}
}

// Delete forgets a pending revision and deletes it from the wrapped backend (after a
// release of it in flight, so that nothing it applies is left behind).
func (b *Backend) Delete(key types.NamespacedName) error {
	b.mu.Lock()
	p := b.mu.pending[key]
	delete(b.mu.pending, key)
	delete(b.mu.errs, key)
	b.mu.Unlock()
	if p != nil {
		p.op.Lock() // a release in flight ends first
		defer p.op.Unlock()
	}
	return b.inner.Delete(key)
}

// Pods returns the wrapped backend's pods.
func (b *Backend) Pods(key types.NamespacedName) []runtime.Pod { return b.inner.Pods(key) }

// Stats returns the wrapped backend's statistics.
func (b *Backend) Stats(key types.NamespacedName, now time.Time) []metrics.Stat {
	return b.inner.Stats(key, now)
}

// pendingRevision returns a copy of the pending revision key, or nil.
func (b *Backend) pendingRevision(key types.NamespacedName) *v1.Revision {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.mu.pending[key]; p != nil {
		return p.rev.DeepCopy()
	}
	return nil
}

// release applies a pending revision to the wrapped backend with the API server's
// UID and UID labels (apiLabels are the API Revision's labels: the Deployment's pod
// template then depends on nothing the controller makes up anew when it restarts),
// then its recorded scale; a Scale recorded meanwhile is written too, so none is
// lost. The wrapped backend is called without Backend.mu held. On error the revision
// stays pending (an applied one only for its scale), and the error is kept for
// RevisionError until a release succeeds.
func (b *Backend) release(key types.NamespacedName, uid types.UID, apiLabels map[string]string) error {
	b.mu.Lock()
	p := b.mu.pending[key]
	b.mu.Unlock()
	if p == nil {
		return nil
	}
	p.op.Lock()
	err := b.releaseOp(key, uid, apiLabels, p)
	p.op.Unlock()

	b.mu.Lock()
	old := b.mu.errs[key]
	switch {
	case err != nil:
		b.mu.errs[key] = err
	case b.mu.pending[key] == nil:
		delete(b.mu.errs, key)
	}
	now := b.mu.errs[key]
	b.mu.Unlock()
	changed := (old == nil) != (now == nil) || (old != nil && now != nil && old.Error() != now.Error())
	if changed {
		if n := b.notify.Load(); n != nil {
			(*n)(key) // the controller reconciles the revision's status now
		}
	}
	return err
}

// releaseOp is release's work on p, with p.op held.
func (b *Backend) releaseOp(key types.NamespacedName, uid types.UID, apiLabels map[string]string, p *pendingRev) error {
	for {
		b.mu.Lock()
		if b.mu.pending[key] != p {
			b.mu.Unlock()
			return nil // deleted, or applied again, meanwhile
		}
		applied, replicas, scaled, version, hpaSpec := p.applied, p.replicas, p.scaled, p.version, p.hpa
		var rev *v1.Revision
		if !applied {
			rev = p.rev.DeepCopy()
			rev.UID = uid
			for _, k := range uidLabels {
				if v, ok := apiLabels[k]; ok {
					if rev.Labels == nil {
						rev.Labels = map[string]string{}
					}
					rev.Labels[k] = v
				} else {
					delete(rev.Labels, k)
				}
			}
		}
		b.mu.Unlock()
		if !applied {
			if err := b.inner.Apply(rev); err != nil {
				return err
			}
			b.mu.Lock()
			p.applied = true
			b.mu.Unlock()
		}
		if scaled {
			if err := b.inner.Scale(key, replicas); err != nil {
				return err
			}
		}
		if hpaSpec != nil {
			hs, ok := b.inner.(runtime.HPAScaler)
			if !ok {
				return errors.New("kube/store: the wrapped backend does not run the HPA autoscaling class")
			}
			if err := hs.SetHPA(key, *hpaSpec); err != nil {
				return err
			}
		}
		b.mu.Lock()
		if p.version == version {
			if b.mu.pending[key] == p {
				delete(b.mu.pending, key)
			}
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock() // scaled again meanwhile: write that too
	}
}
