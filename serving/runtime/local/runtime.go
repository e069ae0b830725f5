package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	goruntime "runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Options configures a Runtime. The zero value runs only containers that set their
// own command, with no pod output, and needs NewFront.
type Options struct {
	// ImageMap maps container images to local commands. Nil means DefaultImageMap().
	ImageMap ImageMap
	// CacheDir is where builtin programs (see BuiltinPrefix) are built with the go
	// command when Builtins has no command for them. Empty means they cannot be built.
	CacheDir string
	// Builtins gives, per builtin name, the command that runs it instead of building
	// it: e.g. {"helloworld": {"/path/to/controller", "sample", "helloworld"}}, a binary
	// that embeds the sample app and re-executes itself, so that the seed runs with no
	// Go toolchain and no source tree. The container's args follow this command.
	Builtins map[string][]string
	// BaseEnv is the environment every pod process starts from (KEY=VALUE), before the
	// manifest's env and Knative's variables are added. Nil means an empty one.
	BaseEnv []string
	// Output receives the pods' stdout and stderr, each line prefixed with the pod's
	// name. Nil means discard.
	Output io.Writer
	// NewFront builds the proxy in front of each pod. Nil means the queue package's Proxy.
	NewFront func(FrontConfig) (Front, error)
	// PeerToken is handed to every Front (see queue.ProxyOptions.PeerToken).
	PeerToken string
	// Clock times restart back-off and the HPA's sync period. Nil means the real
	// clock.
	Clock clock.Clock
	// RestartBackoff is the wait before the first restart of a crashed process; it
	// doubles per consecutive crash up to MaxRestartBackoff. Zero means 250ms.
	RestartBackoff time.Duration
	// MaxRestartBackoff caps RestartBackoff. Zero means 10s.
	MaxRestartBackoff time.Duration
	// TerminationGrace is how long a process has to exit after SIGTERM before its
	// process group is killed, when its pod stops and when a failed liveness or
	// startup probe restarts it (unless the probe sets its own
	// terminationGracePeriodSeconds). Zero means 10s.
	TerminationGrace time.Duration
	// DrainQuietPeriod is how long a leaving pod's front waits with no new request
	// before the pod stops. Zero means 1s: the ingress and the activator run in the
	// same process and stop routing to a leaving pod at once, so Knative's 30s (which
	// covers load balancers and the activator learning of it) is not needed.
	DrainQuietPeriod time.Duration
	// DrainStreamDeadline is how long a leaving pod's front lets long-lived streams
	// (websockets, gRPC calls, event streams) go on before it closes them cleanly
	// (FrontConfig.DrainStreamDeadline; config-deployment's
	// queue-sidecar-drain-stream-deadline). Zero means each revision's
	// timeoutSeconds. SetDrainStreamDeadline changes it for the revisions applied
	// from then on.
	DrainStreamDeadline time.Duration
	// DrainTimeout bounds the drain of the pods still running when the runtime shuts
	// down (Run's ctx done), and of a leaving pod whose revision has no timeoutSeconds;
	// a pod that leaves while the runtime runs waits for its requests up to its
	// revision's timeoutSeconds, as a Knative pod's termination grace is. Zero means 30s.
	DrainTimeout time.Duration
	// Logger receives pod lifecycle events (started, ready, crashed, stopped). Nil
	// means discard.
	Logger *slog.Logger
	// HPASyncPeriod is how often the runtime's HPA measures and scales the
	// revisions of the HPA class (see SetHPA). Zero means 15s, Kubernetes' default
	// (--horizontal-pod-autoscaler-sync-period).
	HPASyncPeriod time.Duration
	// MaxPods is the most pod processes the runtime runs at once, across all
	// revisions, terminating pods included. A pod asked for beyond it is not
	// started: it is listed as PodPending, with the reason, and starts when
	// another pod's process has gone (first asked, first started). Zero means
	// DefaultMaxPods(); negative means no limit.
	MaxPods int
}

// DefaultMaxPods returns the machine-wide pod limit used when Options.MaxPods is
// zero: 16 per CPU (runtime.NumCPU). Each pod is a process and its queue proxy;
// the limit keeps a burst of scale-ups from forking without bound (issue 17).
func DefaultMaxPods() int { return 16 * goruntime.NumCPU() }

// DefaultMaxScale returns the max-scale the local platform gives a revision that
// sets none: 4 per CPU (runtime.NumCPU). Knative's default is unbounded, which on
// one machine means a process per concurrent request (see BoundScale).
func DefaultMaxScale() int32 { return int32(min(4*goruntime.NumCPU(), 1<<30)) }

// BoundScale returns cfg (config-autoscaler) with its max-scale set to
// DefaultMaxScale(), or to min-scale if that is larger, when it is 0: Knative's
// "unbounded", which the local runtime does not offer. A max-scale set in cfg is
// kept. Revisions still set their own with the max-scale annotation, and
// Options.MaxPods bounds the whole machine.
func BoundScale(cfg autoscaler.Config) autoscaler.Config {
	if cfg.MaxScale == 0 {
		cfg.MaxScale = max(DefaultMaxScale(), cfg.MinScale)
	}
	return cfg
}

// PodState is where a pod is in its life.
type PodState string

// The states of a pod.
const (
	PodStarting PodState = "Starting" // process started, not yet ready
	PodReady    PodState = "Ready"    // serving
	// PodNotReady: running, out of rotation: its readiness probe fails, or a
	// liveness or startup probe failed and the process is being restarted (see
	// Pod.Reason).
	PodNotReady    PodState = "NotReady"
	PodCrashLoop   PodState = "CrashLoop"   // process exited; waiting to restart
	PodTerminating PodState = "Terminating" // draining before it stops
	// PodPending: not started, waiting for room under Options.MaxPods (see
	// Pod.Reason).
	PodPending PodState = "Pending"
)

// Pod is a snapshot of one pod of a revision.
type Pod struct {
	// Name is "<revision>-<n>".
	Name string
	// Address is host:port of the pod's front (its queue proxy): where traffic goes.
	Address string
	// State is Starting, Ready, NotReady, CrashLoop, Terminating or Pending.
	State PodState
	// Restarts counts the times the process exited and was started again.
	Restarts int
	// LastExit describes the last unexpected exit ("exit status 2"), or "".
	LastExit string
	// InFlight is the number of requests the front holds.
	InFlight int
	// PID is the process id of the running process (the leader of its process
	// group), or 0 when none runs.
	PID int
	// Reason says why a PodPending pod waits or why a PodNotReady pod is out of
	// rotation; empty otherwise.
	Reason string
	// LastProbeFailure is the pod's last failed probe attempt (startup, liveness or
	// readiness; the failures of the fast start-up polling are not recorded); zero
	// if none failed.
	LastProbeFailure runtime.ProbeFailure
}

// Runtime runs pods as local processes, each behind its own front on loopback. It is
// servekit's local backend: the controller applies revisions, sets their scale, and
// reads their pods. Create it with New and call Run; methods may be called before
// Run, but pods start only while Run runs.
type Runtime struct {
	opts    Options
	clock   clock.Clock
	logger  *slog.Logger
	builder builder
	out     *prefixWriter
	ports   portSet // the user ports handed out to pods
	// imageMap is Options.ImageMap, then SetImageMap's: read by Apply.
	imageMap atomic.Pointer[ImageMap]
	// streamDeadline is Options.DrainStreamDeadline, then SetDrainStreamDeadline's
	// (a time.Duration): read by Apply.
	streamDeadline atomic.Int64

	mu struct {
		sync.Mutex
		revs    map[types.NamespacedName]*revision
		notify  func(types.NamespacedName) // set by Run
		ctx     context.Context            // Run's context; nil before Run
		stopped bool                       // Run has returned or is returning
		wg      sync.WaitGroup             // one per pod goroutine
		// running counts pods whose goroutine was started and has not ended
		// (their processes, terminating ones included); it stays at most
		// maxPods.
		running int
		// waiting holds the pods asked for beyond maxPods, in the order they
		// were asked for; waitSet is the same set. A pod leaves when it starts
		// or when it is no longer wanted.
		waiting []*pod
		waitSet map[*pod]bool
		// asked numbers the pods in the order they were asked for, across
		// revisions (pod.asked), so pods recorded before Run start in that order.
		asked uint64
	}
	// maxPods is Options.MaxPods resolved: the limit, or 0 for none.
	maxPods int
}

// revision is the runtime's record of an applied revision. Guarded by Runtime.mu.
type revision struct {
	key     types.NamespacedName
	spec    podSpec
	pods    []*pod // live pods, in creation order (not terminating)
	leaving []*pod // pods draining or stopping
	nextID  int
	deleted bool
	// hpa is the revision's HPA (SetHPA); nil for a revision the controller scales.
	hpa *hpaState
}

// podSpec is what the runtime needs from a Revision to start its pods.
type podSpec struct {
	argv   []string // command and args; argv[0] may be a builtin
	env    []string // manifest env plus Knative's, without PORT
	dir    string
	front  FrontConfig // without UserAddr and Pod
	probes probeSet
	// cpuRequest is the container's resources.requests.cpu in cores (0: none),
	// what the HPA's cpu target is a percentage of.
	cpuRequest float64
}

// New returns a Runtime with opts.
func New(opts Options) (*Runtime, error) {
	if opts.ImageMap == nil {
		opts.ImageMap = DefaultImageMap()
	}
	if opts.NewFront == nil {
		opts.NewFront = newQueueFront
	}
	if opts.DrainQuietPeriod <= 0 {
		opts.DrainQuietPeriod = time.Second
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = 250 * time.Millisecond
	}
	if opts.MaxRestartBackoff <= 0 {
		opts.MaxRestartBackoff = 10 * time.Second
	}
	if opts.TerminationGrace <= 0 {
		opts.TerminationGrace = 10 * time.Second
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	if opts.HPASyncPeriod <= 0 {
		opts.HPASyncPeriod = DefaultHPASyncPeriod
	}
	r := &Runtime{opts: opts, clock: opts.Clock, logger: opts.Logger}
	r.imageMap.Store(&opts.ImageMap)
	r.SetDrainStreamDeadline(opts.DrainStreamDeadline)
	switch {
	case opts.MaxPods == 0:
		r.maxPods = DefaultMaxPods()
	case opts.MaxPods > 0:
		r.maxPods = opts.MaxPods
	}
	if r.clock == nil {
		r.clock = clock.RealClock{}
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	r.builder.dir = opts.CacheDir
	r.builder.commands = opts.Builtins
	r.out = &prefixWriter{w: opts.Output}
	r.mu.revs = make(map[types.NamespacedName]*revision)
	r.mu.waitSet = make(map[*pod]bool)
	return r, nil
}

// Run starts the pods asked for so far and those asked for later, calls notify
// (from any goroutine, never with the runtime's lock held) whenever the pods of a
// revision change (started, ready, crashed, gone), and when ctx is done stops every
// pod — drained, then its whole process group terminated — and returns once all
// are gone.
func (r *Runtime) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	if notify == nil {
		notify = func(types.NamespacedName) {}
	}
	r.stopSurvivors() // of a runtime that crashed: before any pod of this one starts
	r.mu.Lock()
	if r.mu.ctx != nil {
		r.mu.Unlock()
		return errors.New("local: Run called twice")
	}
	r.mu.ctx = ctx
	r.mu.notify = notify
	// The pods asked for before Run start first asked first, across revisions (a
	// map's order would let a later revision's pods take the room under MaxPods).
	var recorded []*pod
	for _, rev := range r.mu.revs {
		recorded = append(recorded, rev.pods...)
	}
	slices.SortFunc(recorded, func(a, b *pod) int { return cmp.Compare(a.asked, b.asked) })
	for _, p := range recorded {
		r.startLocked(p)
	}
	r.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { r.hpaLoop(ctx) })
	<-ctx.Done()
	wg.Wait()
	r.mu.Lock()
	r.mu.stopped = true
	r.mu.Unlock()
	// Every pod goroutine watches ctx and stops its process; wait for them all.
	r.mu.wg.Wait()
	return nil
}

// Apply records a revision so it can be scaled. Revisions are immutable: applying one
// that is already known changes nothing. The error names the field that the local
// runtime cannot run (an unmapped image, an env var taken from a secret, ...).
func (r *Runtime) Apply(rev *v1.Revision) error {
	key := types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}
	spec, err := r.specFor(rev)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.mu.revs[key]; ok && !old.deleted {
		return nil
	}
	r.mu.revs[key] = &revision{key: key, spec: spec}
	return nil
}

// SetImageMap replaces the image map (Options.ImageMap; nil means
// DefaultImageMap()) for the revisions applied from now on: a revision applied
// before keeps the command it was given, and its pods, running or started later,
// run that command. It is safe to call while the Runtime runs.
func (r *Runtime) SetImageMap(m ImageMap) {
	if m == nil {
		m = DefaultImageMap()
	}
	r.imageMap.Store(&m)
}

// SetDrainStreamDeadline replaces Options.DrainStreamDeadline for the revisions
// applied from now on (zero: each revision's timeoutSeconds); those applied before
// keep theirs, as a Deployment keeps its sidecar's environment. A negative d is
// taken as zero. It is safe to call while the Runtime runs.
func (r *Runtime) SetDrainStreamDeadline(d time.Duration) {
	r.streamDeadline.Store(int64(max(d, 0)))
}

// Scale sets the number of pods of a revision. Scaling down drains the least busy
// pods first (not-ready ones before ready ones) and stops them once drained.
func (r *Runtime) Scale(key types.NamespacedName, n int) error {
	if n < 0 {
		return fmt.Errorf("local: scale %s to %d: want >= 0", key, n)
	}
	r.mu.Lock()
	rev, ok := r.mu.revs[key]
	if !ok || rev.deleted {
		r.mu.Unlock()
		return fmt.Errorf("local: scale %s: revision not applied", key)
	}
	changed := r.reconcileLocked(rev, n)
	notify := r.mu.notify
	r.mu.Unlock()
	if changed && notify != nil {
		notify(key)
	}
	return nil
}

// Delete stops every pod of a revision (draining them) and forgets it.
func (r *Runtime) Delete(key types.NamespacedName) error {
	r.mu.Lock()
	rev, ok := r.mu.revs[key]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	rev.deleted = true
	r.reconcileLocked(rev, 0)
	if len(rev.leaving) == 0 {
		delete(r.mu.revs, key)
	}
	notify := r.mu.notify
	r.mu.Unlock()
	if notify != nil {
		notify(key)
	}
	return nil
}

// Pods returns a snapshot of a revision's pods, terminating ones included, ordered
// by name.
func (r *Runtime) Pods(key types.NamespacedName) []Pod {
	r.mu.Lock()
	rev, ok := r.mu.revs[key]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	all := append(slices.Clone(rev.pods), rev.leaving...)
	waiting := make(map[*pod]bool)
	for _, p := range all {
		if r.mu.waitSet[p] {
			waiting[p] = true
		}
	}
	r.mu.Unlock()
	out := make([]Pod, 0, len(all))
	for _, p := range all {
		s := p.snapshot()
		if waiting[p] {
			s.State, s.Reason = PodPending, r.pendingReason()
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Pod) int { return podOrder(a.Name, b.Name) })
	return out
}

// Stats returns the stats of each ready pod of a revision for the second that ended
// at now, keyed by pod name — what the autoscaler would scrape from each queue proxy.
func (r *Runtime) Stats(key types.NamespacedName, now time.Time) map[string]metrics.Stat {
	r.mu.Lock()
	rev, ok := r.mu.revs[key]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	pods := append(slices.Clone(rev.pods), rev.leaving...)
	r.mu.Unlock()
	out := make(map[string]metrics.Stat, len(pods))
	for _, p := range pods {
		if f := p.currentFront(); f != nil {
			out[p.name] = f.Stats(now)
		}
	}
	return out
}

// reconcileLocked starts or stops pods so that rev has want live pods, and reports
// whether anything changed. Pods are only started while Run runs.
func (r *Runtime) reconcileLocked(rev *revision, want int) bool {
	changed := false
	for len(rev.pods) > want {
		// The least busy pod leaves first: not ready before ready, then fewest
		// requests in flight, then the newest.
		i := leastBusy(rev.pods)
		p := rev.pods[i]
		rev.pods = slices.Delete(rev.pods, i, i+1)
		changed = true
		if !p.started {
			r.dropWaitingLocked(p)
			continue // a record Run never started: nothing to stop
		}
		rev.leaving = append(rev.leaving, p)
		p.terminate()
	}
	if r.mu.ctx == nil || r.mu.stopped {
		// Not running yet: remember how many pods are wanted by creating their
		// records; they start when Run does.
		for len(rev.pods) < want {
			rev.pods = append(rev.pods, r.newPodLocked(rev))
			changed = true
		}
		return changed
	}
	for len(rev.pods) < want {
		rev.pods = append(rev.pods, r.newPodLocked(rev))
		changed = true
	}
	for _, p := range rev.pods {
		r.startLocked(p)
	}
	return changed
}

// pendingReason is the Reason of a pod waiting under Options.MaxPods.
func (r *Runtime) pendingReason() string {
	return fmt.Sprintf("waiting for room: the machine-wide limit of %d pods (local.Options.MaxPods) is reached", r.maxPods)
}

// startWaitingLocked starts waiting pods, first asked first, while there is room,
// and forgets those no longer wanted (scaled away, or their revision deleted).
func (r *Runtime) startWaitingLocked() {
	if r.mu.stopped || r.mu.ctx == nil || r.mu.ctx.Err() != nil {
		return // shutting down: nothing new starts
	}
	for len(r.mu.waiting) > 0 && r.mu.running < r.maxPods {
		p := r.mu.waiting[0]
		r.mu.waiting = r.mu.waiting[1:]
		delete(r.mu.waitSet, p)
		if p.rev.deleted || !slices.Contains(p.rev.pods, p) {
			continue
		}
		r.startLocked(p)
	}
	// Drop the records of pods no longer wanted, so that they cannot pile up.
	r.mu.waiting = slices.DeleteFunc(r.mu.waiting, func(p *pod) bool {
		if p.rev.deleted || !slices.Contains(p.rev.pods, p) {
			delete(r.mu.waitSet, p)
			return true
		}
		return false
	})
}

// leastBusy returns the index of the pod to remove first.
func leastBusy(pods []*pod) int {
	best, bestScore := 0, [2]int{}
	for i, p := range pods {
		s := p.snapshot()
		ready := 0
		if s.State == PodReady {
			ready = 1
		}
		score := [2]int{ready, s.InFlight}
		if i == 0 || score[0] < bestScore[0] || (score[0] == bestScore[0] && score[1] <= bestScore[1]) {
			best, bestScore = i, score
		}
	}
	return best
}

func (r *Runtime) newPodLocked(rev *revision) *pod {
	rev.nextID++
	r.mu.asked++
	p := &pod{
		asked: r.mu.asked,
		r:     r,
		rev:   rev,
		name:  rev.key.Name + "-" + strconv.Itoa(rev.nextID),
		stop:  make(chan struct{}),
	}
	p.mu.state = PodStarting
	return p
}

// dropWaitingLocked takes p out of the waiting queue, if it is there.
func (r *Runtime) dropWaitingLocked(p *pod) {
	if !r.mu.waitSet[p] {
		return
	}
	delete(r.mu.waitSet, p)
	r.mu.waiting = slices.DeleteFunc(r.mu.waiting, func(q *pod) bool { return q == p })
}

// startLocked starts p's goroutine once, or, when Options.MaxPods pods run
// already, puts p in the waiting queue (once, with a warning): a pod is never
// forked beyond the limit.
func (r *Runtime) startLocked(p *pod) {
	if p.started || r.mu.waitSet[p] {
		return
	}
	if r.maxPods > 0 && r.mu.running >= r.maxPods {
		r.mu.waiting = append(r.mu.waiting, p)
		r.mu.waitSet[p] = true
		r.logger.Warn("local: pod waits: machine-wide pod limit reached", "pod", p.name, "maxPods", r.maxPods, "waiting", len(r.mu.waiting))
		return
	}
	p.started = true
	r.mu.running++
	ctx := r.mu.ctx
	r.mu.wg.Add(1)
	go func() {
		defer r.mu.wg.Done()
		p.run(ctx)
		r.podGone(p)
	}()
}

// podGone forgets a pod whose goroutine has ended.
func (r *Runtime) podGone(p *pod) {
	r.mu.Lock()
	r.mu.running--
	r.startWaitingLocked()
	rev := p.rev
	rev.leaving = slices.DeleteFunc(rev.leaving, func(q *pod) bool { return q == p })
	rev.pods = slices.DeleteFunc(rev.pods, func(q *pod) bool { return q == p })
	if rev.deleted && len(rev.leaving) == 0 && len(rev.pods) == 0 && r.mu.revs[rev.key] == rev {
		delete(r.mu.revs, rev.key)
	}
	notify := r.mu.notify
	r.mu.Unlock()
	if notify != nil {
		notify(rev.key)
	}
}

// podOrder orders pod names by their numeric suffix.
func podOrder(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// specFor turns a revision into what its pods run.
func (r *Runtime) specFor(rev *v1.Revision) (podSpec, error) {
	containers := rev.Spec.Containers
	if len(containers) != 1 {
		return podSpec{}, fmt.Errorf("local: revision %s/%s: spec.containers: the local runtime runs exactly one container, got %d", rev.Namespace, rev.Name, len(containers))
	}
	c := containers[0]
	argv, err := r.argvFor(c)
	if err != nil {
		return podSpec{}, fmt.Errorf("local: revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	env := slices.Clone(r.opts.BaseEnv)
	if len(c.EnvFrom) > 0 {
		return podSpec{}, fmt.Errorf("local: revision %s/%s: spec.containers[0].envFrom: not supported by the local runtime", rev.Namespace, rev.Name)
	}
	for i, e := range c.Env {
		if e.ValueFrom != nil {
			return podSpec{}, fmt.Errorf("local: revision %s/%s: spec.containers[0].env[%d].valueFrom (%s): not supported by the local runtime", rev.Namespace, rev.Name, i, e.Name)
		}
		env = append(env, e.Name+"="+e.Value)
	}
	env = append(env,
		"K_SERVICE="+rev.Labels[serving.ServiceLabelKey],
		"K_CONFIGURATION="+rev.Labels[serving.ConfigurationLabelKey],
		"K_REVISION="+rev.Name,
	)
	fc := FrontConfig{PeerToken: r.opts.PeerToken, DrainQuietPeriod: r.opts.DrainQuietPeriod,
		DrainStreamDeadline: time.Duration(r.streamDeadline.Load())}
	if cc := rev.Spec.ContainerConcurrency; cc != nil {
		fc.ContainerConcurrency = int(*cc)
	}
	fc.Timeout = seconds(rev.Spec.TimeoutSeconds)
	fc.ResponseStartTimeout = seconds(rev.Spec.ResponseStartTimeoutSeconds)
	fc.IdleTimeout = seconds(rev.Spec.IdleTimeoutSeconds)
	if c.ReadinessProbe != nil {
		fc.ReadinessProbe = probeJSON(localProbe(c))
	}
	probes, err := probesFor(c)
	if err != nil {
		return podSpec{}, fmt.Errorf("local: revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	ps := podSpec{argv: argv, env: env, dir: c.WorkingDir, front: fc, probes: probes}
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		ps.cpuRequest = q.AsApproximateFloat64()
	}
	return ps, nil
}

// argvFor resolves a container to a command line, with Kubernetes' rules: command
// replaces the image's entrypoint, args replace its arguments.
func (r *Runtime) argvFor(c corev1.Container) ([]string, error) {
	if len(c.Command) > 0 {
		return append(slices.Clone(c.Command), c.Args...), nil
	}
	mapped, ok := (*r.imageMap.Load())[c.Image]
	if !ok {
		return nil, fmt.Errorf("spec.containers[0].image %q: not in the image map and the container sets no command (add `%s: [command, args...]` to the --image-map file)", c.Image, c.Image)
	}
	if len(c.Args) > 0 {
		return append([]string{mapped[0]}, c.Args...), nil
	}
	return slices.Clone(mapped), nil
}

// localProbe returns the container's readiness probe aimed at the pod's local port:
// Knative only allows a probe on the container port (or none, 0), and here the
// container listens on $PORT, a free loopback port, instead of its containerPort.
func localProbe(c corev1.Container) *corev1.Probe {
	pr := c.ReadinessProbe.DeepCopy()
	declared := int32(0)
	if len(c.Ports) > 0 {
		declared = c.Ports[0].ContainerPort
	}
	onPort := func(p intstr.IntOrString) bool {
		return p.IntValue() == 0 || p.IntValue() == int(declared) || (len(c.Ports) > 0 && p.String() == c.Ports[0].Name)
	}
	if h := pr.HTTPGet; h != nil && onPort(h.Port) {
		h.Port = intstr.FromInt32(0)
	}
	if t := pr.TCPSocket; t != nil && onPort(t.Port) {
		t.Port = intstr.FromInt32(0)
	}
	return pr
}

func seconds(s *int64) time.Duration {
	if s == nil {
		return 0
	}
	return time.Duration(*s) * time.Second
}

// notifyRev tells Run's listener that rev's pods changed.
func (r *Runtime) notifyRev(rev *revision) {
	r.mu.Lock()
	notify := r.mu.notify
	r.mu.Unlock()
	if notify != nil {
		notify(rev.key)
	}
}
