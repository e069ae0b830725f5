package v1

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SetDefaults fills in what Knative's defaulting webhook fills in when a
// Service is created: the revision template defaults (see
// RevisionSpec.SetDefaults) and, if spec.traffic is empty,
// [{latestRevision: true, percent: 100}]; then each traffic entry's nil
// latestRevision becomes revisionName == "" and its nil percent 0.
//
// Unlike the webhook, SetDefaults does not write the
// serving.knative.dev/creator and lastModifier annotations: it has no
// requesting user. Callers that know one set them.
func (s *Service) SetDefaults(d Defaults) {
	s.Spec.Template.setDefaults(d, &s.ObjectMeta, true)
	if len(s.Spec.Traffic) == 0 {
		s.Spec.Traffic = []TrafficTarget{{LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	}
	defaultTraffic(s.Spec.Traffic)
}

// SetDefaultsOnUpdate is SetDefaults for an update from old: the template
// is left alone when it carries a bring-your-own name equal to old's (so
// that new config-defaults cannot "change" a template whose name says it
// did not change), and enableServiceLinks is never filled in.
func (s *Service) SetDefaultsOnUpdate(old *Service, d Defaults) {
	if !byoNameUnchanged(&s.Spec.Template, &old.Spec.Template) {
		s.Spec.Template.setDefaults(d, &s.ObjectMeta, false)
	}
	if len(s.Spec.Traffic) == 0 {
		s.Spec.Traffic = []TrafficTarget{{LatestRevision: ptr(true), Percent: ptr[int64](100)}}
	}
	defaultTraffic(s.Spec.Traffic)
}

// SetDefaults fills in the revision template defaults of a Configuration
// being created (see RevisionSpec.SetDefaults). Like Service.SetDefaults it
// writes no user annotations.
func (c *Configuration) SetDefaults(d Defaults) {
	c.Spec.Template.setDefaults(d, &c.ObjectMeta, true)
}

// SetDefaultsOnUpdate is SetDefaults for an update from old (see
// Service.SetDefaultsOnUpdate).
func (c *Configuration) SetDefaultsOnUpdate(old *Configuration, d Defaults) {
	if !byoNameUnchanged(&c.Spec.Template, &old.Spec.Template) {
		c.Spec.Template.setDefaults(d, &c.ObjectMeta, false)
	}
}

// SetDefaults defaults each traffic entry of a Route: a nil latestRevision
// becomes revisionName == "", a nil percent 0. An empty traffic list stays
// empty (and fails validation), as in Knative.
func (r *Route) SetDefaults(Defaults) {
	defaultTraffic(r.Spec.Traffic)
}

// SetDefaults fills in the spec defaults of a Revision being created. A
// Revision is never defaulted on update: its spec is immutable.
func (r *Revision) SetDefaults(d Defaults) {
	r.Spec.SetDefaults(d, &r.ObjectMeta, true)
}

func byoNameUnchanged(cur, old *RevisionTemplateSpec) bool {
	return cur.Name != "" && cur.Name == old.Name
}

func (t *RevisionTemplateSpec) setDefaults(d Defaults, parent *metav1.ObjectMeta, create bool) {
	t.Spec.SetDefaults(d, parent, create)
}

func defaultTraffic(traffic []TrafficTarget) {
	for i := range traffic {
		tt := &traffic[i]
		if tt.LatestRevision == nil {
			tt.LatestRevision = ptr(tt.RevisionName == "")
		}
		if tt.Percent == nil {
			tt.Percent = ptr[int64](0)
		}
	}
}

// SetDefaults applies Knative's RevisionSpec defaults, in Knative's order:
//
//   - timeoutSeconds nil or 0 becomes d.RevisionTimeoutSeconds (300);
//   - idleTimeoutSeconds and responseStartTimeoutSeconds, when nil, get the
//     d value only if it is non-zero and below timeoutSeconds (with stock
//     defaults both stay nil);
//   - containerConcurrency nil becomes d.ContainerConcurrency (0);
//   - unnamed containers get the rendered container-name template
//     ("user-container"); with several containers, or a clash, they become
//     "<name>-<n>", n counting from 0 and skipping taken names; init
//     containers likewise with "init-container";
//   - every container gets non-nil resource request/limit maps, plus the d
//     resource quantities it does not set;
//   - the serving container (the only one, or one with ports) gets a
//     readiness probe if it has none, and tcpSocket{port: 0} if the probe
//     has no handler; every readiness probe gets successThreshold 1 when 0,
//     and failureThreshold 3 / timeoutSeconds 1 when 0 only if
//     periodSeconds is non-zero;
//   - grpc probes get service "" when nil;
//   - port protocol "" becomes TCP (Knative's CRD schema default);
//   - mounts of volumes that are not emptyDir, PVC or ephemeral become
//     readOnly;
//   - on create only, a nil enableServiceLinks becomes d.EnableServiceLinks
//     (false).
//
// parent is the ObjectMeta the container-name template is rendered against
// (the Service, Configuration or Revision). create is false on update.
// Ports are left alone: 8080 is assumed, not written, when none is given.
func (rs *RevisionSpec) SetDefaults(d Defaults, parent *metav1.ObjectMeta, create bool) {
	if rs.TimeoutSeconds == nil || *rs.TimeoutSeconds == 0 {
		rs.TimeoutSeconds = ptr(d.RevisionTimeoutSeconds)
	}
	if rs.IdleTimeoutSeconds == nil && d.RevisionIdleTimeoutSeconds != 0 && d.RevisionIdleTimeoutSeconds < *rs.TimeoutSeconds {
		rs.IdleTimeoutSeconds = ptr(d.RevisionIdleTimeoutSeconds)
	}
	if rs.ResponseStartTimeoutSeconds == nil && d.RevisionResponseStartTimeoutSeconds != 0 && d.RevisionResponseStartTimeoutSeconds < *rs.TimeoutSeconds {
		rs.ResponseStartTimeoutSeconds = ptr(d.RevisionResponseStartTimeoutSeconds)
	}
	if rs.ContainerConcurrency == nil {
		rs.ContainerConcurrency = ptr(d.ContainerConcurrency)
	}

	if parent == nil {
		parent = &metav1.ObjectMeta{}
	}
	// Reserve every user-given name, of both kinds, before generating any.
	taken := make(map[string]bool, len(rs.Containers)+len(rs.InitContainers))
	for i := range rs.Containers {
		taken[rs.Containers[i].Name] = true
	}
	for i := range rs.InitContainers {
		taken[rs.InitContainers[i].Name] = true
	}
	applyDefaultContainerNames(rs.Containers, taken, d.userContainerName(parent))
	applyDefaultContainerNames(rs.InitContainers, taken, d.initContainerName(parent))

	for i := range rs.Containers {
		c := &rs.Containers[i]
		d.resourceDefaults(c)
		if len(rs.Containers) == 1 || len(c.Ports) != 0 {
			defaultServingReadinessProbe(c)
		}
		defaultReadinessProbe(c.ReadinessProbe)
		defaultGRPCProbes(c)
		for j := range c.Ports {
			if c.Ports[j].Protocol == "" {
				c.Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
		rs.defaultVolumeMounts(c)
	}
	for i := range rs.InitContainers {
		defaultGRPCProbes(&rs.InitContainers[i])
	}
	if create && rs.EnableServiceLinks == nil && d.EnableServiceLinks != nil {
		rs.EnableServiceLinks = ptr(*d.EnableServiceLinks)
	}
}

func applyDefaultContainerNames(containers []corev1.Container, taken map[string]bool, name string) {
	if len(containers) == 1 && containers[0].Name == "" && !taken[name] {
		containers[0].Name = name
		return
	}
	n := 0
	for i := range containers {
		if containers[i].Name != "" {
			continue
		}
		for {
			candidate := fmt.Sprintf("%s-%d", name, n)
			n++
			if !taken[candidate] {
				containers[i].Name = candidate
				taken[candidate] = true
				break
			}
		}
	}
}

func defaultServingReadinessProbe(c *corev1.Container) {
	if c.ReadinessProbe == nil {
		c.ReadinessProbe = &corev1.Probe{}
	}
	h := &c.ReadinessProbe.ProbeHandler
	if h.TCPSocket == nil && h.HTTPGet == nil && h.Exec == nil && h.GRPC == nil {
		h.TCPSocket = &corev1.TCPSocketAction{}
	}
}

func defaultReadinessProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	// periodSeconds 0 tells the queue proxy to probe aggressively; then the
	// other thresholds must stay 0.
	if p.PeriodSeconds != 0 {
		if p.FailureThreshold == 0 {
			p.FailureThreshold = 3
		}
		if p.TimeoutSeconds == 0 {
			p.TimeoutSeconds = 1
		}
	}
}

func defaultGRPCProbes(c *corev1.Container) {
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
		if p != nil && p.GRPC != nil && p.GRPC.Service == nil {
			p.GRPC.Service = ptr("")
		}
	}
}

func (rs *RevisionSpec) defaultVolumeMounts(c *corev1.Container) {
	writable := make(map[string]bool, len(rs.Volumes))
	for _, v := range rs.Volumes {
		if v.EmptyDir != nil || v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			writable[v.Name] = true
		}
	}
	for i := range c.VolumeMounts {
		if !writable[c.VolumeMounts[i].Name] {
			c.VolumeMounts[i].ReadOnly = true
		}
	}
}

func ptr[T any](v T) *T { return &v }
