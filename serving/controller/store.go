package controller

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/route"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// Store keeps what a Controller holds across restarts of its process: every
// Service, Configuration, Revision and Route with its metadata (generations,
// creation times, UIDs), spec and status, each Route's gradual rollout and last
// good route table entry, and which source applied which objects. serving/store implements it on an embedded
// transactional database (bbolt); a platform team can implement it on its own.
//
// A Controller calls Load once, in New, and Commit from then on with the records
// that changed since its last successful Commit. Values are the Controller's own
// encoding (JSON); a Store keeps them as opaque bytes. A Store need not be safe
// for concurrent use: the Controller never calls it from two goroutines at once.
type Store interface {
	// Load calls fn for every record committed, in any order, and returns fn's
	// first error. An empty store calls fn never.
	Load(fn func(Record) error) error
	// Commit writes puts and removes deletes atomically and durably: when it
	// returns nil, all of them survive a crash of the process (kill -9) or of the
	// machine; when it returns an error, none of them was made and the Controller
	// tries again at its next change.
	Commit(puts []Record, deletes []RecordKey) error
}

// Record kinds besides v1's Service, Configuration, Revision and Route.
const (
	// RecordRollout is a Route's gradual rollout (a route.Rollout), keyed by the
	// Route.
	RecordRollout = "Rollout"
	// RecordTableEntry is a Route's last good route table entry (a
	// route.TableRoute), keyed by the Route: a Route whose traffic cannot be
	// resolved after a restart serves what it served, as Knative's ingress object
	// outlives a controller restart.
	RecordTableEntry = "TableEntry"
	// RecordSource is a source's applied objects: the references of what it holds
	// and the objects as they were given to Apply. Its Namespace is "" and its
	// Name the source (e.g. a manifest file's path).
	RecordSource = "Source"
	// RecordDomainClaim is a host's claim by a namespace's DomainMapping (Knative's
	// ClusterDomainClaim): its Namespace is "", its Name the host, and its value
	// names the namespace holding it. It keeps "first claim wins" across restarts.
	RecordDomainClaim = "DomainClaim"
)

// RecordKey names a record of a Store.
type RecordKey struct {
	// Kind is v1.KindService, v1.KindConfiguration, v1.KindRevision, v1.KindRoute,
	// v1beta1.KindDomainMapping, RecordRollout, RecordTableEntry, RecordSource or
	// RecordDomainClaim.
	Kind string
	// Namespace and Name name the object (Namespace is "" for a RecordSource).
	Namespace, Name string
}

// Record is one stored object.
type Record struct {
	RecordKey
	// Value is the object's encoding; a Store must not change it.
	Value []byte
}

// sourceRecord is the value of a RecordSource.
type sourceRecord struct {
	// Refs are the objects the source holds.
	Refs []objRef `json:"refs"`
	// Applied is the list of objects as given to Apply (namespaced, not
	// defaulted): the same list again changes nothing.
	Applied json.RawMessage `json:"applied"`
}

// recordsLocked encodes the records of the objects named in only and srcs (all
// records when only is nil).
func (c *Controller) recordsLocked(only keySet, srcs map[string]bool) (map[RecordKey][]byte, error) {
	out := make(map[RecordKey][]byte)
	var firstErr error
	put := func(kind string, key types.NamespacedName, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("%s %s: %w", kind, key, err))
			return
		}
		out[RecordKey{Kind: kind, Namespace: key.Namespace, Name: key.Name}] = b
	}
	putKey := func(k types.NamespacedName) {
		if o := c.mu.services[k]; o != nil {
			put(v1.KindService, k, o)
		}
		if o := c.mu.configs[k]; o != nil {
			put(v1.KindConfiguration, k, o)
		}
		if o := c.mu.revs[k]; o != nil {
			put(v1.KindRevision, k, o)
		}
		if o := c.mu.routes[k]; o != nil {
			put(v1.KindRoute, k, o)
		}
		if ro := c.mu.rollouts[k]; ro != nil {
			put(RecordRollout, k, ro)
		}
		if e, ok := c.mu.entries[k]; ok {
			put(RecordTableEntry, k, e)
		}
		if o := c.mu.domains[k]; o != nil {
			put(v1beta1.KindDomainMapping, k, o)
		}
		if ns, ok := c.mu.claims[k.Name]; ok && k.Namespace == "" {
			put(RecordDomainClaim, k, claimRecord{Namespace: ns})
		}
	}
	putSource := func(src string) {
		if refs, ok := c.mu.sources[src]; ok {
			put(RecordSource, types.NamespacedName{Name: src}, sourceRecord{Refs: refs, Applied: c.mu.applied[src]})
		}
	}
	if only != nil {
		for k := range only {
			putKey(k)
		}
		for src := range srcs {
			putSource(src)
		}
		return out, firstErr
	}
	for _, m := range []map[types.NamespacedName]struct{}{keysOf(c.mu.services), keysOf(c.mu.configs), keysOf(c.mu.revs), keysOf(c.mu.routes), keysOf(c.mu.domains)} {
		for k := range m {
			putKey(k)
		}
	}
	for host := range c.mu.claims {
		putKey(domainClaimKey(host))
	}
	for src := range c.mu.sources {
		putSource(src)
	}
	return out, firstErr
}

func keysOf[V any](m map[types.NamespacedName]V) map[types.NamespacedName]struct{} {
	out := make(map[types.NamespacedName]struct{}, len(m))
	for k := range m {
		out[k] = struct{}{}
	}
	return out
}

// existsLocked reports whether the object of a record is still held.
func (c *Controller) existsLocked(k RecordKey) bool {
	key := types.NamespacedName{Namespace: k.Namespace, Name: k.Name}
	switch k.Kind {
	case v1.KindService:
		return c.mu.services[key] != nil
	case v1.KindConfiguration:
		return c.mu.configs[key] != nil
	case v1.KindRevision:
		return c.mu.revs[key] != nil
	case v1.KindRoute:
		return c.mu.routes[key] != nil
	case RecordRollout:
		return c.mu.rollouts[key] != nil
	case RecordTableEntry:
		_, ok := c.mu.entries[key]
		return ok
	case RecordSource:
		_, ok := c.mu.sources[k.Name]
		return ok
	case v1beta1.KindDomainMapping:
		return c.mu.domains[key] != nil
	case RecordDomainClaim:
		ns, ok := c.mu.claims[k.Name]
		return ok && ns != ""
	}
	return false
}

// touchLocked notes that the objects of key (a Service, Configuration, Route,
// rollout or Revision of that name) may have changed: the next persistLocked
// encodes them.
func (c *Controller) touchLocked(key types.NamespacedName) { c.mu.touched.add(key) }

// touchDirtyLocked touches every object a reconcile round is about to reconcile:
// an object changes only while it is reconciled (what it changes in others is
// marked dirty for the next round), so these are the records a pass may change.
func (c *Controller) touchDirtyLocked() {
	if c.store == nil {
		return
	}
	d := &c.mu.dirty
	for _, set := range []keySet{d.svcs, d.cfgs, d.routes, d.revs} {
		for k := range set {
			c.mu.touched.add(k)
		}
	}
}

// persistLocked commits to the Store what changed since the last commit: with all
// (a full resync), every record is encoded and compared with what was last
// committed; otherwise only the touched objects' records are, and records of
// objects no longer held are deleted. The caller holds mu, so what another caller
// reads under mu afterwards (Status, Objects) has been committed: nothing observed
// is lost to a crash. A failed commit is logged and everything is compared again
// at the next call.
func (c *Controller) persistLocked(all bool) {
	if c.store == nil {
		return
	}
	all = all || c.mu.persistAll
	only, srcs := c.mu.touched, c.mu.touchedSrc
	if all {
		only, srcs = nil, nil
	}
	cur, err := c.recordsLocked(only, srcs)
	if err != nil {
		c.log.Error("store: cannot encode; nothing committed", "err", err)
		c.mu.persistAll = true
		return
	}
	var puts []Record
	var dels []RecordKey
	for k, v := range cur {
		if old, ok := c.mu.persisted[k]; !ok || old != sha256.Sum256(v) {
			puts = append(puts, Record{RecordKey: k, Value: v})
		}
	}
	for k := range c.mu.persisted {
		if _, ok := cur[k]; !ok && (all || !c.existsLocked(k)) {
			dels = append(dels, k)
		}
	}
	clear(c.mu.touched)
	clear(c.mu.touchedSrc)
	if len(puts)+len(dels) == 0 {
		c.mu.persistAll = false
		return
	}
	slices.SortFunc(puts, func(a, b Record) int { return compareKeys(a.RecordKey, b.RecordKey) })
	slices.SortFunc(dels, compareKeys)
	if err := c.store.Commit(puts, dels); err != nil {
		c.log.Error("store: commit failed; retrying at the next change", "puts", len(puts), "deletes", len(dels), "err", err)
		c.mu.persistAll = true
		return
	}
	c.mu.persistAll = false
	for _, r := range puts {
		c.mu.persisted[r.RecordKey] = sha256.Sum256(r.Value)
	}
	for _, k := range dels {
		delete(c.mu.persisted, k)
	}
}

func compareKeys(a, b RecordKey) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// restore loads what the Store holds. Revisions are wired to the backend, the
// autoscaler and the data plane as at their creation, except that one that was
// Ready starts at zero pods and stays Ready (see addRevisionLocked). A record
// that does not decode fails New: a store is never partly or silently misread.
func (c *Controller) restore() error {
	loaded := map[RecordKey][sha256.Size]byte{}
	revs := map[types.NamespacedName]*v1.Revision{}
	err := c.store.Load(func(r Record) error {
		key := types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
		var err error
		switch r.Kind {
		case v1.KindService:
			o := &v1.Service{}
			if err = json.Unmarshal(r.Value, o); err == nil {
				c.mu.services[key] = o
			}
		case v1.KindConfiguration:
			o := &v1.Configuration{}
			if err = json.Unmarshal(r.Value, o); err == nil {
				c.mu.configs[key] = o
			}
		case v1.KindRevision:
			o := &v1.Revision{}
			if err = json.Unmarshal(r.Value, o); err == nil {
				revs[key] = o
			}
		case v1.KindRoute:
			o := &v1.Route{}
			if err = json.Unmarshal(r.Value, o); err == nil {
				c.setRouteLocked(key, o)
			}
		case RecordRollout:
			o := &route.Rollout{}
			if err = json.Unmarshal(r.Value, o); err == nil {
				c.mu.rollouts[key] = o
			}
		case RecordTableEntry:
			var o route.TableRoute
			if err = json.Unmarshal(r.Value, &o); err == nil {
				c.mu.entries[key] = o
			}
		case RecordSource:
			var o sourceRecord
			if err = json.Unmarshal(r.Value, &o); err == nil {
				c.mu.sources[r.Name] = o.Refs
				c.mu.applied[r.Name] = o.Applied
			}
		case v1beta1.KindDomainMapping:
			o := &v1beta1.DomainMapping{}
			if err = json.Unmarshal(r.Value, o); err == nil {
				c.mu.domains[key] = o
			}
		case RecordDomainClaim:
			var o claimRecord
			if err = json.Unmarshal(r.Value, &o); err == nil {
				c.mu.claims[r.Name] = o.Namespace
			}
		default:
			return fmt.Errorf("record %s %s: unknown kind", r.Kind, key)
		}
		if err != nil {
			return fmt.Errorf("record %s %s: %w", r.Kind, key, err)
		}
		loaded[r.RecordKey] = sha256.Sum256(r.Value)
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range slices.SortedFunc(maps.Keys(revs), func(a, b types.NamespacedName) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	}) {
		c.putRevisionLocked(key, revs[key])
		c.addRevisionLocked(key, revs[key], true)
	}
	c.mu.persisted = loaded
	if n := len(loaded); n > 0 {
		c.log.Info("store: state restored", "services", len(c.mu.services), "configurations", len(c.mu.configs),
			"revisions", len(c.mu.revs), "routes", len(c.mu.routes), "domainMappings", len(c.mu.domains), "sources", len(c.mu.sources))
	}
	return nil
}

// Sources returns, sorted, the sources whose objects the Controller holds: those
// applied since New and those restored from Options.Store. Whoever feeds the
// Controller decides, after a restart, which of them still exist (Apply) and which
// are gone (Delete): serving/manifests' Watcher.Adopt does it at its first scan.
func (c *Controller) Sources() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.mu.sources))
}
