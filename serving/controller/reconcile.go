package controller

import (
	"fmt"
	"maps"
	"slices"
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

// reconcile brings everything to the desired state once. It is cheap enough to run
// for all objects on every event: one machine holds tens of services, not thousands.
func (c *Controller) reconcile() {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.persistLocked() // before Unlock: what is seen is committed

	// Services → their Configuration and Route.
	for key, svc := range c.mu.services {
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
		} else if upd, changed := service.ApplyConfiguration(old, want); changed {
			if !specEqual(old.Spec, upd.Spec) {
				if c.srcGens {
					upd.Generation = 0
				} else {
					upd.Generation++
				}
			}
			c.mu.configs[key] = upd
		}
		wantRoute := service.MakeRoute(svc)
		if old := c.mu.routes[key]; old == nil {
			initMeta(&wantRoute.ObjectMeta, now)
			wantRoute.Status.InitializeConditions(now)
			c.mu.routes[key] = wantRoute
		} else if upd, changed := service.ApplyRoute(old, wantRoute); changed {
			if !specEqual(old.Spec, upd.Spec) {
				upd.Generation++
			}
			c.mu.routes[key] = upd
		}
	}

	// Revisions: status from their pods first, so Configurations see it.
	for key, rev := range c.mu.revs {
		c.revisionStatusLocked(key, rev, now)
	}

	// Configurations → Revisions, latest created / ready.
	for key, cfg := range c.mu.configs {
		c.reconcileConfigLocked(key, cfg, now)
	}

	// Routing state (active / reserve) of Configurations and Revisions.
	cfgs, revs := c.listLocked()
	for _, rt := range c.mu.routes {
		ch := revision.SyncRoutingState(rt, cfgs, revs, now)
		for _, cf := range ch.Configurations {
			c.mu.configs[nsKey(cf.Namespace, cf.Name)] = cf
		}
		for _, rv := range ch.Revisions {
			c.mu.revs[nsKey(rv.Namespace, rv.Name)] = rv
		}
		if len(ch.Configurations)+len(ch.Revisions) > 0 {
			cfgs, revs = c.listLocked()
		}
	}
	c.updateReachabilityLocked()

	// Routes → the table.
	c.reconcileRoutesLocked(now)

	// Services' status from their Configuration and Route.
	for key, svc := range c.mu.services {
		cfg, rt := c.mu.configs[key], c.mu.routes[key]
		if cfg == nil || rt == nil {
			continue
		}
		if service.PropagateConfigurationStatus(svc, cfg, now) {
			service.PropagateRouteStatus(svc, cfg, rt, now)
		}
		svc.Status.ObservedGeneration = svc.Generation
	}

	// Revision GC.
	for _, cfg := range c.mu.configs {
		for _, name := range gc.Collect(c.gcCfg, cfg, revs, now) {
			c.log.Info("revision garbage-collected", "revision", cfg.Namespace+"/"+name)
			c.deleteRevisionLocked(nsKey(cfg.Namespace, name))
		}
	}
	// Revisions whose Configuration is gone.
	for key, rev := range c.mu.revs {
		if _, ok := c.mu.configs[nsKey(key.Namespace, rev.Labels[serving.ConfigurationLabelKey])]; !ok {
			c.deleteRevisionLocked(key)
		}
	}

	for key, st := range c.mu.state {
		c.refreshEndpoints(key, st.dp)
		ready := 0
		for _, p := range c.backend.Pods(key) {
			if p.Ready && !p.Terminating {
				ready++
			}
		}
		c.reporter.ReportRevision(RevisionReport{
			Key:             key,
			Service:         c.mu.revs[key].Labels[serving.ServiceLabelKey],
			DesiredPods:     int(st.result.Replicas),
			ReadyPods:       ready,
			Panic:           c.panicking(key),
			ActivatorInPath: st.dp.ActivatorInPath(),
			QueueDepth:      c.throttler.Waiting(st.dp.Key()),
		})
	}
}

// panicking reports the decider's panic mode for key.
func (c *Controller) panicking(key types.NamespacedName) bool {
	p, _ := c.panics.Load(key)
	b, _ := p.(bool)
	return b
}

func (c *Controller) listLocked() ([]*v1.Configuration, []*v1.Revision) {
	cfgs := slices.Collect(maps.Values(c.mu.configs))
	revs := slices.Collect(maps.Values(c.mu.revs))
	return cfgs, revs
}

// reconcileConfigLocked stamps the Revision of cfg's generation and updates cfg's
// latest created / ready revisions.
func (c *Controller) reconcileConfigLocked(key types.NamespacedName, cfg *v1.Configuration, now time.Time) {
	if cfg.Generation == 0 {
		return // waiting for its source's generation (ConfirmGeneration)
	}
	_, revs := c.listLocked()
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
		c.mu.revs[rkey] = rev
		c.addRevisionLocked(rkey, rev, false)
		c.revisionStatusLocked(rkey, rev, now)
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
	c.scaler.Set(key, spec)
	// Start at the initial scale at once rather than at the next autoscaler tick.
	if err := c.backend.Scale(key, int(spec.InitialScale)); err != nil {
		c.log.Error("revision: scale", "revision", key.String(), "err", err)
	}
	if restored {
		c.log.Info("revision restored", "revision", key.String(), "initialScale", spec.InitialScale)
		return
	}
	c.log.Info("revision created", "revision", key.String(), "initialScale", spec.InitialScale)
}

// deleteRevisionLocked removes a revision everywhere.
func (c *Controller) deleteRevisionLocked(key types.NamespacedName) {
	delete(c.mu.revs, key)
	st := c.mu.state[key]
	delete(c.mu.state, key)
	c.scaler.Remove(key)
	c.panics.Delete(key)
	if st != nil {
		c.throttler.RemoveRevision(st.dp.Key())
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

// updateReachabilityLocked tells the autoscaler which revisions no route reaches
// (routing state "reserve"): Knative then ignores their min-scale.
func (c *Controller) updateReachabilityLocked() {
	for key, st := range c.mu.state {
		rev := c.mu.revs[key]
		if rev == nil || st.applyErr != nil {
			continue
		}
		reachable := rev.Labels[serving.RoutingStateLabelKey] != serving.RoutingStateReserve
		if reachable != st.reachable {
			st.reachable = reachable
			spec := st.spec
			spec.Reachable = reachable
			c.scaler.Set(key, spec)
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
	desired := int32(st.result.Replicas)
	if !st.haveResult {
		desired = st.spec.InitialScale
	}
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

// reconcileRoutesLocked resolves every Route, sets its status and stores a new table.
func (c *Controller) reconcileRoutesLocked(now time.Time) {
	lookups := map[string]route.MapLookup{}
	lookupFor := func(ns string) route.MapLookup {
		if l, ok := lookups[ns]; ok {
			return l
		}
		l := route.MapLookup{Configurations: map[string]route.Configuration{}, Revisions: map[string]route.Revision{}}
		for k, cfg := range c.mu.configs {
			if k.Namespace == ns {
				l.Configurations[k.Name] = route.Configuration{
					LatestReadyRevisionName: cfg.Status.LatestReadyRevisionName,
					Ready:                   condStatus(cfg.Status.GetCondition(v1.ConfigurationConditionReady)),
				}
			}
		}
		for k, rev := range c.mu.revs {
			if k.Namespace == ns {
				rs := route.StatusUnknown
				if rev.IsReady() {
					rs = route.StatusTrue
				} else if rev.IsFailed() {
					rs = route.StatusFalse
				}
				l.Revisions[k.Name] = route.Revision{
					Ready:             rs,
					ConfigurationName: rev.Labels[serving.ConfigurationLabelKey],
					ServiceName:       rev.Labels[serving.ServiceLabelKey],
				}
			}
		}
		lookups[ns] = l
		return l
	}
	keys := slices.SortedFunc(maps.Keys(c.mu.routes), func(a, b types.NamespacedName) int {
		if a.Namespace != b.Namespace {
			return cmpStr(a.Namespace, b.Namespace)
		}
		return cmpStr(a.Name, b.Name)
	})
	for _, key := range keys {
		rt := c.mu.routes[key]
		c.reconcileRouteLocked(key, rt, lookupFor(key.Namespace), now)
	}
	entries := make([]route.TableRoute, 0, len(c.mu.entries))
	for _, key := range keys {
		if e, ok := c.mu.entries[key]; ok {
			entries = append(entries, e)
		}
	}
	table, err := route.NewTable(entries, c.netCfg.TableOptions())
	if err != nil {
		c.log.Error("route table: conflicting hosts; keeping the previous table", "err", err)
		return
	}
	c.table.Store(table)
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
func (c *Controller) reconcileRouteLocked(key types.NamespacedName, rt *v1.Route, lookup route.MapLookup, now time.Time) {
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
	c.mu.entries[key] = entry
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
