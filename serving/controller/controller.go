package controller

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/gc"
	"github.com/servekit/servekit/serving/ingress"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// DefaultNamespace is the namespace of applied objects that name none, as kubectl's.
const DefaultNamespace = "default"

// Controller is the platform: reconcile loop, autoscaler, activator and ingress. Create
// it with New, feed it objects with Apply, serve Handler on the ingress listener, and
// call Run.
type Controller struct {
	backend  runtime.Backend
	clock    clock.WithTicker
	log      *slog.Logger
	defaults v1.Defaults
	asCfg    autoscaler.Config
	netCfg   route.Config
	gcCfg    gc.Config
	reporter Reporter
	resync   time.Duration
	// fullResync is how often every object is reconciled (Options.FullResyncInterval).
	fullResync time.Duration
	srcGens    bool // Options.SourceGenerations
	onActStat  func(namespace, name string, concurrency, requestCount float64)
	dial       func(ctx context.Context, network, addr string) (net.Conn, error) // nil: net.Dialer
	actTr      *http.Transport                                                   // the activator's, when dial is set
	store      Store                                                             // nil: nothing is kept across restarts
	certs      DomainCertificates                                                // nil: no HTTPS ingress
	scaler     *autoscaler.MultiScaler
	throttler  *activator.Throttler
	act        *activator.Handler
	ingress    *ingress.Ingress

	table route.TableHolder
	// dp maps each revision to its data-plane state; replaced as a whole (under mu)
	// when revisions come or go, read without locks per request.
	dp atomic.Pointer[map[types.NamespacedName]*ingress.Revision]

	kickCh chan struct{} // buffer 1: a reconcile is wanted
	pend   pendingRevs   // revisions changed by callers that must not take mu
	epMu   sync.Mutex    // serialises endpoint refreshes (refreshEndpoints)
	panics sync.Map      // types.NamespacedName → bool: the decider's panic mode at its last tick

	mu struct {
		sync.Mutex
		services map[types.NamespacedName]*v1.Service
		configs  map[types.NamespacedName]*v1.Configuration
		routes   map[types.NamespacedName]*v1.Route
		revs     map[types.NamespacedName]*v1.Revision
		domains  map[types.NamespacedName]*v1beta1.DomainMapping
		// claims maps each host a DomainMapping claimed to the namespace that
		// holds it (Knative's ClusterDomainClaims); dmEntries are the table
		// entries of the DomainMappings that route (see reconcileDomainsLocked).
		claims    map[string]string
		dmEntries []route.TableRoute
		state     map[types.NamespacedName]*revState
		// sources maps a source (manifest file) to the objects it applied.
		sources map[string][]objRef
		// applied maps a source to the JSON of the objects last given to Apply
		// (namespaced, not defaulted): applying the same objects again is a no-op.
		applied map[string][]byte
		// persisted is what the Store holds: each record's SHA-256 as last
		// committed (a hash, not the bytes: the records are the size of the
		// objects).
		persisted map[RecordKey][sha256.Size]byte
		// touched and touchedSrc name the objects and sources changed since the
		// last commit (persistLocked); persistAll asks for a comparison of every
		// record (after a failed commit).
		touched    keySet
		touchedSrc map[string]bool
		persistAll bool
		// invalid maps a source to why its last version was rejected.
		invalid map[string]string
		// entries keeps each Route's last good table entry, so a Route whose
		// traffic cannot be resolved for a moment keeps serving what it served.
		entries map[types.NamespacedName]route.TableRoute
		// rollouts keeps each Route's effective gradual rollout.
		rollouts map[types.NamespacedName]*route.Rollout
		running  bool

		// dirty holds what the next reconcile pass reconciles.
		dirty dirtySet
		// refs indexes Routes by what their spec traffic names.
		refs routeRefs
		// revsByCfg indexes revisions by their Configuration's key.
		revsByCfg map[types.NamespacedName]keySet
		// deadlines holds when each revision that has never been ready reaches
		// its progress deadline; rolling the Routes in a gradual rollout; queued
		// the revisions last reported with requests waiting in the activator.
		// Each pass reconciles those due.
		deadlines map[types.NamespacedName]time.Time
		rolling   keySet
		queued    keySet
		// lastFull is when every object was last reconciled.
		lastFull time.Time
		// passes counts reconcile passes; reconciled is the number of objects
		// the last one reconciled (what an idle pass must keep at 0).
		passes     uint64
		reconciled int
	}
}

// objRef names an applied object.
type objRef struct {
	Kind string
	Key  types.NamespacedName
}

// revState is the controller's bookkeeping for one revision. Guarded by mu.
type revState struct {
	key        types.NamespacedName
	spec       autoscaler.Spec
	reachable  bool
	result     autoscaler.ScaleResult
	haveResult bool
	everReady  bool
	applyErr   error
	// hpa: the revision's autoscaling class is the HPA, run by the backend
	// (runtime.HPAScaler); the KPA never sees it.
	hpa   bool
	ready string // last logged Ready status, for state-change lines
	dp    *ingress.Revision
}

// New returns a Controller configured by o.
func New(o Options) (*Controller, error) {
	if o.Backend == nil {
		return nil, errors.New("controller: Options.Backend is required")
	}
	c := &Controller{
		backend:    o.Backend,
		clock:      o.Clock,
		log:        o.Logger,
		reporter:   o.Reporter,
		resync:     o.ResyncInterval,
		fullResync: o.FullResyncInterval,
		srcGens:    o.SourceGenerations,
		onActStat:  o.OnActivatorStat,
		dial:       o.DialContext,
		store:      o.Store,
		certs:      o.Certificates,
		kickCh:     make(chan struct{}, 1),
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.reporter == nil {
		c.reporter = nopReporter{}
	}
	if c.resync <= 0 {
		c.resync = time.Second
	}
	if c.fullResync <= 0 {
		c.fullResync = DefaultFullResyncInterval
	}
	c.defaults = v1.StockDefaults()
	if o.Defaults != nil {
		c.defaults = *o.Defaults
	}
	c.asCfg = autoscaler.DefaultConfig()
	if o.Autoscaler != nil {
		c.asCfg = *o.Autoscaler
	}
	if c.defaults.Autoscaler == nil {
		c.defaults.Autoscaler = &c.asCfg // annotations are validated against it
	}
	if o.Network != nil {
		c.netCfg = *o.Network
	} else {
		nc, err := route.ConfigFromMaps(route.ConfigMaps{Domain: map[string]string{"example.com": ""}})
		if err != nil {
			return nil, err
		}
		c.netCfg = nc
	}
	c.gcCfg = gc.DefaultConfig()
	if o.GC != nil {
		c.gcCfg = *o.GC
	}
	scaler, err := autoscaler.NewMultiScaler(autoscaler.Options{
		Clock:       c.clock,
		Logger:      c.log,
		PodCounter:  podCounter{c},
		ScaleSetter: scaleSetter{c},
		Scraper:     scraper{c},
		Reporter:    tickReporter{c},
	})
	if err != nil {
		return nil, err
	}
	c.scaler = scaler
	var actTransport http.RoundTripper // nil: the throttler's own
	if c.dial != nil {
		c.actTr = activator.NewTransport()
		c.actTr.DialContext = c.dial
		actTransport = c.actTr
	}
	c.throttler = activator.NewThrottler(activator.Options{
		Transport: actTransport,
		Clock:     c.clock,
		PeerToken: o.PeerToken,
		StatSink:  activator.StatSinkFunc(c.recordActivatorStat),
		Hooks: activator.Hooks{
			ColdStart: func(k activator.RevisionKey, d time.Duration) {
				c.reporter.ReportColdStart(types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, d)
				if f := o.ActivatorHooks.ColdStart; f != nil {
					f(k, d)
				}
			},
			QueueWait: o.ActivatorHooks.QueueWait,
			Rejected:  o.ActivatorHooks.Rejected,
		},
		Logger: c.log,
	})
	if err := c.throttler.UpdateActivators(0, 1); err != nil {
		return nil, err
	}
	c.act, err = activator.NewHandler(activator.HandlerOptions{
		Throttler: c.throttler,
		Resolver:  activator.ResolverFunc(ingress.ResolveRevision),
		PeerToken: o.PeerToken,
		Logger:    c.log,
	})
	if err != nil {
		return nil, err
	}
	c.ingress, err = ingress.New(ingress.Options{
		Routes:           &c.table,
		TagHeaderRouting: c.netCfg.TagHeaderRouting,
		Revision:         func(key types.NamespacedName) *ingress.Revision { return (*c.dp.Load())[key] },
		Activator:        c.act,
		DialContext:      c.dial,
		Reporter:         c.reporter,
	})
	if err != nil {
		return nil, err
	}
	c.mu.services = make(map[types.NamespacedName]*v1.Service)
	c.mu.configs = make(map[types.NamespacedName]*v1.Configuration)
	c.mu.routes = make(map[types.NamespacedName]*v1.Route)
	c.mu.revs = make(map[types.NamespacedName]*v1.Revision)
	c.mu.domains = make(map[types.NamespacedName]*v1beta1.DomainMapping)
	c.mu.claims = make(map[string]string)
	c.mu.state = make(map[types.NamespacedName]*revState)
	c.mu.sources = make(map[string][]objRef)
	c.mu.applied = make(map[string][]byte)
	c.mu.persisted = make(map[RecordKey][sha256.Size]byte)
	c.mu.touched = keySet{}
	c.mu.touchedSrc = make(map[string]bool)
	c.mu.invalid = make(map[string]string)
	c.mu.entries = make(map[types.NamespacedName]route.TableRoute)
	c.mu.rollouts = make(map[types.NamespacedName]*route.Rollout)
	c.mu.dirty = newDirtySet()
	c.mu.refs = newRouteRefs()
	c.mu.revsByCfg = make(map[types.NamespacedName]keySet)
	c.mu.deadlines = make(map[types.NamespacedName]time.Time)
	c.mu.rolling = keySet{}
	c.mu.queued = keySet{}
	empty := map[types.NamespacedName]*ingress.Revision{}
	c.dp.Store(&empty)
	table, _ := route.NewTable(nil, c.netCfg.TableOptions())
	c.table.Store(table)
	if c.store != nil {
		if err := c.restore(); err != nil {
			return nil, fmt.Errorf("controller: Options.Store: %w", err)
		}
		// The route table at once: restored hosts answer from the start, not only
		// from Run's first reconcile.
		c.reconcile()
	}
	return c, nil
}

// Handler returns the ingress (an *ingress.Ingress): it routes each request by Host
// (and the Knative-Serving-Tag header when tag-header-based-routing is enabled) to a
// revision, then straight to one of its pods or through the activator.
func (c *Controller) Handler() http.Handler { return c.ingress }

// Run runs the backend, the autoscaler, the activator and the reconcile loop until
// ctx is done. It returns after all of them have stopped (every pod stopped by the
// backend). Stop serving Handler before cancelling ctx so no request is cut.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.mu.running {
		c.mu.Unlock()
		return errors.New("controller: Run called twice")
	}
	c.mu.running = true
	c.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.backend.Run(gctx, c.podsChanged) })
	g.Go(func() error { return c.scaler.Run(gctx) })
	g.Go(func() error { return c.throttler.Run(gctx) })
	defer c.ingress.CloseIdleConnections()
	if c.actTr != nil {
		defer c.actTr.CloseIdleConnections()
	}
	g.Go(func() error {
		t := c.clock.NewTicker(c.resync)
		defer t.Stop()
		c.reconcile()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C():
			case <-c.kickCh:
			}
			c.reconcile()
		}
	})
	return g.Wait()
}

// kick asks for a reconcile soon; it never blocks.
func (c *Controller) kick() {
	select {
	case c.kickCh <- struct{}{}:
	default:
	}
}

// ApplyError is the error of Apply: the problems of one source, each with the field
// path Knative would report.
type ApplyError struct {
	// Source is the source that was rejected.
	Source string
	// Problems are "<kind> <namespace>/<name>: <field path>: <message>" lines.
	Problems []string
}

// Error joins the problems.
func (e *ApplyError) Error() string {
	return e.Source + ": " + strings.Join(e.Problems, "; ")
}

// Apply makes the objects of a source (e.g. a manifest file) the desired state: each
// is defaulted and validated as Knative's webhook would (updates of an existing
// object with ValidateUpdate), and objects the source applied before but no longer
// holds are deleted. If any object is invalid, nothing changes and the returned
// *ApplyError names each problem with its field path; the source is then listed in
// Status().Errors until a valid version is applied or it is removed.
func (c *Controller) Apply(source string, objs []v1.Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var problems []string
	bad := func(kind string, key types.NamespacedName, errs field.ErrorList) {
		for _, e := range errs {
			problems = append(problems, fmt.Sprintf("%s %s: %s: %s", kind, key, e.Field, v1.Message(e)))
		}
	}
	var refs []objRef
	seen := map[objRef]bool{}
	prepared := make([]v1.Object, 0, len(objs))
	given := make([]v1.Object, 0, len(objs))
	for _, o := range objs {
		o = o.DeepCopyObject().(v1.Object)
		if o.GetNamespace() == "" {
			o.SetNamespace(DefaultNamespace)
		}
		given = append(given, o.DeepCopyObject().(v1.Object))
	}
	// The same objects again (a manifest re-read at start-up, or saved again with
	// only its comments or layout changed) change nothing, as kubectl apply of an
	// unchanged manifest: defaulting them as an update would differ from their
	// defaulting as a create (enableServiceLinks, a BYO-named template), and so
	// would stamp a Revision or be refused.
	appliedJSON, encErr := json.Marshal(given)
	if _, ok := c.mu.sources[source]; ok && encErr == nil && bytes.Equal(appliedJSON, c.mu.applied[source]) {
		delete(c.mu.invalid, source)
		return nil
	}
	for _, o := range given {
		o = o.DeepCopyObject().(v1.Object)
		key := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
		var kind string
		var errs field.ErrorList
		switch obj := o.(type) {
		case *v1.Service:
			kind = v1.KindService
			errs = defaultAndValidate(obj, c.mu.services[key], c.srcGens, c.defaults)
		case *v1.Configuration:
			kind = v1.KindConfiguration
			errs = defaultAndValidate(obj, c.mu.configs[key], c.srcGens, c.defaults)
		case *v1.Route:
			kind = v1.KindRoute
			obj.SetDefaults(c.defaults)
			errs = obj.Validate(c.defaults)
		case *v1beta1.DomainMapping:
			kind = v1beta1.KindDomainMapping
			obj.SetDefaults(c.defaults)
			errs = obj.Validate(c.defaults)
		default:
			problems = append(problems, fmt.Sprintf("%T %s: kind: only Service, Configuration, Route and DomainMapping can be applied (Revisions are made by Configurations)", o, key))
			continue
		}
		bad(kind, key, errs)
		ref := objRef{Kind: kind, Key: key}
		if seen[ref] {
			problems = append(problems, fmt.Sprintf("%s %s: metadata.name: defined twice in this source", kind, key))
		}
		seen[ref] = true
		if owner := c.ownerLocked(ref); owner != "" && owner != source {
			problems = append(problems, fmt.Sprintf("%s %s: metadata.name: already defined by %s", kind, key, owner))
		}
		if kind != v1.KindService && kind != v1beta1.KindDomainMapping {
			// A Configuration or Route of the same name as a Service belongs to it.
			if _, ok := c.mu.services[key]; ok {
				problems = append(problems, fmt.Sprintf("%s %s: metadata.name: owned by Service %s", kind, key, key))
			}
		}
		refs = append(refs, ref)
		prepared = append(prepared, o)
	}
	if len(problems) > 0 {
		err := &ApplyError{Source: source, Problems: problems}
		c.mu.invalid[source] = err.Error()
		c.logRejectedLocked(source, "problems", problems)
		return err
	}
	delete(c.mu.invalid, source)
	now := c.clock.Now()
	for _, o := range prepared {
		c.storeLocked(o, now)
	}
	for _, old := range c.mu.sources[source] {
		if !seen[old] {
			c.deleteLocked(old)
		}
	}
	c.mu.sources[source] = refs
	c.mu.applied[source] = appliedJSON
	if encErr != nil {
		delete(c.mu.applied, source)
	}
	for _, ref := range refs {
		c.touchLocked(ref.Key)
	}
	c.mu.touchedSrc[source] = true
	c.persistLocked(false)
	c.kick()
	return nil
}

// Reject records that a source could not be read or decoded (err says why, with
// field paths where there are any). Its previously applied objects stay as they were.
//
// It logs one line, as a rejected Apply does: callers (serving/manifests' Watcher,
// the Kubernetes store) log nothing more for it.
func (c *Controller) Reject(source string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.invalid[source] = err.Error()
	c.logRejectedLocked(source, "err", err)
}

// logRejectedLocked writes the one line of a rejected source, saying whether it
// keeps objects an earlier version applied (an editor's half-written save).
func (c *Controller) logRejectedLocked(source string, args ...any) {
	if n := len(c.mu.sources[source]); n > 0 {
		c.log.Error("manifest rejected; keeping the objects it last applied until it is valid again or removed",
			append([]any{"source", source, "kept", n}, args...)...)
		return
	}
	c.log.Error("manifest rejected; nothing changed", append([]any{"source", source}, args...)...)
}

// Delete removes the objects a source applied (and what they own: a Service's
// Configuration, Route and Revisions) and forgets the source.
func (c *Controller) Delete(source string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ref := range c.mu.sources[source] {
		c.deleteLocked(ref)
	}
	delete(c.mu.sources, source)
	delete(c.mu.applied, source)
	delete(c.mu.invalid, source)
	c.persistLocked(false) // the source's records and its objects' go: they are no longer held
	c.kick()
}

func (c *Controller) ownerLocked(ref objRef) string {
	for src, refs := range c.mu.sources {
		if slices.Contains(refs, ref) {
			return src
		}
	}
	return ""
}

// storeLocked stores an applied object, bumping its generation when its spec changed.
func (c *Controller) storeLocked(o v1.Object, now time.Time) {
	key := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
	switch obj := o.(type) {
	case *v1.Service:
		if old := c.mu.services[key]; old != nil {
			obj.ObjectMeta = mergeMeta(old.ObjectMeta, obj.ObjectMeta, !specEqual(old.Spec, obj.Spec))
			obj.Status = old.Status
		} else {
			initMeta(&obj.ObjectMeta, now)
			obj.Status.InitializeConditions(now)
		}
		c.mu.services[key] = obj
		c.mu.dirty.svcs.add(key)
	case *v1.Configuration:
		srcGen := obj.Generation
		if old := c.mu.configs[key]; old != nil {
			obj.ObjectMeta = mergeMeta(old.ObjectMeta, obj.ObjectMeta, !specEqual(old.Spec, obj.Spec))
			obj.Status = old.Status
		} else {
			initMeta(&obj.ObjectMeta, now)
			obj.Status.InitializeConditions(now)
		}
		if c.srcGens && srcGen > 0 {
			obj.Generation = srcGen // the API server's, so Revision names survive restarts
		}
		c.mu.configs[key] = obj
		c.mu.dirty.cfgs.add(key)
	case *v1.Route:
		if old := c.mu.routes[key]; old != nil {
			obj.ObjectMeta = mergeMeta(old.ObjectMeta, obj.ObjectMeta, !specEqual(old.Spec, obj.Spec))
			obj.Status = old.Status
		} else {
			initMeta(&obj.ObjectMeta, now)
			obj.Status.InitializeConditions(now)
		}
		c.setRouteLocked(key, obj)
	case *v1beta1.DomainMapping:
		if old := c.mu.domains[key]; old != nil {
			obj.ObjectMeta = mergeMeta(old.ObjectMeta, obj.ObjectMeta, !specEqual(old.Spec, obj.Spec))
			obj.Status = old.Status
		} else {
			initMeta(&obj.ObjectMeta, now)
			obj.Status.InitializeConditions(now)
		}
		c.mu.domains[key] = obj
		c.mu.dirty.table = true // DomainMappings are reconciled with the table
	}
}

// ConfirmGeneration reports that the source (the API server) holds the Configuration
// key of a Service with spec at generation gen. With Options.SourceGenerations, a
// Service's Configuration whose spec is new or changed waits, stamping no Revision,
// until its spec is confirmed; it then takes gen, so its Revision is named
// <configuration>-<gen> as Knative names it. A spec that no longer matches the
// Configuration's (it changed again meanwhile) or a Configuration not waiting is
// left as it is; ConfirmGeneration reports whether it took gen.
func (c *Controller) ConfirmGeneration(key types.NamespacedName, spec *v1.ConfigurationSpec, gen int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.mu.configs[key]
	if !c.srcGens || gen <= 0 || spec == nil || cfg == nil || cfg.Generation != 0 || !specEqual(cfg.Spec, *spec) {
		return false
	}
	cfg.Generation = gen
	c.mu.dirty.cfgs.add(key)
	c.touchLocked(key)
	c.persistLocked(false)
	c.kick()
	return true
}

// deleteLocked deletes an applied object and what it owns.
func (c *Controller) deleteLocked(ref objRef) {
	switch ref.Kind {
	case v1.KindService:
		delete(c.mu.services, ref.Key)
		// Its Configuration and Route go too (Knative: owner references).
		if cfg := c.mu.configs[ref.Key]; cfg != nil && cfg.Labels[serving.ServiceLabelKey] == ref.Key.Name {
			c.deleteConfigLocked(ref.Key)
		}
		c.deleteRouteLocked(ref.Key)
	case v1.KindConfiguration:
		c.deleteConfigLocked(ref.Key)
	case v1.KindRoute:
		c.deleteRouteLocked(ref.Key)
	case v1beta1.KindDomainMapping:
		delete(c.mu.domains, ref.Key)
		c.mu.dirty.table = true // its host leaves the table, its claim is released
	}
}

func (c *Controller) deleteConfigLocked(key types.NamespacedName) {
	if cfg := c.mu.configs[key]; cfg != nil {
		c.configurationChangedLocked(cfg) // the Routes that reference it see it gone
	}
	delete(c.mu.configs, key)
	for rk := range c.mu.revsByCfg[key] {
		c.deleteRevisionLocked(rk)
	}
}

// templated is a Service or a Configuration: the kinds whose template defaults
// depend on the version they replace.
type templated[T any] interface {
	*T
	SetDefaults(v1.Defaults)
	SetDefaultsOnUpdate(old *T, d v1.Defaults)
	Validate(v1.Defaults) field.ErrorList
	ValidateUpdate(old *T, d v1.Defaults) field.ErrorList
	DeepCopy() *T
	GetGeneration() int64
}

// defaultAndValidate defaults obj as an update of old (nil when the controller has
// no previous version) and validates it.
func defaultAndValidate[T any, P templated[T]](obj, old P, srcGens bool, d v1.Defaults) field.ErrorList {
	switch {
	case old != nil:
		obj.SetDefaultsOnUpdate(old, d)
		return obj.ValidateUpdate(old, d)
	case srcGens && obj.GetGeneration() > 1:
		// Updated in its source before this controller started (a restart):
		// defaulted as the update it last was, so create-only defaults
		// (enableServiceLinks) do not change its Configuration's spec.
		obj.SetDefaultsOnUpdate(obj.DeepCopy(), d)
		return obj.Validate(d)
	default:
		obj.SetDefaults(d)
		return obj.Validate(d)
	}
}
