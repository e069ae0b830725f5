// This file owns the registry of revisions and their pods: revisions added, read,
// removed (SetRevision, Revision, Waiting, RemoveRevision), and the pod addresses
// pushed by the platform (UpdateEndpoints).

package activator

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

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
		if rev.h2c != r.H2C {
			return fmt.Errorf("activator: revision %s: H2C cannot change from %t to %t (revisions are immutable)",
				key, rev.h2c, r.H2C)
		}
		rev.timeout.Store(int64(r.timeout()))
		return nil
	}
	rev := &revision{
		key:     key,
		cc:      r.ContainerConcurrency,
		h2c:     r.H2C,
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
	return Revision{ContainerConcurrency: rev.cc, Timeout: time.Duration(rev.timeout.Load()), H2C: rev.h2c}, true
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
