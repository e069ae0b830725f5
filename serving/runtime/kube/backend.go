package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Options configures a Backend. Client and QueueImage are required.
type Options struct {
	// Client talks to the API server; required.
	Client kubernetes.Interface
	// Namespace limits the informers to one namespace. Empty means all namespaces.
	Namespace string
	// QueueImage is the image of the queue proxy sidecar (Knative's config-deployment
	// queue-sidecar-image), e.g. one built from examples/queue-proxy; required.
	QueueImage string
	// QueueCPURequest is the queue proxy's CPU request. Zero means 25m, Knative's.
	QueueCPURequest resource.Quantity
	// ProgressDeadline is config-deployment's progress-deadline: each Deployment's
	// progressDeadlineSeconds unless its revision's serving.knative.dev/progress-deadline
	// annotation says otherwise, as Knative's. It must be a whole number of
	// seconds; zero means 600s, Knative's default.
	ProgressDeadline time.Duration
	// DrainStreamDeadline, if positive, is handed to every queue proxy as
	// SERVEKIT_DRAIN_STREAM_DEADLINE: how long a draining pod lets long-lived streams
	// go on before it closes them cleanly (config-deployment's
	// queue-sidecar-drain-stream-deadline). A pod's terminationGracePeriodSeconds is
	// then the longer of it and the revision's timeout. Zero means the revision's
	// timeout (the sidecar's default).
	DrainStreamDeadline time.Duration
	// PeerTokenSecret, if not nil, is the Secret key handed to every queue proxy as
	// SERVEKIT_PEER_TOKEN (see queue.ProxyOptions.PeerToken). Nil means none. With
	// PeerToken empty the Secret is the user's to create in each namespace.
	PeerTokenSecret *corev1.SecretKeySelector
	// PeerToken, if not empty, is the value the leader writes into the Secret
	// PeerTokenSecret.Name, under PeerTokenSecret.Key, of each namespace where it
	// creates a revision's Deployment (got, created if missing, updated if different;
	// labelled app.kubernetes.io/managed-by: servekit). It requires PeerTokenSecret.
	// Empty means the Backend never writes Secrets. It is never logged.
	PeerToken string
	// Follower, if true, starts the Backend as a follower: Apply, Scale and Delete
	// record what they are asked (so Pods and Stats work as on the leader) and write
	// nothing, until SetLeader(true). False (the default) starts it as the leader.
	Follower bool
	// ResyncPeriod is the informers' resync period. Zero means no periodic resync.
	ResyncPeriod time.Duration
	// RequestTimeout bounds the API calls of each Apply, Scale and Delete, and of each
	// revision the leader syncs in Run. Zero means 30s.
	RequestTimeout time.Duration
	// StatsClient scrapes a pod's queue proxy. Nil means autoscaler.HTTPStatsClient{}.
	StatsClient autoscaler.StatsClient
	// ScrapeInterval is how often Run scrapes every ready pod. Zero means 1s, the
	// autoscaler's tick.
	ScrapeInterval time.Duration
	// Clock drives the scrape loop and stamps the scrapes. Nil means the real clock.
	Clock clock.WithTicker
	// Logger receives scrape and watch problems. Nil means discard.
	Logger *slog.Logger
}

// Backend runs revisions on a Kubernetes cluster: each one becomes a Deployment
// "<rev>-deployment" (the user's containers plus the queue proxy sidecar) and a private
// Service "<rev>-private"; its pods are read from that Service's EndpointSlices, its
// scale is written through the Deployment's scale subresource, and its statistics are
// scraped from each pod's queue proxy. It implements runtime.Backend.
//
// A Backend is the leader (the default) or a follower (Options.Follower, SetLeader):
// only the leader writes to the API server — children, scale, deletions, peer-token
// Secrets; a follower records the same revisions and scales and reads the same pods
// and stats, so that it can take over warm. Several replicas of a controller run one
// Backend each, the Lease holder's the leader.
//
// Create it with New; Pods and Stats see data only while Run runs.
type Backend struct {
	opts    Options
	client  kubernetes.Interface
	clock   clock.WithTicker
	log     *slog.Logger
	stats   autoscaler.StatsClient
	pc      podConfig
	factory informers.SharedInformerFactory
	slices  cache.SharedIndexInformer
	pods    cache.SharedIndexInformer // for restarts and last exits
	hpas    cache.SharedIndexInformer // HPA-class revisions' HorizontalPodAutoscalers (their status)

	notify  atomic.Pointer[func(types.NamespacedName)]
	running atomic.Bool

	// scraped, if not nil, is called after each scrape round (tests).
	scrapedHook func()

	mu struct {
		sync.Mutex
		revs  map[types.NamespacedName]*revInfo
		stats map[types.NamespacedName]map[string]scraped // revision → pod → last scrape

		leader bool            // Apply, Scale and Delete write
		tokens map[string]bool // namespaces whose peer-token Secret is ensured
		// queue holds the revisions the leader syncs (SetLeader), with their
		// back-off; nil while Run is not running.
		queue workqueue.TypedRateLimitingInterface[types.NamespacedName]
	}
	// syncedHook, if not nil, is called after each sync by the sync loop (tests).
	syncedHook func(types.NamespacedName, error)
}

// revInfo is what the Backend remembers of an applied revision. Its fields are
// guarded by Backend.mu; sync serialises the writes for the revision (its children
// and its scale), so that the last recorded scale is the last one written.
type revInfo struct {
	sync       sync.Mutex
	rev        *v1.Revision // as last applied (a copy)
	deployment string
	replicas   int  // the last recorded scale,
	scaled     bool // if any
	ensured    bool // the children were created or adopted while leader
	resync     bool // SetLeader(true) asked for a leader's sync not yet taken
	deleted    bool // Delete was called: write nothing more
	// hpa is the HorizontalPodAutoscaler of an HPA-class revision (SetHPA), nil
	// for one the controller scales.
	hpa *autoscalingv2.HorizontalPodAutoscaler
}

// scraped is a pod's last successful scrape.
type scraped struct {
	at   time.Time
	stat metrics.Stat
}

var _ runtime.Backend = (*Backend)(nil)

// byServiceIndex indexes EndpointSlices by "<namespace>/<service name>".
const byServiceIndex = "servekit-service"

// New returns a Backend for opts.
func New(opts Options) (*Backend, error) {
	if opts.Client == nil {
		return nil, errors.New("kube: Options.Client is required")
	}
	if opts.QueueImage == "" {
		return nil, errors.New("kube: Options.QueueImage is required (the queue proxy sidecar's image)")
	}
	if err := checkPeerToken(opts); err != nil {
		return nil, err
	}
	if opts.ProgressDeadline < 0 || opts.ProgressDeadline%time.Second != 0 || opts.ProgressDeadline > (1<<31-1)*time.Second {
		return nil, fmt.Errorf("kube: Options.ProgressDeadline = %v: must be a whole number of seconds, 0 (600s) or more", opts.ProgressDeadline)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.ScrapeInterval <= 0 {
		opts.ScrapeInterval = time.Second
	}
	b := &Backend{
		opts:   opts,
		client: opts.Client,
		clock:  opts.Clock,
		log:    opts.Logger,
		stats:  opts.StatsClient,
		pc: podConfig{
			queueImage:       opts.QueueImage,
			queueCPURequest:  opts.QueueCPURequest,
			streamDeadline:   opts.DrainStreamDeadline,
			peerTokenSecret:  opts.PeerTokenSecret,
			progressDeadline: opts.ProgressDeadline,
		},
	}
	if b.clock == nil {
		b.clock = clock.RealClock{}
	}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if b.stats == nil {
		b.stats = autoscaler.HTTPStatsClient{}
	}
	b.mu.revs = make(map[types.NamespacedName]*revInfo)
	b.mu.stats = make(map[types.NamespacedName]map[string]scraped)
	b.mu.leader = !opts.Follower
	b.mu.tokens = make(map[string]bool)

	factoryOpts := []informers.SharedInformerOption{
		// Only the slices of our private Services: they carry the Service's labels.
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = serving.RevisionLabelKey }),
	}
	if opts.Namespace != "" {
		factoryOpts = append(factoryOpts, informers.WithNamespace(opts.Namespace))
	}
	b.factory = informers.NewSharedInformerFactoryWithOptions(opts.Client, opts.ResyncPeriod, factoryOpts...)
	b.slices = b.factory.Discovery().V1().EndpointSlices().Informer()
	b.pods = b.factory.Core().V1().Pods().Informer()
	b.hpas = b.factory.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
	if _, err := b.hpas.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    b.hpaChanged,
		UpdateFunc: func(_, obj any) { b.hpaChanged(obj) },
	}); err != nil {
		return nil, fmt.Errorf("kube: horizontalpodautoscaler handler: %w", err)
	}
	if err := b.slices.AddIndexers(cache.Indexers{byServiceIndex: sliceServiceIndex}); err != nil {
		return nil, fmt.Errorf("kube: endpointslice indexer: %w", err)
	}
	if _, err := b.slices.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    b.sliceChanged,
		UpdateFunc: func(_, obj any) { b.sliceChanged(obj) },
		DeleteFunc: b.sliceChanged,
	}); err != nil {
		return nil, fmt.Errorf("kube: endpointslice handler: %w", err)
	}
	if _, err := b.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		// A new pod shows up in a slice first; only restarts matter here.
		UpdateFunc: func(old, obj any) {
			if restarts(old) != restarts(obj) {
				b.podChanged(obj)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("kube: pod handler: %w", err)
	}
	return b, nil
}

func sliceServiceIndex(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	svc := s.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + svc}, nil
}

// sliceChanged tells the controller that a revision's pods may have changed.
func (b *Backend) sliceChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	rev := s.Labels[serving.RevisionLabelKey]
	if rev == "" {
		rev, _ = strings.CutSuffix(s.Labels[discoveryv1.LabelServiceName], "-private")
	}
	if rev == "" {
		return
	}
	if n := b.notify.Load(); n != nil {
		(*n)(types.NamespacedName{Namespace: s.Namespace, Name: rev})
	}
}

// podChanged tells the controller that a pod of a revision restarted.
func (b *Backend) podChanged(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Labels[serving.RevisionLabelKey] == "" {
		return
	}
	if n := b.notify.Load(); n != nil {
		(*n)(types.NamespacedName{Namespace: p.Namespace, Name: p.Labels[serving.RevisionLabelKey]})
	}
}

// restarts is the number of restarts of a pod's containers, queue proxy excluded.
func restarts(obj any) int {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return 0
	}
	n := 0
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != QueueContainerName {
			n += int(cs.RestartCount)
		}
	}
	return n
}

// lastExit describes the last unexpected exit of a pod's containers (queue proxy
// excluded), as "exit code 2 (Error): message"; "" if none.
func lastExit(p *corev1.Pod) string {
	var last *corev1.ContainerStateTerminated
	for _, cs := range p.Status.ContainerStatuses {
		t := cs.LastTerminationState.Terminated
		if cs.Name == QueueContainerName || t == nil || t.ExitCode == 0 {
			continue
		}
		if last == nil || t.FinishedAt.After(last.FinishedAt.Time) {
			last = t
		}
	}
	if last == nil {
		return ""
	}
	s := fmt.Sprintf("exit code %d", last.ExitCode)
	if last.Reason != "" {
		s += " (" + last.Reason + ")"
	}
	if msg := strings.TrimSpace(last.Message); msg != "" {
		s += ": " + msg
	}
	return s
}

// Run starts the informers, the scrape loop and the leader's sync loop (see
// SetLeader), calls notify (if not nil) whenever a revision's EndpointSlices change,
// and returns nil once ctx is done and every goroutine it started has ended. Objects
// on the cluster are left as they are. Run must not be called again while it runs.
func (b *Backend) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("kube: Backend.Run called while already running")
	}
	defer b.running.Store(false)
	if notify != nil {
		b.notify.Store(&notify)
		defer b.notify.Store(nil)
	}
	b.factory.Start(ctx.Done())
	defer b.factory.Shutdown()
	// The leader's retries of the revisions recorded while a follower.
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { b.runSyncs(ctx) })
	if !cache.WaitForCacheSync(ctx.Done(), b.slices.HasSynced, b.pods.HasSynced, b.hpas.HasSynced) {
		return nil // ctx ended first
	}
	// The pods of revisions applied before the caches synced may already be known.
	if notify != nil {
		for _, key := range b.keys() {
			notify(key)
		}
	}
	b.scrapeLoop(ctx)
	return nil
}

func (b *Backend) keys() []types.NamespacedName {
	b.mu.Lock()
	defer b.mu.Unlock()
	keys := make([]types.NamespacedName, 0, len(b.mu.revs))
	for k := range b.mu.revs {
		keys = append(keys, k)
	}
	return keys
}

func (b *Backend) requestContext(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, b.opts.RequestTimeout)
}

// Apply creates the revision's Deployment and private Service (and, with
// Options.PeerToken, first the namespace's peer-token Secret). Applying a revision
// whose children already exist and belong to it (a restarted controller, or a new
// leader) succeeds and leaves them unchanged; a child of the same name that belongs
// to something else is an error naming it, as is any API error.
//
// As a follower (see SetLeader), Apply makes the same checks of the revision and
// records it, so that Pods and Stats work, but creates nothing.
func (b *Backend) Apply(rev *v1.Revision) error {
	dep, err := makeDeployment(rev, b.pc)
	if err != nil {
		return err
	}
	key := types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}
	rev = rev.DeepCopy()
	b.mu.Lock()
	if !b.mu.leader {
		b.recordLocked(key, rev, dep.Name, false)
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	ctx, cancel := b.requestContext(context.Background())
	defer cancel()
	if err := b.createChildren(ctx, rev, dep); err != nil {
		return err
	}
	b.mu.Lock()
	b.recordLocked(key, rev, dep.Name, true)
	b.mu.Unlock()
	return nil
}

// recordLocked remembers rev; ensured says its children were just created or
// adopted. Called with b.mu held.
func (b *Backend) recordLocked(key types.NamespacedName, rev *v1.Revision, deployment string, ensured bool) {
	info := b.mu.revs[key]
	if info == nil {
		info = &revInfo{deployment: deployment}
		b.mu.revs[key] = info
	}
	if info.rev != nil && info.rev.UID != rev.UID {
		info.ensured = false // another revision of the same name
	}
	info.rev = rev
	if ensured {
		info.ensured = true
	}
}

// createChildren creates or adopts the revision's private Service, then (after the
// namespace's peer-token Secret) its Deployment. After an error the namespace's
// Secret is ensured again next time (the namespace may have been deleted and
// recreated, Secret and all).
func (b *Backend) createChildren(ctx context.Context, rev *v1.Revision, dep *appsv1.Deployment) error {
	err := b.createService(ctx, rev, makePrivateService(rev))
	if err == nil {
		if err = b.ensurePeerToken(ctx, rev.Namespace); err != nil {
			err = fmt.Errorf("kube: revision %s/%s: %w", rev.Namespace, rev.Name, err)
		}
	}
	if err == nil {
		err = b.createDeployment(ctx, rev, dep)
	}
	if err != nil {
		b.mu.Lock()
		delete(b.mu.tokens, rev.Namespace)
		b.mu.Unlock()
	}
	return err
}

// owned reports whether an existing child belongs to rev: same revision label and,
// when rev has a UID, a controller reference to it.
func owned(rev *v1.Revision, meta metav1.Object) bool {
	if meta.GetLabels()[serving.RevisionLabelKey] != rev.Name {
		return false
	}
	if rev.UID == "" {
		return true
	}
	ref := metav1.GetControllerOf(meta)
	return ref != nil && ref.UID == rev.UID
}

// stale reports whether an existing child was left by a deleted revision of rev's
// name: its controller is a Revision of that name with another UID (names are
// unique, so that one is gone; Kubernetes' garbage collector would delete the child
// in time, issue 15).
func stale(rev *v1.Revision, meta metav1.Object) bool {
	ref := metav1.GetControllerOf(meta)
	return rev.UID != "" && ref != nil && ref.Kind == v1.KindRevision && ref.Name == rev.Name && ref.UID != rev.UID &&
		meta.GetLabels()[serving.RevisionLabelKey] == rev.Name
}

func (b *Backend) createService(ctx context.Context, rev *v1.Revision, svc *corev1.Service) error {
	_, err := b.client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("service %s/%s", svc.Namespace, svc.Name)
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kube: revision %s/%s: create %s: %w", rev.Namespace, rev.Name, what, err)
	}
	got, err := b.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("kube: revision %s/%s: get existing %s: %w", rev.Namespace, rev.Name, what, err)
	}
	if stale(rev, got) {
		// Left by a deleted Revision of the same name: replace it.
		uid := got.UID
		err := b.client.CoreV1().Services(svc.Namespace).Delete(ctx, svc.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("kube: revision %s/%s: delete %s, left by a deleted revision: %w", rev.Namespace, rev.Name, what, err)
		}
		b.log.Info("kube: deleted a child of a deleted revision of the same name", "revision", rev.Namespace+"/"+rev.Name, "object", what)
		if _, err := b.client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("kube: revision %s/%s: create %s: %w", rev.Namespace, rev.Name, what, err)
		}
		return nil
	}
	if !owned(rev, got) {
		return fmt.Errorf("kube: revision %s/%s: %s already exists and does not belong to the revision", rev.Namespace, rev.Name, what)
	}
	return nil
}

func (b *Backend) createDeployment(ctx context.Context, rev *v1.Revision, dep *appsv1.Deployment) error {
	_, err := b.client.AppsV1().Deployments(dep.Namespace).Create(ctx, dep, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("deployment %s/%s", dep.Namespace, dep.Name)
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kube: revision %s/%s: create %s: %w", rev.Namespace, rev.Name, what, err)
	}
	got, err := b.client.AppsV1().Deployments(dep.Namespace).Get(ctx, dep.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("kube: revision %s/%s: get existing %s: %w", rev.Namespace, rev.Name, what, err)
	}
	if stale(rev, got) {
		// Left by a deleted Revision of the same name: replace it.
		uid := got.UID
		err := b.client.AppsV1().Deployments(dep.Namespace).Delete(ctx, dep.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("kube: revision %s/%s: delete %s, left by a deleted revision: %w", rev.Namespace, rev.Name, what, err)
		}
		b.log.Info("kube: deleted a child of a deleted revision of the same name", "revision", rev.Namespace+"/"+rev.Name, "object", what)
		if _, err := b.client.AppsV1().Deployments(dep.Namespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("kube: revision %s/%s: create %s: %w", rev.Namespace, rev.Name, what, err)
		}
		return nil
	}
	if !owned(rev, got) {
		return fmt.Errorf("kube: revision %s/%s: %s already exists and does not belong to the revision", rev.Namespace, rev.Name, what)
	}
	return nil
}

// Scale sets the replicas of the revision's Deployment through its scale subresource,
// retrying on conflicts. It is an error to scale a revision that was never applied.
// As a follower, Scale records the replicas (a new leader writes the last recorded
// ones) and writes nothing.
func (b *Backend) Scale(key types.NamespacedName, replicas int) error {
	if replicas < 0 || replicas > 1<<31-1 {
		return fmt.Errorf("kube: scale revision %s: replicas %d out of range", key, replicas)
	}
	return b.recordAndSync(key, "scale revision", func(info *revInfo) {
		info.replicas, info.scaled = replicas, true
	})
}

// recordAndSync applies set to the applied revision's record under the Backend's
// lock and, as the leader, syncs the revision's objects (as a follower it only
// records: a new leader writes what was recorded). what names the operation in the
// error for a revision that was never applied.
func (b *Backend) recordAndSync(key types.NamespacedName, what string, set func(*revInfo)) error {
	b.mu.Lock()
	info := b.mu.revs[key]
	if info == nil {
		b.mu.Unlock()
		return fmt.Errorf("kube: %s %s: revision not applied", what, key)
	}
	set(info)
	leader := b.mu.leader
	b.mu.Unlock()
	if !leader {
		return nil
	}
	ctx, cancel := b.requestContext(context.Background())
	defer cancel()
	info.sync.Lock()
	defer info.sync.Unlock()
	return b.syncLocked(ctx, key, info)
}

// writeScale sets the replicas of a Deployment through its scale subresource,
// retrying on conflicts; the same replicas are not written again.
func (b *Backend) writeScale(ctx context.Context, namespace, deployment string, replicas int) error {
	deps := b.client.AppsV1().Deployments(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := deps.GetScale(ctx, deployment, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s.Spec.Replicas == int32(replicas) {
			return nil
		}
		s.Spec.Replicas = int32(replicas)
		_, err = deps.UpdateScale(ctx, deployment, s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("kube: scale deployment %s/%s to %d: %w", namespace, deployment, replicas, err)
	}
	return nil
}

// Delete deletes the revision's Deployment and private Service (Kubernetes then
// stops its pods, each draining through its preStop hook) and forgets it. Children
// already gone are not an error. As a follower, Delete only forgets the revision.
func (b *Backend) Delete(key types.NamespacedName) error {
	b.mu.Lock()
	info := b.mu.revs[key]
	if info != nil {
		info.deleted = true
	}
	delete(b.mu.revs, key)
	delete(b.mu.stats, key)
	if b.mu.queue != nil {
		b.mu.queue.Forget(key)
	}
	leader := b.mu.leader
	b.mu.Unlock()
	if !leader {
		return nil
	}
	if info != nil {
		// A sync in flight (which may be creating the children) ends first.
		info.sync.Lock()
		defer info.sync.Unlock()
	}
	ctx, cancel := b.requestContext(context.Background())
	defer cancel()
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	var errs []error
	if err := b.client.AppsV1().Deployments(key.Namespace).Delete(ctx, DeploymentName(key.Name), opts); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("kube: delete deployment %s/%s: %w", key.Namespace, DeploymentName(key.Name), err))
	}
	if err := b.client.CoreV1().Services(key.Namespace).Delete(ctx, PrivateServiceName(key.Name), opts); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("kube: delete service %s/%s: %w", key.Namespace, PrivateServiceName(key.Name), err))
	}
	if info != nil && info.hpa != nil {
		if err := b.client.AutoscalingV2().HorizontalPodAutoscalers(key.Namespace).Delete(ctx, HPAName(key.Name), opts); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("kube: delete horizontalpodautoscaler %s/%s: %w", key.Namespace, HPAName(key.Name), err))
		}
	}
	return errors.Join(errs...)
}

// Pods returns the revision's pods as its private Service's EndpointSlices list them,
// sorted by name: Address is the pod IP and the queue proxy's serving port, Ready and
// Terminating are the endpoint's conditions (a nil ready condition counts as ready,
// as the API documents); Restarts and LastExit come from the Pod's container statuses
// (the queue proxy's excluded). An endpoint listed in several slices (while they are being
// rebalanced) appears once, ready if any slice says so.
func (b *Backend) Pods(key types.NamespacedName) []runtime.Pod {
	objs, err := b.slices.GetIndexer().ByIndex(byServiceIndex, key.Namespace+"/"+PrivateServiceName(key.Name))
	if err != nil {
		return nil
	}
	pods := podsFromSlices(objs)
	for i := range pods {
		obj, ok, err := b.pods.GetIndexer().GetByKey(key.Namespace + "/" + pods[i].Name)
		if err != nil || !ok {
			continue
		}
		if p, ok := obj.(*corev1.Pod); ok {
			pods[i].Restarts = restarts(p)
			pods[i].LastExit = lastExit(p)
		}
	}
	return pods
}

// podsFromSlices turns EndpointSlices into pods.
func podsFromSlices(objs []any) []runtime.Pod {
	n := 0
	for _, obj := range objs {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
			n += len(s.Endpoints)
		}
	}
	if n == 0 {
		return nil
	}
	byName := make(map[string]int, n)
	pods := make([]runtime.Pod, 0, n)
	for _, obj := range objs {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		port, ok := trafficPort(s)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 {
				continue
			}
			p := runtime.Pod{
				Name:        ep.Addresses[0],
				Address:     joinHostPort(ep.Addresses[0], port),
				Ready:       ep.Conditions.Ready == nil || *ep.Conditions.Ready,
				Terminating: ep.Conditions.Terminating != nil && *ep.Conditions.Terminating,
			}
			if ep.TargetRef != nil && ep.TargetRef.Name != "" {
				p.Name = ep.TargetRef.Name
			}
			if i, dup := byName[p.Name]; dup {
				pods[i].Ready = pods[i].Ready || p.Ready
				pods[i].Terminating = pods[i].Terminating && p.Terminating
				continue
			}
			byName[p.Name] = len(pods)
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return nil
	}
	slices.SortFunc(pods, func(a, b runtime.Pod) int { return cmp.Compare(a.Name, b.Name) })
	return pods
}

// trafficPort is the slice's port for the revision's traffic (named http or http2).
func trafficPort(s *discoveryv1.EndpointSlice) (int32, bool) {
	for _, p := range s.Ports {
		if p.Name == nil || p.Port == nil {
			continue
		}
		if *p.Name == ServicePortNameHTTP1 || *p.Name == ServicePortNameH2C {
			return *p.Port, true
		}
	}
	return 0, false
}
