package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/servekit/servekit/serving"
	servingruntime "github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
	"github.com/servekit/servekit/serving/v1beta1"
)

// The resources Store reads and writes.
var (
	ServicesGVR       = v1.SchemeGroupVersion.WithResource("services")
	ConfigurationsGVR = v1.SchemeGroupVersion.WithResource("configurations")
	RoutesGVR         = v1.SchemeGroupVersion.WithResource("routes")
	RevisionsGVR      = v1.SchemeGroupVersion.WithResource("revisions")
	// DomainMappingsGVR is serving.knative.dev/v1beta1 domainmappings.
	DomainMappingsGVR = v1beta1.SchemeGroupVersion.WithResource("domainmappings")
)

// gvr returns the GroupVersionResource of one of the resources Store handles.
func gvr(resource string) schema.GroupVersionResource {
	if resource == DomainMappingsGVR.Resource {
		return DomainMappingsGVR
	}
	return v1.SchemeGroupVersion.WithResource(resource)
}

// SourcePrefix starts the source name of every object Store applies to the controller:
// "kube:<resource>/<namespace>/<name>".
const SourcePrefix = "kube:"

// Controller is what Store needs of a *controller.Controller. The error of Apply,
// less a leading "<source>: " (as *controller.ApplyError writes it), is the message
// of the rejected object's Ready condition.
type Controller interface {
	Apply(source string, objs []v1.Object) error
	Reject(source string, err error)
	Delete(source string)
	Objects() servingruntime.Objects
}

// Options configure a Store. Client and Controller are required.
type Options struct {
	// Client talks to the API server; required.
	Client dynamic.Interface
	// Controller receives the objects and is read back; required. A
	// *controller.Controller made with Options.SourceGenerations names Revisions
	// from the API server's Configuration generations: Store confirms each
	// Service's Configuration generation to it (ConfirmGeneration) after writing.
	// One that has RevisionDeleted (a *controller.Controller) is told when a
	// Revision it made is deleted from the API server by someone else.
	Controller Controller
	// Namespace limits the store to one namespace. Empty means all namespaces.
	Namespace string
	// SyncInterval is how often the controller's objects are compared with the API
	// server's and the differences queued for writing. Zero means 1s, the
	// controller's resync.
	SyncInterval time.Duration
	// RateLimiter spaces the retries of a failing write per object. Nil means
	// workqueue.DefaultTypedControllerRateLimiter (5ms doubling to 1000s, 10 qps overall).
	RateLimiter workqueue.TypedRateLimiter[Ref]
	// RequestTimeout bounds each API call. Zero means 30s.
	RequestTimeout time.Duration
	// Clock drives the sync loop and the queues. Nil means the real clock.
	Clock clock.WithTicker
	// Backend, if not nil, is the controller's backend wrapper: the Store applies each
	// Revision to it once the Revision exists in the API server. Nil means the
	// controller's backend sees the controller's own UIDs.
	Backend *Backend
	// Logger receives write failures and rejected objects. Nil discards.
	Logger *slog.Logger
	// Follower starts the store as a follower: it applies the API objects to the
	// controller as a leader does, but writes nothing to the API server (no create,
	// update, delete or status). It confirms the generations of the Services'
	// Configurations from the API server's copies (written by the leader) and
	// releases each Revision to Backend once the API server holds it, owned by the
	// right parent, so its controller computes the same Revision names and routes as
	// the leader's. SetLeader switches. False means a leader: the store writes.
	Follower bool
	// IngressName is the DNS name of the ingress's Kubernetes Service, e.g.
	// "servekit-ingress.servekit.svc.cluster.local". When set, the store keeps a
	// placeholder Service for each Route and each of its tags (Knative's
	// networking layer does): an ExternalName Service to IngressName named like the
	// Route ("<tag>-<route>" for a tag, see TagName) in the Route's namespace,
	// labelled serving.knative.dev/route and owned by the Route, so that the
	// Route's cluster-local addresses resolve inside the cluster. "" makes none.
	IngressName string
	// TagName names a tag's placeholder Service: config-network's tag-template
	// (route.Config.TagName). Nil means "<tag>-<route>", the default template.
	TagName func(route, tag string) (string, error)
	// Recorder, if not nil, receives Knative's Events (see events.go): Created on
	// a Service for its Configuration and Route and on a Configuration for its
	// Revision, ConfigurationReady, LatestReadyUpdate, LatestCreatedFailed and
	// LatestReadyFailed on a Configuration, RevisionReady on a Revision,
	// InternalError on an object whose write (or, for a Revision, whose backend
	// apply) fails; each once per change, never per resync. Nil records none.
	Recorder record.EventRecorder
}

// Ref names one object of one resource.
type Ref struct {
	// Resource is the plural resource: services, configurations, routes, revisions,
	// domainmappings.
	Resource string
	// Namespace and Name name the object.
	Namespace, Name string
}

// String is "<resource>/<namespace>/<name>".
func (r Ref) String() string { return r.Resource + "/" + r.Namespace + "/" + r.Name }

// Source is the controller source name under which Store applies the object.
func (r Ref) Source() string { return SourcePrefix + r.String() }

// Store feeds a controller from the API server and writes the controller's children
// and status back. Create it with New and call Run.
type Store struct {
	opts      Options
	client    dynamic.Interface
	ctrl      Controller
	clock     clock.WithTicker
	log       *slog.Logger
	factory   dynamicinformer.DynamicSharedInformerFactory
	informers map[string]cache.SharedIndexInformer // by resource
	in        workqueue.TypedRateLimitingInterface[Ref]
	out       workqueue.TypedRateLimitingInterface[Ref]
	leader    atomic.Bool   // writes to the API server (SetLeader)
	ph        *placeholders // nil without Options.IngressName

	mu struct {
		sync.Mutex
		// applied maps each object applied to the controller to the generation
		// pair of its last apply (controller's, API server's).
		applied map[Ref]genPair
		// desired is the controller's latest version of each object to write.
		desired map[Ref]v1.Object
		// made lists the children this store wrote and the controller still had.
		made map[Ref]bool
		// wroteSpec and wroteStatus are what was last written, as unstructured.
		wroteSpec   map[Ref]any
		wroteStatus map[Ref]any
		// uids are the API-server UIDs of the children this store created.
		uids map[Ref]types.UID
		// rejected maps each API object whose last version the controller
		// refused (or the store could not convert) to why.
		rejected map[Ref]rejection
		// deleted holds the UID of each Revision the informer saw deleted and
		// write has not handled yet.
		deleted map[Ref]types.UID
		// lastError is the message of the last InternalError Event recorded
		// for each object whose write still fails.
		lastError map[Ref]string
	}
}

// rejection is an API object version the controller did not take.
type rejection struct {
	gen         int64
	labels      map[string]string
	annotations map[string]string
	message     string
	at          time.Time // first rejected with this message
}

// genPair is what the store remembers of an object it applied: the controller's
// generation and the API server's, and the API labels and annotations applied.
type genPair struct {
	ctrl, api   int64
	labels      map[string]string
	annotations map[string]string
}

// New returns a Store for opts.
func New(opts Options) (*Store, error) {
	if opts.Client == nil {
		return nil, errors.New("store: Options.Client is required")
	}
	if opts.Controller == nil {
		return nil, errors.New("store: Options.Controller is required")
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	s := &Store{opts: opts, client: opts.Client, ctrl: opts.Controller, clock: opts.Clock, log: opts.Logger}
	s.leader.Store(!opts.Follower)
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	rl := opts.RateLimiter
	if rl == nil {
		rl = workqueue.DefaultTypedControllerRateLimiter[Ref]()
	}
	s.in = workqueue.NewTypedRateLimitingQueueWithConfig(rl, workqueue.TypedRateLimitingQueueConfig[Ref]{Clock: s.clock})
	s.out = workqueue.NewTypedRateLimitingQueueWithConfig(rl, workqueue.TypedRateLimitingQueueConfig[Ref]{Clock: s.clock})
	s.mu.applied = map[Ref]genPair{}
	s.mu.desired = map[Ref]v1.Object{}
	s.mu.made = map[Ref]bool{}
	s.mu.wroteSpec = map[Ref]any{}
	s.mu.wroteStatus = map[Ref]any{}
	s.mu.uids = map[Ref]types.UID{}
	s.mu.rejected = map[Ref]rejection{}
	s.mu.deleted = map[Ref]types.UID{}
	s.mu.lastError = map[Ref]string{}

	s.factory = dynamicinformer.NewFilteredDynamicSharedInformerFactory(opts.Client, 0, opts.Namespace, nil)
	s.ph = newPlaceholders(opts)
	s.informers = map[string]cache.SharedIndexInformer{}
	for _, gvr := range []schema.GroupVersionResource{ServicesGVR, ConfigurationsGVR, RoutesGVR, RevisionsGVR, DomainMappingsGVR} {
		inf := s.factory.ForResource(gvr).Informer()
		s.informers[gvr.Resource] = inf
		resource := gvr.Resource
		if gvr != ServicesGVR && gvr != DomainMappingsGVR {
			// A follower waits for the leader's children: look again when one
			// comes, changes or goes.
			follow := func(obj any) {
				if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = t.Obj
				}
				if m, err := meta(obj); err == nil && !s.leader.Load() {
					s.out.Add(Ref{Resource: resource, Namespace: m.GetNamespace(), Name: m.GetName()})
				}
			}
			if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc:    follow,
				UpdateFunc: func(_, obj any) { follow(obj) },
				DeleteFunc: follow,
			}); err != nil {
				return nil, fmt.Errorf("store: %s handler: %w", resource, err)
			}
		}
		if gvr == RevisionsGVR {
			// Revisions are never applied; a deleted one is handed to write.
			if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
				if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = t.Obj
				}
				if m, err := meta(obj); err == nil {
					ref := Ref{Resource: resource, Namespace: m.GetNamespace(), Name: m.GetName()}
					s.mu.Lock()
					s.mu.deleted[ref] = m.GetUID()
					s.mu.Unlock()
					s.out.Add(ref)
				}
			}}); err != nil {
				return nil, fmt.Errorf("store: %s handler: %w", resource, err)
			}
			continue
		}
		enqueue := func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if m, err := meta(obj); err == nil {
				s.in.Add(Ref{Resource: resource, Namespace: m.GetNamespace(), Name: m.GetName()})
			}
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, obj any) { enqueue(obj) },
			DeleteFunc: enqueue,
		}); err != nil {
			return nil, fmt.Errorf("store: %s handler: %w", resource, err)
		}
	}
	if opts.Backend != nil {
		wake := func(key types.NamespacedName) {
			s.out.Add(Ref{Resource: RevisionsGVR.Resource, Namespace: key.Namespace, Name: key.Name})
		}
		opts.Backend.wake.Store(&wake)
	}
	return s, nil
}

// SetLeader makes the store write to the API server (on) or only follow it (off),
// from its next write on. On true it queues a Sync at once: every child the
// controller has is created or adopted as it exists, and every status written.
// Safe to call before or during Run.
func (s *Store) SetLeader(on bool) {
	if s.leader.Swap(on) == on {
		return
	}
	s.log.Info("store: leader", "leader", on)
	if on {
		s.Sync()
	}
}

func meta(obj any) (metav1.Object, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("store: unexpected %T in an informer", obj)
	}
	return u, nil
}

// Run starts the informers, applies every Service, Configuration, Route and DomainMapping to the
// controller as it comes and goes, and writes the controller's children and status
// back every SyncInterval, until ctx is done. It returns nil after every goroutine it
// started has ended.
func (s *Store) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer s.factory.Shutdown()
	s.factory.Start(ctx.Done())
	if s.ph != nil {
		defer s.ph.factory.Shutdown()
		s.ph.factory.Start(ctx.Done())
	}
	wg.Go(func() {
		<-ctx.Done()
		s.in.ShutDown()
		s.out.ShutDown()
	})
	wg.Go(func() {
		for s.processIn() {
		}
	})
	syncs := make([]cache.InformerSynced, 0, len(s.informers))
	for _, inf := range s.informers {
		syncs = append(syncs, inf.HasSynced)
	}
	if s.ph != nil {
		syncs = append(syncs, s.ph.informer.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), syncs...) {
		return nil
	}
	wg.Go(func() {
		for s.processOut(ctx) {
		}
	})
	t := s.clock.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	for {
		s.Sync()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// processIn applies one object to the controller; false once the queue is shut down.
func (s *Store) processIn() bool {
	ref, quit := s.in.Get()
	if quit {
		return false
	}
	defer s.in.Done(ref)
	s.syncIn(ref)
	s.in.Forget(ref)
	return true
}

func (s *Store) cached(ref Ref) (*unstructured.Unstructured, bool) {
	inf := s.informers[ref.Resource]
	if inf == nil {
		return nil, false
	}
	key := ref.Name
	if ref.Namespace != "" {
		key = ref.Namespace + "/" + ref.Name
	}
	obj, ok, err := inf.GetIndexer().GetByKey(key)
	if err != nil || !ok {
		return nil, false
	}
	u, ok := obj.(*unstructured.Unstructured)
	return u, ok
}

// controlledByService reports whether an object is a Service's child.
func controlledByService(u *unstructured.Unstructured) bool {
	ref := metav1.GetControllerOf(u)
	return ref != nil && ref.Kind == v1.KindService && strings.HasPrefix(ref.APIVersion, serving.GroupName+"/")
}

// syncIn applies the API server's version of ref to the controller, or deletes it.
func (s *Store) syncIn(ref Ref) {
	u, ok := s.cached(ref)
	s.mu.Lock()
	last, wasApplied := s.mu.applied[ref]
	rej, wasRejected := s.mu.rejected[ref]
	s.mu.Unlock()
	if !ok || controlledByService(u) {
		if wasApplied || wasRejected {
			s.ctrl.Delete(ref.Source()) // also forgets a rejection
			s.mu.Lock()
			delete(s.mu.applied, ref)
			delete(s.mu.rejected, ref)
			s.mu.Unlock()
			s.log.Info("store: object deleted", "object", ref.String())
		}
		return
	}
	if wasRejected && rej.gen == u.GetGeneration() && maps.Equal(rej.labels, u.GetLabels()) && maps.Equal(rej.annotations, u.GetAnnotations()) {
		return // the rejected version again (e.g. our status write)
	}
	if !wasRejected && wasApplied && last.api == u.GetGeneration() && maps.Equal(last.labels, u.GetLabels()) && maps.Equal(last.annotations, u.GetAnnotations()) {
		return // a status write (ours) or another change the controller does not read
	}
	obj, err := toTyped(ref.Resource, u)
	if err != nil {
		s.ctrl.Reject(ref.Source(), err)
		s.reject(ref, u, err.Error())
		return
	}
	if err := s.ctrl.Apply(ref.Source(), []v1.Object{obj}); err != nil {
		// The controller logged it (one line per rejection). A *controller.ApplyError reads "<source>: <problem>; <problem>…": the
		// status message is the problems.
		msg := strings.TrimPrefix(err.Error(), ref.Source()+": ")
		s.reject(ref, u, msg)
		return
	}
	ctrlGen := int64(0)
	if got := find(s.ctrl.Objects(), ref); got != nil {
		ctrlGen = got.GetGeneration()
	}
	s.mu.Lock()
	s.mu.applied[ref] = genPair{ctrl: ctrlGen, api: u.GetGeneration(), labels: u.GetLabels(), annotations: u.GetAnnotations()}
	delete(s.mu.rejected, ref)
	s.mu.Unlock()
	if wasRejected {
		s.out.Add(ref) // its status says it was rejected: rewrite it
	}
}

// reject records that the controller did not take u and queues its status write.
func (s *Store) reject(ref Ref, u *unstructured.Unstructured, message string) {
	r := rejection{gen: u.GetGeneration(), labels: u.GetLabels(), annotations: u.GetAnnotations(), message: message, at: s.clock.Now()}
	s.mu.Lock()
	if old, ok := s.mu.rejected[ref]; ok && old.message == message {
		r.at = old.at
	}
	s.mu.rejected[ref] = r
	s.mu.Unlock()
	s.out.Add(ref)
}

// toTyped converts an API object to the typed object the controller applies: the
// spec and user metadata; status and server-set fields are the controller's to set.
func toTyped(resource string, u *unstructured.Unstructured) (v1.Object, error) {
	var obj v1.Object
	switch resource {
	case ServicesGVR.Resource:
		obj = &v1.Service{}
	case ConfigurationsGVR.Resource:
		obj = &v1.Configuration{}
	case RoutesGVR.Resource:
		obj = &v1.Route{}
	case DomainMappingsGVR.Resource:
		obj = &v1beta1.DomainMapping{}
	default:
		return nil, fmt.Errorf("store: %s cannot be applied", resource)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return nil, fmt.Errorf("store: %s %s/%s: %w", resource, u.GetNamespace(), u.GetName(), err)
	}
	switch o := obj.(type) {
	case *v1.Service:
		o.Status = v1.ServiceStatus{}
	case *v1.Configuration:
		o.Status = v1.ConfigurationStatus{}
	case *v1.Route:
		o.Status = v1.RouteStatus{}
	case *v1beta1.DomainMapping:
		o.Status = v1beta1.DomainMappingStatus{}
	}
	obj.SetManagedFields(nil)
	obj.SetResourceVersion("")
	return obj, nil
}

func find(objs servingruntime.Objects, ref Ref) v1.Object {
	match := func(o metav1.Object) bool { return o.GetNamespace() == ref.Namespace && o.GetName() == ref.Name }
	switch ref.Resource {
	case ServicesGVR.Resource:
		for _, o := range objs.Services {
			if match(o) {
				return o
			}
		}
	case ConfigurationsGVR.Resource:
		for _, o := range objs.Configurations {
			if match(o) {
				return o
			}
		}
	case RoutesGVR.Resource:
		for _, o := range objs.Routes {
			if match(o) {
				return o
			}
		}
	case RevisionsGVR.Resource:
		for _, o := range objs.Revisions {
			if match(o) {
				return o
			}
		}
	case DomainMappingsGVR.Resource:
		for _, o := range objs.DomainMappings {
			if match(o) {
				return o
			}
		}
	}
	return nil
}

// Sync compares the controller's objects with what was written and queues every
// object to write; children the controller no longer has are queued for deletion.
// Run calls it every SyncInterval.
func (s *Store) Sync() {
	objs := s.ctrl.Objects()
	desired := map[Ref]v1.Object{}
	for _, o := range objs.Services {
		desired[Ref{ServicesGVR.Resource, o.Namespace, o.Name}] = o
	}
	for _, o := range objs.Configurations {
		desired[Ref{ConfigurationsGVR.Resource, o.Namespace, o.Name}] = o
	}
	for _, o := range objs.Routes {
		desired[Ref{RoutesGVR.Resource, o.Namespace, o.Name}] = o
	}
	for _, o := range objs.Revisions {
		desired[Ref{RevisionsGVR.Resource, o.Namespace, o.Name}] = o
	}
	for _, o := range objs.DomainMappings {
		desired[Ref{DomainMappingsGVR.Resource, o.Namespace, o.Name}] = o
	}
	s.mu.Lock()
	var gone []Ref
	for ref := range s.mu.made {
		if _, ok := desired[ref]; !ok {
			gone = append(gone, ref)
		}
	}
	s.mu.desired = desired
	for ref := range s.mu.rejected {
		if _, ok := desired[ref]; !ok {
			// Rejected at once, so the controller does not have it: its
			// status is still to write.
			gone = append(gone, ref)
		}
	}
	s.mu.Unlock()
	for ref := range desired {
		if s.out.NumRequeues(ref) > 0 {
			continue // failing: retried when its back-off ends, not every Sync
		}
		s.out.Add(ref)
	}
	for _, ref := range gone {
		s.out.Add(ref)
	}
}

// processOut writes one object; false once the queue is shut down.
func (s *Store) processOut(ctx context.Context) bool {
	ref, quit := s.out.Get()
	if quit {
		return false
	}
	defer s.out.Done(ref)
	err := errors.Join(s.write(ctx, ref), s.writePlaceholders(ctx, ref))
	if ctx.Err() == nil && s.leader.Load() {
		s.recordError(ref, err)
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("store: write failed; retrying", "object", ref.String(), "err", err, "retries", s.out.NumRequeues(ref))
			s.out.AddRateLimited(ref)
		}
		return true
	}
	s.out.Forget(ref)
	return true
}

func (s *Store) resource(ref Ref) dynamic.ResourceInterface {
	return s.client.Resource(gvr(ref.Resource)).Namespace(ref.Namespace)
}

// write brings the API server's version of ref to the controller's.
func (s *Store) write(ctx context.Context, ref Ref) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	s.mu.Lock()
	obj := s.mu.desired[ref]
	made := s.mu.made[ref]
	gens, applied := s.mu.applied[ref]
	s.mu.Unlock()
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	if obj == nil && ref.Resource == RevisionsGVR.Resource && s.opts.Backend != nil {
		if rev := s.opts.Backend.pendingRevision(key); rev != nil {
			obj = rev // applied to the backend before the next Sync saw it
		}
	}
	if ref.Resource == RevisionsGVR.Resource && s.revisionGone(ref, key, made) {
		return nil
	}
	if !s.leader.Load() {
		return s.follow(ref, obj, made, applied)
	}
	s.mu.Lock()
	rej, rejected := s.mu.rejected[ref]
	s.mu.Unlock()
	if rejected {
		return s.writeRejected(ctx, ref, obj, rej)
	}
	if obj == nil {
		if !made {
			return nil
		}
		// A child the controller dropped (its owner is gone, or revision GC).
		err := s.resource(ref).Delete(ctx, ref.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("store: delete %s: %w", ref, err)
		}
		s.forget(ref)
		return nil
	}
	var current *unstructured.Unstructured
	if applied {
		// An object the API server holds and the controller applied: its
		// status for the generation the controller has reconciled. (Its
		// defaults are the admission webhook's, serving/runtime/kube/webhook.)
		cur, ok := s.cached(ref)
		if !ok {
			return nil // deleted meanwhile
		}
		if st := observedGeneration(obj); st != gens.ctrl || gens.ctrl == 0 {
			return nil // not reconciled yet; the next Sync writes it
		}
		current = cur
		return s.writeStatus(ctx, ref, obj, current, gens.api)
	}
	// A child the controller made.
	if ref.Resource == RevisionsGVR.Resource && made {
		if _, ok := s.cached(ref); !ok {
			// Deleted (its informer event comes: revisionGone) or not in the
			// cache yet: not made again here, so a deleted older Revision stays
			// deleted.
			return nil
		}
	}
	want, err := s.child(ref, obj)
	if err != nil {
		return err
	}
	if want == nil {
		return fmt.Errorf("store: %s: owner %s is not in the API server yet", ref, ownerRef(ref, obj))
	}
	_, wasCached := s.cached(ref)
	current, fresh, err := s.ensureChild(ctx, ref, want)
	if err != nil {
		return err
	}
	if fresh && !wasCached && current.GetGeneration() <= 1 {
		s.recordCreated(ref, current) // made now (not an update of one found)
	}
	if cfg, ok := obj.(*v1.Configuration); ok && cfg.Generation == 0 {
		// A Service's Configuration waiting for its generation: the API server's,
		// once it holds this spec (a cached copy may predate our last write).
		if c, ok := s.ctrl.(generationConfirmer); ok && (fresh || equality.Semantic.DeepEqual(current.Object["spec"], want.Object["spec"])) {
			c.ConfirmGeneration(key, &cfg.Spec, current.GetGeneration())
		}
	}
	s.mu.Lock()
	s.mu.made[ref] = true
	s.mu.uids[ref] = current.GetUID()
	s.mu.Unlock()
	var relErr error
	if ref.Resource == RevisionsGVR.Resource && s.opts.Backend != nil {
		// On error the status is still written (the controller reports the
		// error there: Backend.RevisionError), and the release retried.
		if err := s.opts.Backend.release(key, current.GetUID(), current.GetLabels()); err != nil {
			relErr = fmt.Errorf("store: %s: backend: %w", ref, err)
		}
	}
	if observedGeneration(obj) != obj.GetGeneration() {
		return relErr // the controller has not reconciled this version yet
	}
	return errors.Join(relErr, s.writeStatus(ctx, ref, obj, current, current.GetGeneration()))
}

// revisionDeleter is the controller's side of a Revision deleted by someone else.
type revisionDeleter interface {
	RevisionDeleted(key types.NamespacedName) bool
}

// revisionGone handles a Revision the informer saw deleted: if it is the one the
// store made or followed (same UID), the store forgets it and tells the controller,
// which drops it as Knative does (its Deployment and Service with it) and makes it
// again, as a new object, only if it was its Configuration's current revision. The
// store's own deletes (the controller dropped the revision) are already forgotten.
// It reports whether it handled a deletion.
func (s *Store) revisionGone(ref Ref, key types.NamespacedName, made bool) bool {
	s.mu.Lock()
	uid, gone := s.mu.deleted[ref]
	delete(s.mu.deleted, ref)
	known := s.mu.uids[ref]
	s.mu.Unlock()
	if !gone || !made || known != "" && known != uid {
		return false
	}
	s.forget(ref)
	if d, ok := s.ctrl.(revisionDeleter); ok && d.RevisionDeleted(key) {
		s.log.Info("store: revision deleted in the API server; the controller drops it", "object", ref.String(), "uid", string(uid))
	}
	return true
}

func (s *Store) forget(ref Ref) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.made, ref)
	delete(s.mu.wroteSpec, ref)
	delete(s.mu.wroteStatus, ref)
	delete(s.mu.uids, ref)
}

func observedGeneration(obj v1.Object) int64 {
	switch o := obj.(type) {
	case *v1.Service:
		return o.Status.ObservedGeneration
	case *v1.Configuration:
		return o.Status.ObservedGeneration
	case *v1.Route:
		return o.Status.ObservedGeneration
	case *v1.Revision:
		return o.Status.ObservedGeneration
	case *v1beta1.DomainMapping:
		return o.Status.ObservedGeneration
	}
	return 0
}

func kindOf(resource string) string {
	switch resource {
	case ServicesGVR.Resource:
		return v1.KindService
	case ConfigurationsGVR.Resource:
		return v1.KindConfiguration
	case RoutesGVR.Resource:
		return v1.KindRoute
	case RevisionsGVR.Resource:
		return v1.KindRevision
	case DomainMappingsGVR.Resource:
		return v1beta1.KindDomainMapping
	}
	return ""
}

// follow is write for a follower: it writes nothing, but confirms the generation of
// a Service's Configuration once the API server holds the spec the controller
// wants, and releases a Revision to the backend once the API server holds it, each
// owned by its parent (the leader wrote them). Until then it waits for the child's
// informer event or the next Sync, without an error (no back-off).
func (s *Store) follow(ref Ref, obj v1.Object, made, applied bool) error {
	cur, ok := s.cached(ref)
	if obj == nil {
		if made && !ok {
			s.forget(ref) // the leader deleted it
		}
		return nil
	}
	if applied || !ok {
		return nil // the leader writes statuses; a child not written yet
	}
	want, err := s.child(ref, obj)
	if err != nil || want == nil {
		return err
	}
	wantOwner := want.GetOwnerReferences()[0]
	if o := metav1.GetControllerOf(cur); o == nil || o.UID != wantOwner.UID {
		return nil // not (yet) the leader's child of this parent
	}
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	if cfg, isCfg := obj.(*v1.Configuration); isCfg && cfg.Generation == 0 {
		if c, ok := s.ctrl.(generationConfirmer); ok {
			spec := &cfg.Spec
			if !equality.Semantic.DeepEqual(cur.Object["spec"], want.Object["spec"]) {
				// Maybe the same spec spelled otherwise (schema defaults,
				// quantities): the controller compares the typed specs.
				got, err := toTyped(ConfigurationsGVR.Resource, cur)
				if err != nil {
					return nil
				}
				spec = &got.(*v1.Configuration).Spec
			}
			c.ConfirmGeneration(key, spec, cur.GetGeneration())
		}
	}
	s.mu.Lock()
	s.mu.made[ref] = true
	s.mu.Unlock()
	if ref.Resource == RevisionsGVR.Resource && s.opts.Backend != nil {
		if err := s.opts.Backend.release(key, cur.GetUID(), cur.GetLabels()); err != nil {
			return fmt.Errorf("store: %s: backend: %w", ref, err)
		}
	}
	return nil
}

// ownerRef is the parent of a child the controller made, or an empty Ref.
func ownerRef(ref Ref, obj v1.Object) Ref {
	owner := metav1.GetControllerOf(obj)
	if owner == nil {
		return Ref{}
	}
	parent := Ref{Namespace: ref.Namespace, Name: owner.Name}
	switch owner.Kind {
	case v1.KindService:
		parent.Resource = ServicesGVR.Resource
	case v1.KindConfiguration:
		parent.Resource = ConfigurationsGVR.Resource
	}
	return parent
}

// child returns the API object to create for a child the controller made: its
// metadata and spec, owned by its parent's API-server UID; nil (and no error)
// while the parent is not in the API server. A UID label (serving.knative.dev/
// serviceUID, configurationUID) that holds the parent's controller UID holds the
// parent's API-server UID instead: the controller names a Service's Configuration
// with its own UID, which changes when it restarts.
func (s *Store) child(ref Ref, obj v1.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", ref, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": m["spec"]}}
	u.SetAPIVersion(v1.SchemeGroupVersion.String())
	u.SetKind(kindOf(ref.Resource))
	u.SetNamespace(ref.Namespace)
	u.SetName(ref.Name)
	u.SetAnnotations(obj.GetAnnotations())
	owner := metav1.GetControllerOf(obj)
	if owner == nil {
		return nil, fmt.Errorf("store: %s: made by the controller but has no owner", ref)
	}
	parent := ownerRef(ref, obj)
	if parent.Resource == "" {
		return nil, fmt.Errorf("store: %s: owner kind %q", ref, owner.Kind)
	}
	uid := s.apiUID(parent)
	if uid == "" {
		return nil, nil
	}
	labels := maps.Clone(obj.GetLabels())
	for _, k := range uidLabels {
		if v, ok := labels[k]; ok && v == string(owner.UID) {
			labels[k] = string(uid)
		}
	}
	u.SetLabels(labels)
	yes := true
	u.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion: v1.SchemeGroupVersion.String(), Kind: owner.Kind, Name: owner.Name, UID: uid,
		Controller: &yes, BlockOwnerDeletion: &yes,
	}})
	return u, nil
}

// apiUID is the API-server UID of ref, from the informers or from its creation here.
func (s *Store) apiUID(ref Ref) types.UID {
	if u, ok := s.cached(ref); ok {
		return u.GetUID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.uids[ref]
}

// uidLabels are the labels that hold the UID of an object's Service or
// Configuration.
var uidLabels = [...]string{serving.ServiceUIDLabelKey, serving.ConfigurationUIDLabelKey}

// sameUIDLabels reports whether a and b have the same uidLabels.
func sameUIDLabels(a, b map[string]string) bool {
	for _, k := range uidLabels {
		va, oka := a[k]
		vb, okb := b[k]
		if oka != okb || va != vb {
			return false
		}
	}
	return true
}

// generationConfirmer is implemented by a controller with Options.SourceGenerations:
// Store reports the API server's generation of each Service's Configuration.
type generationConfirmer interface {
	ConfirmGeneration(key types.NamespacedName, spec *v1.ConfigurationSpec, gen int64) bool
}

// ensureChild creates want, or updates its spec, labels and annotations if the
// controller changed them since the last write (a Revision's spec never changes).
// It returns the object as the API server holds it, and whether it is the API
// server's answer to a create or update made now (rather than a cached copy).
func (s *Store) ensureChild(ctx context.Context, ref Ref, want *unstructured.Unstructured) (*unstructured.Unstructured, bool, error) {
	res := s.resource(ref)
	cur, ok := s.cached(ref)
	if !ok {
		created, err := res.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			s.mu.Lock()
			s.mu.wroteSpec[ref] = want.Object["spec"]
			s.mu.Unlock()
			s.log.Info("store: created", "object", ref.String())
			return created, true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, false, fmt.Errorf("store: create %s: %w", ref, err)
		}
		if cur, err = res.Get(ctx, ref.Name, metav1.GetOptions{}); err != nil {
			return nil, false, fmt.Errorf("store: get %s: %w", ref, err)
		}
	}
	wantOwner := want.GetOwnerReferences()[0]
	if o := metav1.GetControllerOf(cur); o != nil && o.UID != wantOwner.UID && o.Kind == wantOwner.Kind && o.Name == wantOwner.Name {
		// An orphan: its owner was a deleted predecessor of the parent (same kind
		// and name, another UID; names are unique, so that owner is gone).
		// Kubernetes' garbage collector deletes it, in time; do it now, so that
		// it never blocks the new parent's child (issue 15).
		uid := cur.GetUID()
		err := res.Delete(ctx, ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return nil, false, fmt.Errorf("store: delete %s, left by a deleted %s %s: %w", ref, o.Kind, o.Name, err)
		}
		s.log.Info("store: deleted an orphan of a deleted owner", "object", ref.String(), "ownerUID", string(o.UID))
		return nil, false, fmt.Errorf("store: %s was left by a deleted %s %s: deleted, to be made again", ref, o.Kind, o.Name)
	}
	if o := metav1.GetControllerOf(cur); o == nil || o.UID != wantOwner.UID {
		return nil, false, fmt.Errorf("store: %s already exists and is not controlled by %s %s", ref, wantOwner.Kind, wantOwner.Name)
	}
	if ref.Resource == RevisionsGVR.Resource {
		return s.syncRouting(ctx, ref, cur, want)
	}
	s.mu.Lock()
	last, wrote := s.mu.wroteSpec[ref]
	s.mu.Unlock()
	// UID labels written by an older controller (its own UIDs) are rewritten.
	uidsOK := sameUIDLabels(cur.GetLabels(), want.GetLabels())
	if uidsOK && wrote && equality.Semantic.DeepEqual(last, want.Object["spec"]) {
		return cur, false, nil
	}
	if uidsOK && !wrote && equality.Semantic.DeepEqual(cur.Object["spec"], want.Object["spec"]) {
		return cur, false, nil
	}
	var updated *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		next := cur.DeepCopy()
		next.Object["spec"] = want.Object["spec"]
		next.SetLabels(want.GetLabels())
		next.SetAnnotations(want.GetAnnotations())
		var err error
		updated, err = res.Update(ctx, next, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if got, gerr := res.Get(ctx, ref.Name, metav1.GetOptions{}); gerr == nil {
				cur = got
			}
		}
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: update %s: %w", ref, err)
	}
	s.mu.Lock()
	s.mu.wroteSpec[ref] = want.Object["spec"]
	s.mu.Unlock()
	return updated, true, nil
}

// routingKeys are the metadata of a Revision that follow the Routes (Knative's
// labeler writes them): the routing state label, the routes annotation and when the
// state last changed.
var routingKeys = struct{ labels, annotations []string }{
	labels:      []string{serving.RoutingStateLabelKey},
	annotations: []string{serving.RoutesAnnotationKey, serving.RoutingStateModifiedAnnotationKey},
}

// syncRouting brings the routing metadata (routingKeys) of the stored Revision cur
// to want's: its spec is immutable, but whether a Route reaches it is not, and
// `kubectl get revisions -l serving.knative.dev/routingState=reserve` must say so
// as on Knative. Nothing else of cur is written (the UID labels a Revision was made
// with stay). It returns the Revision as stored, and whether it wrote it now.
func (s *Store) syncRouting(ctx context.Context, ref Ref, cur, want *unstructured.Unstructured) (*unstructured.Unstructured, bool, error) {
	same := func(a, b map[string]string, keys []string) bool {
		for _, k := range keys {
			va, oka := a[k]
			vb, okb := b[k]
			if oka != okb || va != vb {
				return false
			}
		}
		return true
	}
	copyKeys := func(dst, src map[string]string, keys []string) map[string]string {
		if dst == nil {
			dst = map[string]string{}
		}
		for _, k := range keys {
			if v, ok := src[k]; ok {
				dst[k] = v
			} else {
				delete(dst, k)
			}
		}
		return dst
	}
	if same(cur.GetLabels(), want.GetLabels(), routingKeys.labels) && same(cur.GetAnnotations(), want.GetAnnotations(), routingKeys.annotations) {
		return cur, false, nil
	}
	res := s.resource(ref)
	var updated *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		next := cur.DeepCopy()
		next.SetLabels(copyKeys(next.GetLabels(), want.GetLabels(), routingKeys.labels))
		next.SetAnnotations(copyKeys(next.GetAnnotations(), want.GetAnnotations(), routingKeys.annotations))
		var err error
		updated, err = res.Update(ctx, next, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if got, gerr := res.Get(ctx, ref.Name, metav1.GetOptions{}); gerr == nil {
				cur = got
			}
		}
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: update %s routing state: %w", ref, err)
	}
	return updated, true, nil
}

// writeStatus writes obj's status (observedGeneration translated to the API
// server's generation) through the status subresource unless it is already there,
// retrying on conflicts with a fresh read.
func (s *Store) writeStatus(ctx context.Context, ref Ref, obj v1.Object, cur *unstructured.Unstructured, apiGen int64) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("store: %s status: %w", ref, err)
	}
	status, _ := m["status"].(map[string]any)
	if status == nil {
		status = map[string]any{}
	}
	status["observedGeneration"] = apiGen
	s.mu.Lock()
	prev := s.mu.wroteStatus[ref]
	s.mu.Unlock()
	if prev == nil {
		prev = cur.Object["status"]
	}
	if err := s.putStatus(ctx, ref, cur, status); err != nil {
		return err
	}
	s.recordStatusChange(ref, cur, prev, status)
	return nil
}

// writeRejected writes the status of an object whose version rej the controller
// did not take: observedGeneration is that version's, Ready is False with reason
// InvalidSpec and the problems as message; the rest is the status of the version
// the controller keeps serving (obj), or nothing if it has none.
func (s *Store) writeRejected(ctx context.Context, ref Ref, obj v1.Object, rej rejection) error {
	cur, ok := s.cached(ref)
	if !ok || cur.GetGeneration() != rej.gen {
		return nil // gone, or a newer version on its way through the informer
	}
	status := map[string]any{}
	if obj != nil {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fmt.Errorf("store: %s status: %w", ref, err)
		}
		if st, ok := m["status"].(map[string]any); ok {
			status = st
		}
	}
	status["observedGeneration"] = rej.gen
	ready, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&v1.Condition{
		Type: v1.ConditionReady, Status: "False", Reason: ReasonInvalidSpec, Message: rej.message,
		LastTransitionTime: metav1.NewTime(rej.at),
	})
	if err != nil {
		return fmt.Errorf("store: %s status: %w", ref, err)
	}
	conds, _ := status["conditions"].([]any)
	conds = slices.DeleteFunc(slices.Clone(conds), func(c any) bool {
		m, _ := c.(map[string]any)
		return m["type"] == string(v1.ConditionReady)
	})
	status["conditions"] = append(conds, ready)
	return s.putStatus(ctx, ref, cur, status)
}

// ReasonInvalidSpec is the reason of the Ready=False condition the store writes
// into the status of an object version the controller rejected (Knative's webhook
// would have refused it at kubectl apply time).
const ReasonInvalidSpec = "InvalidSpec"

// putStatus writes status through the status subresource unless it is already
// there, retrying on conflicts with a fresh read. A condition whose status (True,
// False, Unknown) is the one already stored keeps its stored lastTransitionTime
// (keepTransitionTimes), so a status that differs only in transition times is not
// written: the controller re-marks conditions on every resync (and a restarted one
// starts with new times), and each write would be a watch event for every client.
func (s *Store) putStatus(ctx context.Context, ref Ref, cur *unstructured.Unstructured, status map[string]any) error {
	s.mu.Lock()
	last := s.mu.wroteStatus[ref]
	s.mu.Unlock()
	status = keepTransitionTimes(status, cur.Object["status"], last)
	if equality.Semantic.DeepEqual(cur.Object["status"], any(status)) || (last != nil && equality.Semantic.DeepEqual(last, any(status))) {
		return nil
	}
	res := s.resource(ref)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		next := cur.DeepCopy()
		status = keepTransitionTimes(status, cur.Object["status"], last)
		next.Object["status"] = status
		_, err := res.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if got, gerr := res.Get(ctx, ref.Name, metav1.GetOptions{}); gerr == nil {
				cur = got
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: update %s status: %w", ref, err)
	}
	s.mu.Lock()
	s.mu.wroteStatus[ref] = status
	s.mu.Unlock()
	return nil
}

// keepTransitionTimes returns status with the lastTransitionTime of each condition
// replaced by the stored one when the condition's status (True, False, Unknown) is
// unchanged: from the first of stored (each an unstructured status: the API
// server's, then the one this store last wrote, which the informer cache may not
// have yet) that has the condition with that status. As the Kubernetes API
// conventions define it, lastTransitionTime is when a condition last went from one
// status to another: a new reason or message alone keeps the time. status is not
// modified; the result shares what it does not change.
func keepTransitionTimes(status map[string]any, stored ...any) map[string]any {
	conds, _ := status["conditions"].([]any)
	if len(conds) == 0 {
		return status
	}
	out := make([]any, len(conds))
	for i, c := range conds {
		out[i] = c
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		for _, st := range stored {
			old := storedCondition(st, m["type"])
			if old == nil || old["status"] != m["status"] {
				continue
			}
			if t, ok := old["lastTransitionTime"]; ok && t != m["lastTransitionTime"] {
				m = maps.Clone(m)
				m["lastTransitionTime"] = t
				out[i] = m
			}
			break
		}
	}
	status = maps.Clone(status)
	status["conditions"] = out
	return status
}

// storedCondition is the condition of type typ in an unstructured status, or nil.
func storedCondition(status, typ any) map[string]any {
	st, _ := status.(map[string]any)
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}
