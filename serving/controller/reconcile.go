package controller

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/gc"
	"github.com/servekit/servekit/serving/ingress"
	"github.com/servekit/servekit/serving/revision"
	"github.com/servekit/servekit/serving/runtime"
	"github.com/servekit/servekit/serving/service"
	v1 "github.com/servekit/servekit/serving/v1"
)

func specEqual(a, b any) bool { return equality.Semantic.DeepEqual(a, b) }

// initMeta fills in what the API server would on create. An object that comes with
// a UID keeps it: one applied from an API server (serving/runtime/kube/store) has
// the API server's, which the UID labels of its children (serviceUID,
// configurationUID) then carry, the same across controller restarts. Others get
// the controller's own, "<namespace>.<name>.<creation in Unix ns>".
func initMeta(m *metav1.ObjectMeta, now time.Time) {
	m.Generation = 1
	if m.UID == "" {
		m.UID = types.UID(fmt.Sprintf("%s.%s.%d", m.Namespace, m.Name, now.UnixNano()))
	}
	m.CreationTimestamp = metav1.NewTime(now)
}

// mergeMeta keeps the server-set metadata of old on an update, bumping the generation
// when the spec changed. The UID is upd's when it has one (the source's: an object
// replaced in the API server under the same name is another object).
func mergeMeta(old, upd metav1.ObjectMeta, specChanged bool) metav1.ObjectMeta {
	if upd.UID == "" {
		upd.UID = old.UID
	}
	upd.CreationTimestamp = old.CreationTimestamp
	upd.Generation = old.Generation
	if specChanged {
		upd.Generation++
	}
	return upd
}

func nsKey(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// reconcile brings what changed to the desired state: the objects marked dirty
// since the last pass (by Apply, Delete, ConfirmGeneration, the backend's pod
// notifications, the autoscaler's results), those whose time-based state is due
// (a progress deadline, a gradual rollout's next step), and what their changes
// touch (a Revision's status → its Configuration → the Routes that reference
// them → their Service), as Knative's controllers do through their work queues.
// An idle tick reconciles nothing, whatever the number of objects. Every
// FullResyncInterval everything is reconciled (revision GC's retain times, a
// missed notification), as an informer's periodic resync does.
func (c *Controller) reconcile() {
	now := c.clock.Now()
	pending := c.takePending()
	c.mu.Lock()
	defer c.mu.Unlock()
	d := &c.mu.dirty
	for key := range pending {
		if _, ok := c.mu.revs[key]; ok {
			d.revs.add(key)
		}
	}
	full := c.mu.lastFull.IsZero() || now.Sub(c.mu.lastFull) >= c.fullResync
	if full {
		c.mu.lastFull = now
		for key := range c.mu.services {
			d.svcs.add(key)
		}
		for key := range c.mu.configs {
			d.cfgs.add(key)
		}
		for key := range c.mu.routes {
			d.routes.add(key)
		}
		for key := range c.mu.revs {
			d.revs.add(key)
		}
		d.table = true
		// Revisions whose Configuration is gone (deleteConfigLocked deletes them
		// at once; this heals anything else).
		for key, rev := range c.mu.revs {
			if _, ok := c.mu.configs[nsKey(key.Namespace, rev.Labels[serving.ConfigurationLabelKey])]; !ok {
				c.deleteRevisionLocked(key)
			}
		}
	}
	for key, at := range c.mu.deadlines {
		if !now.Before(at) {
			d.revs.add(key)
			delete(c.mu.deadlines, key)
		}
	}
	for key := range c.mu.rolling {
		d.routes.add(key)
	}

	reconciled := 0
	revs := keySet{} // the revisions reconciled, to report
	for range maxRounds {
		if !d.any() {
			break
		}
		reconciled += c.reconcileRoundLocked(now, revs)
	}
	if d.any() {
		c.kick() // a chain of changes longer than maxRounds: go on at once
	}
	if d.table {
		d.table = false
		c.publishTableLocked()
	}

	for key := range c.mu.queued {
		revs.add(key) // requests wait in the activator: report the depth each tick
	}
	for key := range revs {
		st := c.mu.state[key]
		if st == nil {
			continue
		}
		if full {
			c.refreshEndpoints(key, st.dp)
		}
		c.reportRevisionLocked(key, st)
	}
	c.mu.passes++
	c.mu.reconciled = reconciled
	if reconciled > 0 || full {
		c.persistLocked(full) // before Unlock: what is seen is committed
	}
}

// maxRounds bounds the rounds of one reconcile pass: a round's changes mark what
// they touch for the next (a routing-state change marks its Revisions, a
// Revision's status its Configuration and Routes), which settles within a few.
const maxRounds = 8

// reconcileRoundLocked reconciles the dirty objects once, kind by kind in the
// order their state flows, and returns how many it reconciled. What they change
// is marked dirty for the next round.
func (c *Controller) reconcileRoundLocked(now time.Time, reported keySet) int {
	d := &c.mu.dirty
	c.touchDirtyLocked()
	n := 0
	// Services → their Configuration and Route (their status comes last).
	for key := range d.svcs {
		if svc := c.mu.services[key]; svc != nil {
			c.reconcileServiceChildrenLocked(key, svc, now)
		}
	}
	// Revisions: status from their pods first, so Configurations see it.
	for key := range d.revs.take() {
		rev := c.mu.revs[key]
		if rev == nil {
			continue
		}
		n++
		reported.add(key)
		before := rev.Status.DeepCopy()
		c.revisionStatusLocked(key, rev, now)
		c.updateReachabilityLocked(key, rev)
		c.scheduleDeadlineLocked(key, rev)
		if !equality.Semantic.DeepEqual(before, &rev.Status) {
			c.revisionChangedLocked(rev)
		}
	}
	// Configurations → Revisions, latest created / ready; then their GC.
	for key := range d.cfgs.take() {
		cfg := c.mu.configs[key]
		if cfg == nil {
			continue
		}
		n++
		before := cfg.Status.DeepCopy()
		c.reconcileConfigLocked(key, cfg, now)
		for _, name := range gc.Collect(c.gcCfg, cfg, c.configRevisionsLocked(cfg), now) {
			c.log.Info("revision garbage-collected", "revision", cfg.Namespace+"/"+name)
			c.deleteRevisionLocked(nsKey(cfg.Namespace, name))
		}
		if !equality.Semantic.DeepEqual(before, &cfg.Status) {
			c.configurationChangedLocked(cfg)
		}
	}
	// Routes: routing state (active / reserve) of what they reference, then
	// their table entries and status.
	if routes := d.routes.take(); len(routes) > 0 {
		n += len(routes)
		c.reconcileRoutesLocked(routes, now)
	}
	// Services' status from their Configuration and Route.
	for key := range d.svcs.take() {
		svc := c.mu.services[key]
		if svc == nil {
			continue
		}
		n++
		cfg, rt := c.mu.configs[key], c.mu.routes[key]
		if cfg == nil || rt == nil {
			continue
		}
		if service.PropagateConfigurationStatus(svc, cfg, now) {
			service.PropagateRouteStatus(svc, cfg, rt, now)
		}
		svc.Status.ObservedGeneration = svc.Generation
	}
	return n
}

// reconcileServiceChildrenLocked makes a Service's Configuration and Route what
// the Service says, marking them dirty when they change.
func (c *Controller) reconcileServiceChildrenLocked(key types.NamespacedName, svc *v1.Service, now time.Time) {
	want := service.MakeConfigurationFromExisting(svc, c.mu.configs[key])
	// With source generations, a new or changed spec waits at generation 0
	// for ConfirmGeneration (the API server's generation of that spec).
	if old := c.mu.configs[key]; old == nil {
		initMeta(&want.ObjectMeta, now)
		if c.srcGens {
			want.Generation = 0
		}
		want.Status.InitializeConditions(now)
		c.mu.configs[key] = want
		c.mu.dirty.cfgs.add(key)
	} else if upd, changed := service.ApplyConfiguration(old, want); changed {
		if !specEqual(old.Spec, upd.Spec) {
			if c.srcGens {
				upd.Generation = 0
			} else {
				upd.Generation++
			}
		}
		c.mu.configs[key] = upd
		c.mu.dirty.cfgs.add(key)
	}
	wantRoute := service.MakeRoute(svc)
	if old := c.mu.routes[key]; old == nil {
		initMeta(&wantRoute.ObjectMeta, now)
		wantRoute.Status.InitializeConditions(now)
		c.setRouteLocked(key, wantRoute)
	} else if upd, changed := service.ApplyRoute(old, wantRoute); changed {
		if !specEqual(old.Spec, upd.Spec) {
			upd.Generation++
		}
		c.setRouteLocked(key, upd)
	}
}

// revisionChangedLocked marks what reads a Revision's status or routing state:
// its Configuration (latest ready, GC) and the Routes that reference it, by name,
// through its Configuration, or in its routes annotation.
func (c *Controller) revisionChangedLocked(rev *v1.Revision) {
	cfg := rev.Labels[serving.ConfigurationLabelKey]
	if cfg != "" {
		c.mu.dirty.cfgs.add(nsKey(rev.Namespace, cfg))
		c.mu.refs.markRoutes(&c.mu.dirty, nsKey(rev.Namespace, cfg), false)
	}
	c.mu.refs.markRoutes(&c.mu.dirty, nsKey(rev.Namespace, rev.Name), true)
	markListedRoutes(&c.mu.dirty, rev.Namespace, rev.Annotations)
}

// configurationChangedLocked marks what reads a Configuration's status: the
// Routes that reference it and its Service.
func (c *Controller) configurationChangedLocked(cfg *v1.Configuration) {
	c.mu.refs.markRoutes(&c.mu.dirty, nsKey(cfg.Namespace, cfg.Name), false)
	markListedRoutes(&c.mu.dirty, cfg.Namespace, cfg.Annotations)
	if svc := cfg.Labels[serving.ServiceLabelKey]; svc != "" {
		c.mu.dirty.svcs.add(nsKey(cfg.Namespace, svc))
	}
}

// markListedRoutes marks the Routes an object's serving.knative.dev/routes
// annotation lists.
func markListedRoutes(d *dirtySet, ns string, annotations map[string]string) {
	for name := range strings.SplitSeq(annotations[serving.RoutesAnnotationKey], ",") {
		if name != "" {
			d.routes.add(nsKey(ns, name))
		}
	}
}

// scheduleDeadlineLocked remembers when a revision that has never been ready
// reaches its progress deadline, so that the pass at that time reconciles it.
func (c *Controller) scheduleDeadlineLocked(key types.NamespacedName, rev *v1.Revision) {
	st := c.mu.state[key]
	deadline := time.Duration(0)
	if st != nil {
		deadline = st.spec.ActivationTimeout - autoscaler.ActivationTimeoutBuffer
	}
	if st == nil || st.everReady || deadline <= 0 || rev.Status.GetCondition(v1.RevisionConditionResourcesAvailable).IsFalse() {
		delete(c.mu.deadlines, key)
		return
	}
	c.mu.deadlines[key] = rev.CreationTimestamp.Add(deadline)
}

// reportRevisionLocked hands a revision's state to the Reporter.
func (c *Controller) reportRevisionLocked(key types.NamespacedName, st *revState) {
	ready := 0
	for _, p := range c.backend.Pods(key) {
		if p.Ready && !p.Terminating {
			ready++
		}
	}
	depth := c.throttler.Waiting(st.dp.Key())
	if depth > 0 {
		c.mu.queued.add(key)
	} else {
		delete(c.mu.queued, key)
	}
	c.reporter.ReportRevision(RevisionReport{
		Key:             key,
		Service:         c.mu.revs[key].Labels[serving.ServiceLabelKey],
		DesiredPods:     int(c.desiredLocked(st)),
		ReadyPods:       ready,
		Panic:           c.panicking(key),
		ActivatorInPath: st.dp.ActivatorInPath(),
		QueueDepth:      depth,
	})
}

// panicking reports the decider's panic mode for key.
func (c *Controller) panicking(key types.NamespacedName) bool {
	p, _ := c.panics.Load(key)
	b, _ := p.(bool)
	return b
}

// configRevisionsLocked returns cfg's Revisions, and the Revision its template's
// bring-your-own name names (which revision.Current checks, whoever owns it).
func (c *Controller) configRevisionsLocked(cfg *v1.Configuration) []*v1.Revision {
	keys := c.mu.revsByCfg[nsKey(cfg.Namespace, cfg.Name)]
	out := make([]*v1.Revision, 0, len(keys)+1)
	for key := range keys {
		if rev := c.mu.revs[key]; rev != nil {
			out = append(out, rev)
		}
	}
	if byo := cfg.Spec.Template.Name; byo != "" {
		if rev := c.mu.revs[nsKey(cfg.Namespace, byo)]; rev != nil && !slices.Contains(out, rev) {
			out = append(out, rev)
		}
	}
	return out
}

// reconcileConfigLocked stamps the Revision of cfg's generation and updates cfg's
// latest created / ready revisions.
func (c *Controller) reconcileConfigLocked(key types.NamespacedName, cfg *v1.Configuration, now time.Time) {
	if cfg.Generation == 0 {
		return // waiting for its source's generation (ConfirmGeneration)
	}
	revs := c.configRevisionsLocked(cfg)
	cur, err := revision.Current(cfg, revs)
	if err != nil {
		cfg.Status.MarkRevisionCreationFailed(now, err.Error())
		cfg.Status.ObservedGeneration = cfg.Generation
		return
	}
	if cur == nil {
		rev, err := revision.Snapshot(cfg, now)
		if err != nil {
			cfg.Status.MarkRevisionCreationFailed(now, err.Error())
			cfg.Status.ObservedGeneration = cfg.Generation
			return
		}
		rev.Generation = 1
		rev.UID = types.UID(fmt.Sprintf("%s.%s.%d", rev.Namespace, rev.Name, now.UnixNano()))
		rev.CreationTimestamp = metav1.NewTime(now)
		rev.Status.InitializeConditions(now)
		rkey := nsKey(rev.Namespace, rev.Name)
		c.putRevisionLocked(rkey, rev)
		c.addRevisionLocked(rkey, rev, false)
		c.revisionStatusLocked(rkey, rev, now)
		c.mu.dirty.revs.add(rkey) // reported, its deadline scheduled, its Routes told
		cur = rev
		revs = append(revs, rev)
	}
	events, err := revision.UpdateLatest(cfg, cur, revs, now)
	if err != nil {
		c.log.Error("configuration: latest revision", "configuration", key.String(), "err", err)
	}
	for _, e := range events {
		c.log.Info("configuration event", "configuration", key.String(), "reason", e.Reason, "message", e.Message)
	}
	cfg.Status.ObservedGeneration = cfg.Generation
}

// addRevisionLocked wires a new revision: backend, autoscaler, activator, data plane.
// A revision restored from the Store that was Ready has reached its initial scale
// before the restart: it stays Ready and starts at zero pods, scaled from there by
// the autoscaler (min-scale, requests through the activator). Pods are children of
// the process and do not outlive it.
func (c *Controller) addRevisionLocked(key types.NamespacedName, rev *v1.Revision, restored bool) {
	cc := int64(0)
	if rev.Spec.ContainerConcurrency != nil {
		cc = *rev.Spec.ContainerConcurrency
	}
	spec := c.autoscalingSpecLocked(key, rev)
	st := &revState{key: key, spec: spec, reachable: true}
	if restored && rev.IsReady() {
		st.everReady = true
		st.spec.InitialScale, spec.InitialScale = 0, 0
	}
	st.dp = ingress.NewRevision(key)
	st.dp.SetH2C(revisionH2C(rev))
	c.mu.state[key] = st
	timeout := time.Duration(0)
	if rev.Spec.TimeoutSeconds != nil {
		timeout = time.Duration(*rev.Spec.TimeoutSeconds) * time.Second
	}
	if err := c.throttler.SetRevision(st.dp.Key(), activator.Revision{ContainerConcurrency: int(cc), Timeout: timeout, H2C: st.dp.H2C()}); err != nil {
		c.log.Error("revision: activator", "revision", key.String(), "err", err)
	}
	c.publishDataplaneLocked()
	if err := c.backend.Apply(rev); err != nil {
		st.applyErr = err
		c.log.Error("revision: backend cannot run it", "revision", key.String(), "err", err)
		return
	}
	if err := c.autoscaleLocked(st, true); err != nil {
		st.applyErr = err
		c.log.Error("revision: backend cannot scale it", "revision", key.String(), "err", err)
		return
	}
	if restored {
		c.log.Info("revision restored", "revision", key.String(), "initialScale", spec.InitialScale)
		return
	}
	c.log.Info("revision created", "revision", key.String(), "initialScale", spec.InitialScale)
}

// autoscaleLocked hands a revision's autoscaling spec to its autoscaler: the KPA
// (the MultiScaler), which with initial also applies the initial scale at once
// rather than at its next tick; or, for the HPA class, the backend's HPA
// (runtime.HPAScaler), which starts and scales the pods itself, never to zero, with
// the activator out of the path (Knative's SKS Serve mode; with no ready pod yet the
// ingress still sends requests through the activator).
func (c *Controller) autoscaleLocked(st *revState, initial bool) error {
	key := st.key
	if st.spec.Class == autoscaler.ClassHPA {
		hs, ok := c.backend.(runtime.HPAScaler)
		if !ok {
			return fmt.Errorf("controller: the runtime does not run the HPA autoscaling class (%s: %s)", autoscaler.AnnotationClass, autoscaler.ClassHPA)
		}
		st.hpa = true
		st.dp.SetActivatorInPath(false)
		return hs.SetHPA(key, st.spec)
	}
	c.scaler.Set(key, st.spec)
	if initial {
		if err := c.backend.Scale(key, int(st.spec.InitialScale)); err != nil {
			c.log.Error("revision: scale", "revision", key.String(), "err", err)
		}
	}
	return nil
}

// desiredLocked is the replica count a revision's autoscaler asks for: the KPA's
// last result (the initial scale before one), or the backend HPA's.
func (c *Controller) desiredLocked(st *revState) int32 {
	if st.hpa {
		if hs, ok := c.backend.(runtime.HPAScaler); ok {
			if d := hs.HPAStatus(st.key).DesiredReplicas; d > 0 {
				return d
			}
		}
		return max(st.spec.InitialScale, st.spec.BoundedMin(), 1)
	}
	if !st.haveResult {
		return st.spec.InitialScale
	}
	return st.result.Replicas
}

// putRevisionLocked stores a revision and indexes it by its Configuration.
func (c *Controller) putRevisionLocked(key types.NamespacedName, rev *v1.Revision) {
	c.mu.revs[key] = rev
	cfg := nsKey(key.Namespace, rev.Labels[serving.ConfigurationLabelKey])
	if c.mu.revsByCfg[cfg] == nil {
		c.mu.revsByCfg[cfg] = keySet{}
	}
	c.mu.revsByCfg[cfg].add(key)
}

// deleteRevisionLocked removes a revision everywhere.
func (c *Controller) deleteRevisionLocked(key types.NamespacedName) {
	svc := ""
	if rev := c.mu.revs[key]; rev != nil {
		svc = rev.Labels[serving.ServiceLabelKey]
		cfg := nsKey(key.Namespace, rev.Labels[serving.ConfigurationLabelKey])
		if set := c.mu.revsByCfg[cfg]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(c.mu.revsByCfg, cfg)
			}
		}
		c.revisionChangedLocked(rev) // its Configuration and Routes see it gone
	}
	delete(c.mu.revs, key)
	delete(c.mu.deadlines, key)
	delete(c.mu.queued, key)
	st := c.mu.state[key]
	delete(c.mu.state, key)
	c.scaler.Remove(key)
	c.panics.Delete(key)
	if st != nil {
		c.throttler.RemoveRevision(st.dp.Key())
		c.reporter.ReportRevision(RevisionReport{Key: key, Service: svc, Deleted: true})
	}
	if err := c.backend.Delete(key); err != nil {
		c.log.Error("revision: delete", "revision", key.String(), "err", err)
	}
	c.publishDataplaneLocked()
	c.log.Info("revision deleted", "revision", key.String())
}

// publishDataplaneLocked replaces the ingress's revision map.
func (c *Controller) publishDataplaneLocked() {
	m := make(map[types.NamespacedName]*ingress.Revision, len(c.mu.state))
	for k, st := range c.mu.state {
		m[k] = st.dp
	}
	c.dp.Store(&m)
}

// updateReachabilityLocked tells the autoscaler whether any route reaches a
// revision (routing state "reserve" means none: Knative then ignores its
// min-scale).
func (c *Controller) updateReachabilityLocked(key types.NamespacedName, rev *v1.Revision) {
	st := c.mu.state[key]
	if st == nil || st.applyErr != nil {
		return
	}
	reachable := rev.Labels[serving.RoutingStateLabelKey] != serving.RoutingStateReserve
	if reachable != st.reachable {
		st.reachable = reachable
		st.spec.Reachable = reachable
		if err := c.autoscaleLocked(st, false); err != nil {
			c.log.Error("revision: autoscaling", "revision", key.String(), "err", err)
		}
	}
}

// revisionStatusLocked sets a revision's conditions from its pods and scale.
func (c *Controller) revisionStatusLocked(key types.NamespacedName, rev *v1.Revision, now time.Time) {
	st := c.mu.state[key]
	if st == nil {
		return
	}
	rs := &rev.Status
	rs.ObservedGeneration = rev.Generation
	applyErr := st.applyErr
	if re, ok := c.backend.(runtime.RevisionErrorer); ok && applyErr == nil {
		applyErr = re.RevisionError(key)
	}
	if applyErr != nil {
		rs.MarkContainerHealthyFalse(now, reasonRuntimeError, applyErr.Error())
		rs.MarkResourcesAvailableFalse(now, reasonRuntimeError, applyErr.Error())
		c.logRevisionState(st, rev)
		return
	}
	// The backend's asynchronous apply succeeded after failing: the pods say the
	// rest below.
	if ch := rs.GetCondition(v1.RevisionConditionContainerHealthy); ch.IsFalse() && ch.Reason == reasonRuntimeError {
		rs.MarkContainerHealthyUnknown(now, v1.ReasonDeploying, "")
	}
	if ra := rs.GetCondition(v1.RevisionConditionResourcesAvailable); ra.IsFalse() && ra.Reason == reasonRuntimeError {
		rs.MarkResourcesAvailableUnknown(now, v1.ReasonDeploying, "")
	}
	pods := c.backend.Pods(key)
	ready, actual, restarts, lastExit := 0, 0, 0, ""
	for _, p := range pods {
		if p.Terminating {
			continue
		}
		actual++
		if p.Ready {
			ready++
		}
		restarts += p.Restarts
		if p.LastExit != "" {
			lastExit = p.LastExit
		}
	}
	desired := c.desiredLocked(st)
	rs.DesiredReplicas = &desired
	a := int32(actual)
	rs.ActualReplicas = &a
	switch {
	case ready > 0:
		st.everReady = true
		rs.MarkResourcesAvailableTrue(now)
		rs.MarkContainerHealthyTrue(now)
	case st.everReady:
		// Scaled to zero, or pods restarting after having served: still Ready,
		// as in Knative.
		if lastExit != "" && actual > 0 {
			rs.MarkContainerHealthyFalse(now, "ExitCode", fmt.Sprintf("Container failed with: %s (%d restarts)", lastExit, restarts))
		}
	case lastExit != "":
		rs.MarkContainerHealthyFalse(now, "ExitCode", fmt.Sprintf("Container failed with: %s (%d restarts)", lastExit, restarts))
	case st.spec.InitialScale == 0:
		// Initial scale 0 (allow-zero-initial-scale): as Knative's KPA, the scale
		// target is initialised at once (0 ready pods are enough). The revision is
		// Ready and routable, Active=False until its first request scales it up.
		st.everReady = true
		rs.MarkResourcesAvailableTrue(now)
		rs.MarkContainerHealthyTrue(now)
	default:
		rs.MarkResourcesAvailableUnknown(now, v1.ReasonDeploying, "")
	}
	// Knative's progress deadline (serving.knative.dev/progress-deadline, 600s by
	// default): a revision that never became ready in time has failed; the
	// autoscaler scales it to zero 30s later (Spec.ActivationTimeout).
	deadline := st.spec.ActivationTimeout - autoscaler.ActivationTimeoutBuffer
	if !st.everReady && deadline > 0 && now.Sub(rev.CreationTimestamp.Time) >= deadline {
		rs.MarkResourcesAvailableFalse(now, v1.ReasonProgressDeadlineExceeded, "Initial scale was never achieved")
	}
	switch {
	case ready > 0:
		rs.MarkActiveTrue(now)
	case st.haveResult && st.result.Replicas == 0:
		rs.MarkActiveFalse(now, v1.ReasonNoTraffic, "The target is not receiving traffic.")
	default:
		rs.MarkActiveUnknown(now, "Activating", "The target is activating.")
	}
	c.logRevisionState(st, rev)
}

// reasonRuntimeError is the reason of a revision the backend cannot run.
const reasonRuntimeError = "RuntimeError"

// logRevisionState writes one line when a revision's Ready condition changes.
func (c *Controller) logRevisionState(st *revState, rev *v1.Revision) {
	cond := rev.Status.GetCondition(v1.RevisionConditionReady)
	state := "Unknown"
	reason, msg := "", ""
	if cond != nil {
		state, reason, msg = string(cond.Status), cond.Reason, cond.Message
	}
	if state == st.ready {
		return
	}
	st.ready = state
	c.log.Info("revision state", "revision", st.key.String(), "ready", state, "reason", reason, "message", msg)
}

// reconcileRoutesLocked reconciles the Routes keys: the routing state of what
// each references, then its traffic, status and table entry (the table itself is
// rebuilt once per pass, see publishTableLocked).
func (c *Controller) reconcileRoutesLocked(keys keySet, now time.Time) {
	sorted := slices.SortedFunc(maps.Keys(keys), compareNames)
	listing := c.routeListingsLocked(keys)
	for _, key := range sorted {
		rt := c.mu.routes[key]
		if rt == nil {
			continue
		}
		cfgs, revs := c.routingCandidatesLocked(rt, listing[key])
		ch := revision.SyncRoutingState(rt, cfgs, revs, now)
		for _, cf := range ch.Configurations {
			c.mu.configs[nsKey(cf.Namespace, cf.Name)] = cf
		}
		for _, rv := range ch.Revisions {
			rk := nsKey(rv.Namespace, rv.Name)
			c.mu.revs[rk] = rv
			// Reachability (the autoscaler) and GC read the routing state.
			c.mu.dirty.revs.add(rk)
			c.mu.dirty.cfgs.add(nsKey(rv.Namespace, rv.Labels[serving.ConfigurationLabelKey]))
		}
	}
	for _, key := range sorted {
		rt := c.mu.routes[key]
		if rt == nil {
			continue
		}
		before := rt.Status.DeepCopy()
		c.reconcileRouteLocked(key, rt, nsLookup{c: c, ns: key.Namespace}, now)
		if !equality.Semantic.DeepEqual(before, &rt.Status) {
			// The routing state reads the status traffic and readiness: sync
			// again with the new ones (e.g. clean up the Revision it left).
			c.mu.dirty.routes.add(key)
			if svc := rt.Labels[serving.ServiceLabelKey]; svc != "" {
				c.mu.dirty.svcs.add(nsKey(key.Namespace, svc))
			}
		}
	}
}

// routeListingsLocked returns, for each of the Routes keys, the Configurations
// and Revisions whose serving.knative.dev/routes annotation lists it: those a
// routing-state sync may have to clean up. It reads every object of the keys'
// namespaces, once per pass that has Routes to reconcile.
func (c *Controller) routeListingsLocked(keys keySet) map[types.NamespacedName]*routeListing {
	nss := map[string]bool{}
	for key := range keys {
		nss[key.Namespace] = true
	}
	out := map[types.NamespacedName]*routeListing{}
	entry := func(ns, route string) *routeListing {
		k := nsKey(ns, route)
		if _, ok := keys[k]; !ok {
			return nil
		}
		l := out[k]
		if l == nil {
			l = &routeListing{}
			out[k] = l
		}
		return l
	}
	for key, cfg := range c.mu.configs {
		if !nss[key.Namespace] {
			continue
		}
		for name := range strings.SplitSeq(cfg.Annotations[serving.RoutesAnnotationKey], ",") {
			if l := entry(key.Namespace, name); l != nil {
				l.cfgs = append(l.cfgs, cfg)
			}
		}
	}
	for key, rev := range c.mu.revs {
		if !nss[key.Namespace] {
			continue
		}
		for name := range strings.SplitSeq(rev.Annotations[serving.RoutesAnnotationKey], ",") {
			if l := entry(key.Namespace, name); l != nil {
				l.revs = append(l.revs, rev)
			}
		}
	}
	return out
}

// routeListing holds the objects whose routes annotation lists one Route.
type routeListing struct {
	cfgs []*v1.Configuration
	revs []*v1.Revision
}

// routingCandidatesLocked returns what revision.SyncRoutingState must see for rt:
// the Configurations and Revisions it references (by name in its spec and status
// traffic, a Revision's Configuration, a Configuration's latest created
// Revision) and those that list it (listed, may be nil). A superset does no harm.
func (c *Controller) routingCandidatesLocked(rt *v1.Route, listed *routeListing) ([]*v1.Configuration, []*v1.Revision) {
	var cfgs []*v1.Configuration
	var revs []*v1.Revision
	if listed != nil {
		cfgs = append(cfgs, listed.cfgs...)
		revs = append(revs, listed.revs...)
	}
	addCfg := func(name string) {
		if cfg := c.mu.configs[nsKey(rt.Namespace, name)]; name != "" && cfg != nil && !slices.Contains(cfgs, cfg) {
			cfgs = append(cfgs, cfg)
			if lc := c.mu.revs[nsKey(rt.Namespace, cfg.Status.LatestCreatedRevisionName)]; lc != nil && !slices.Contains(revs, lc) {
				revs = append(revs, lc)
			}
		}
	}
	for _, traffic := range [][]v1.TrafficTarget{rt.Status.Traffic, rt.Spec.Traffic} {
		for _, tt := range traffic {
			addCfg(tt.ConfigurationName)
			if rev := c.mu.revs[nsKey(rt.Namespace, tt.RevisionName)]; tt.RevisionName != "" && rev != nil {
				if !slices.Contains(revs, rev) {
					revs = append(revs, rev)
				}
				addCfg(rev.Labels[serving.ConfigurationLabelKey])
				if owner := metav1.GetControllerOf(rev); owner != nil && owner.Kind == v1.KindConfiguration {
					addCfg(owner.Name)
				}
			}
		}
	}
	return cfgs, revs
}

// nsLookup is the route.Lookup of one namespace, read from the controller's
// maps (c.mu held).
type nsLookup struct {
	c  *Controller
	ns string
}

func (l nsLookup) Configuration(name string) (route.Configuration, bool) {
	cfg := l.c.mu.configs[nsKey(l.ns, name)]
	if cfg == nil {
		return route.Configuration{}, false
	}
	return route.Configuration{
		LatestReadyRevisionName: cfg.Status.LatestReadyRevisionName,
		Ready:                   condStatus(cfg.Status.GetCondition(v1.ConfigurationConditionReady)),
	}, true
}

func (l nsLookup) Revision(name string) (route.Revision, bool) {
	rev := l.c.mu.revs[nsKey(l.ns, name)]
	if rev == nil {
		return route.Revision{}, false
	}
	rs := route.StatusUnknown
	if rev.IsReady() {
		rs = route.StatusTrue
	} else if rev.IsFailed() {
		rs = route.StatusFalse
	}
	return route.Revision{
		Ready:             rs,
		ConfigurationName: rev.Labels[serving.ConfigurationLabelKey],
		ServiceName:       rev.Labels[serving.ServiceLabelKey],
	}, true
}

// publishTableLocked builds the route table from every Route's last good entry
// and stores it.
func (c *Controller) publishTableLocked() {
	keys := slices.SortedFunc(maps.Keys(c.mu.entries), compareNames)
	entries := make([]route.TableRoute, 0, len(keys))
	for _, key := range keys {
		entries = append(entries, c.mu.entries[key])
	}
	table, err := route.NewTable(entries, c.netCfg.TableOptions())
	if err != nil {
		c.log.Error("route table: conflicting hosts; keeping the previous table", "err", err)
		return
	}
	c.table.Store(table)
}

// compareNames orders keys by namespace, then name.
func compareNames(a, b types.NamespacedName) int {
	if a.Namespace != b.Namespace {
		return cmpStr(a.Namespace, b.Namespace)
	}
	return cmpStr(a.Name, b.Name)
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func condStatus(c *v1.Condition) route.Status {
	switch {
	case c.IsTrue():
		return route.StatusTrue
	case c.IsFalse():
		return route.StatusFalse
	}
	return route.StatusUnknown
}

// reconcileRouteLocked resolves one Route and updates its status and table entry.
func (c *Controller) reconcileRouteLocked(key types.NamespacedName, rt *v1.Route, lookup route.Lookup, now time.Time) {
	rs := &rt.Status
	rs.ObservedGeneration = rt.Generation
	targets := make([]route.Target, 0, len(rt.Spec.Traffic))
	for _, t := range rt.Spec.Traffic {
		targets = append(targets, route.Target{
			Tag: t.Tag, RevisionName: t.RevisionName, ConfigurationName: t.ConfigurationName,
			LatestRevision: t.LatestRevision, Percent: t.Percent,
		})
	}
	rr := route.Route{Name: rt.Name, Namespace: rt.Namespace, Labels: rt.Labels, Annotations: rt.Annotations, Traffic: targets}
	hosts, herr := c.netCfg.Hosts(rr)
	if herr == nil && len(hosts) > 0 {
		rs.URL = hosts[0].URL
		local := "http://" + rt.Name + "." + rt.Namespace + "." + c.netCfg.LocalDomain()
		rs.Address = &v1.Addressable{URL: local}
	}
	traffic, err := route.ResolveOwned(rt.Labels[serving.ServiceLabelKey], targets, lookup)
	var entry route.TableRoute
	var ro *route.Rollout
	if err == nil {
		// Gradual rollout (serving.knative.dev/rollout-duration or config-network's
		// rollout-duration): the table is stored synchronously, so the previous
		// step is always live ("applied"); the 1s resync advances the steps.
		dur, derr := c.netCfg.RolloutDurationFor(rt.Annotations)
		if derr != nil {
			c.log.Error("route: rollout duration", "route", key.String(), "err", derr)
			dur = 0
		}
		ro, _ = route.Advance(route.RolloutFrom(traffic), c.mu.rollouts[key], dur, true, now)
		c.mu.rollouts[key] = ro
		entry, err = c.netCfg.TableRoute(rr, traffic, ro)
	}
	if err == nil && herr != nil {
		err = herr
	}
	status, reason, message := route.TrafficCondition(err)
	cm := rs.ConditionManager()
	switch status {
	case route.StatusTrue:
		rs.MarkTrafficAssigned(now)
	case route.StatusFalse:
		cm.MarkFalse(now, v1.RouteConditionAllTrafficAssigned, reason, message)
	default:
		cm.MarkUnknown(now, v1.RouteConditionAllTrafficAssigned, reason, message)
	}
	if err != nil {
		return // keep serving the last good entry, as Knative keeps the last ingress
	}
	if ro.Done() {
		delete(c.mu.rolling, key)
	} else {
		c.mu.rolling.add(key) // the next tick advances it
	}
	c.mu.entries[key] = entry
	c.mu.dirty.table = true
	tagURL := map[string]string{}
	for _, h := range hosts {
		tagURL[h.Tag] = h.URL
	}
	rs.Traffic = rs.Traffic[:0]
	for _, t := range traffic.Status(ro) {
		tt := v1.TrafficTarget{Tag: t.Tag, RevisionName: t.RevisionName, Percent: ptr(t.Percent)}
		if t.LatestRevision {
			tt.LatestRevision = ptr(true)
			tt.ConfigurationName = ""
		} else {
			tt.LatestRevision = ptr(false)
		}
		if t.Tag != "" {
			tt.URL = tagURL[t.Tag]
		}
		rs.Traffic = append(rs.Traffic, tt)
	}
	if ro.Done() {
		rs.PropagateIngressReady(now, corev1.ConditionTrue, "", "")
	} else {
		rs.MarkIngressRolloutInProgress(now)
	}
	rs.MarkTLSNotEnabled(now, v1.MessageTLSNotEnabled)
}

func ptr[T any](v T) *T { return &v }
