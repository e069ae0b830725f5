package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Ports and names of the pod that a Revision becomes (Knative:
// knative.dev/serving/pkg/reconciler/revision/resources/deploy.go and queue.go).
const (
	// QueueContainerName is the name of the queue proxy sidecar.
	QueueContainerName = "queue-proxy"
	// QueueHTTPPort is the queue proxy's serving port for HTTP/1 revisions.
	QueueHTTPPort = 8012
	// QueueH2CPort is the queue proxy's serving port for h2c revisions.
	QueueH2CPort = 8013
	// QueueAdminPort serves /wait-for-drain, the user container's preStop hook.
	QueueAdminPort = 8022
	// QueueMetricsPort serves the autoscaler's Stat on /metrics.
	QueueMetricsPort = 9090
	// DefaultUserPort is the user container's port when it declares none.
	DefaultUserPort = 8080
	// UserPortName is the name of the user container's only port.
	UserPortName = "user-port"
	// QueuePortName is the name of the queue proxy's serving port.
	QueuePortName = "queue-port"
	// MetricsPortName is the name of the queue proxy's metrics port.
	MetricsPortName = "http-autometric"
	// ServicePortNameHTTP1 is the private Service's traffic port for HTTP/1 revisions.
	ServicePortNameHTTP1 = "http"
	// ServicePortNameH2C is the private Service's traffic port for h2c revisions.
	ServicePortNameH2C = "http2"
	// ServiceTypeLabelKey marks the private Service, as Knative does.
	ServiceTypeLabelKey = "networking.internal.knative.dev/serviceType"
	// RevisionUIDLabelKey holds the Revision's UID on its Deployment and pods.
	RevisionUIDLabelKey = serving.GroupName + "/revisionUID"
	// AppLabelKey is set to the revision name unless the user set it.
	AppLabelKey = "app"

	defaultTimeoutSeconds   = 300
	defaultProgressDeadline = 600 * time.Second
	drainPath               = "/wait-for-drain"
	initialScaleAnnotation  = autoscaler.AnnotationInitialScale
)

// DeploymentName is the name of the Deployment of revision rev: "<rev>-deployment".
func DeploymentName(rev string) string { return rev + "-deployment" }

// PrivateServiceName is the name of the Service that selects revision rev's pods:
// "<rev>-private".
func PrivateServiceName(rev string) string { return rev + "-private" }

// podConfig is what the Backend's options add to every pod.
type podConfig struct {
	queueImage      string
	queueCPURequest resource.Quantity
	peerTokenSecret *corev1.SecretKeySelector
	streamDeadline  time.Duration // SERVEKIT_DRAIN_STREAM_DEADLINE; zero: none set
}

// h2c reports whether the revision speaks cleartext HTTP/2 (its port is named h2c).
func h2c(c *corev1.Container) bool {
	return len(c.Ports) > 0 && c.Ports[0].Name == "h2c"
}

// servingContainer returns the index of the container that receives traffic: the one
// that declares a port, or the only one.
func servingContainer(spec *corev1.PodSpec) int {
	for i := range spec.Containers {
		if len(spec.Containers[i].Ports) > 0 {
			return i
		}
	}
	return 0
}

// userPort is the serving container's declared port, or 8080.
func userPort(c *corev1.Container) int32 {
	if len(c.Ports) > 0 && c.Ports[0].ContainerPort != 0 {
		return c.Ports[0].ContainerPort
	}
	return DefaultUserPort
}

// selector is what the Deployment and the private Service select: the revision's UID
// when it has one (so a new revision of the same name never adopts old pods, as in
// Knative), else its name.
func selector(rev *v1.Revision) map[string]string {
	if rev.UID != "" {
		return map[string]string{RevisionUIDLabelKey: string(rev.UID)}
	}
	return map[string]string{serving.RevisionLabelKey: rev.Name}
}

// ownerRefs makes the revision the controller of a child, so that Kubernetes collects
// the child with it. A revision without a UID (one not stored in the API server) owns
// nothing: the Backend deletes its children itself.
func ownerRefs(rev *v1.Revision) []metav1.OwnerReference {
	if rev.UID == "" {
		return nil
	}
	return []metav1.OwnerReference{*metav1.NewControllerRef(rev, v1.SchemeGroupVersion.WithKind(v1.KindRevision))}
}

// childLabels are the revision's labels minus the routing ones, plus the revision's
// name, UID and app (Knative:
// knative.dev/serving/pkg/reconciler/revision/resources/meta.go).
func childLabels(rev *v1.Revision) map[string]string {
	out := make(map[string]string, len(rev.Labels)+3)
	for k, v := range rev.Labels {
		if k == serving.RouteLabelKey || k == serving.RoutingStateLabelKey {
			continue
		}
		out[k] = v
	}
	out[serving.RevisionLabelKey] = rev.Name
	if rev.UID != "" {
		out[RevisionUIDLabelKey] = string(rev.UID)
	}
	if _, ok := out[AppLabelKey]; !ok {
		out[AppLabelKey] = rev.Name
	}
	return out
}

// childAnnotations are the revision's annotations minus the bookkeeping and
// autoscaling ones.
func childAnnotations(rev *v1.Revision) map[string]string {
	out := make(map[string]string, len(rev.Annotations))
	for k, v := range rev.Annotations {
		switch k {
		case serving.RevisionLastPinnedAnnotationKey, serving.RevisionPreservedAnnotationKey,
			serving.RoutingStateModifiedAnnotationKey, serving.RoutesAnnotationKey,
			serving.LastAppliedConfigAnnotation:
			continue
		}
		if strings.HasPrefix(k, autoscaler.GroupName) {
			continue
		}
		out[k] = v
	}
	return out
}

// initialReplicas is the autoscaling.knative.dev/initial-scale annotation, else 1.
// The controller sets the real scale right after Apply.
func initialReplicas(rev *v1.Revision) int32 {
	if v, ok := rev.Annotations[initialScaleAnnotation]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil && n >= 0 {
			return int32(n)
		}
	}
	return 1
}

// progressDeadline is the serving.knative.dev/progress-deadline annotation, else 600s.
func progressDeadline(rev *v1.Revision) (int32, error) {
	v, ok := rev.Annotations[serving.ProgressDeadlineAnnotationKey]
	if !ok {
		return int32(defaultProgressDeadline / time.Second), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > time.Duration(1<<31-1)*time.Second {
		return 0, fmt.Errorf("metadata.annotations[%s]: %q is not a duration of at least 1s", serving.ProgressDeadlineAnnotationKey, v)
	}
	return int32(d / time.Second), nil
}

func seconds(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// makeDeployment builds the Deployment "<rev>-deployment" of a revision
// (Knative: MakeDeployment in
// knative.dev/serving/pkg/reconciler/revision/resources/deploy.go): the user's pod spec with its
// containers rewired, the queue proxy appended, the termination grace period from
// the revision timeout, the revision as owner.
func makeDeployment(rev *v1.Revision, pc podConfig) (*appsv1.Deployment, error) {
	if rev == nil {
		return nil, errors.New("kube: nil Revision")
	}
	if rev.Name == "" || rev.Namespace == "" {
		return nil, fmt.Errorf("kube: revision %q in namespace %q: metadata.name and metadata.namespace are required", rev.Name, rev.Namespace)
	}
	if len(rev.Spec.Containers) == 0 {
		return nil, fmt.Errorf("kube: revision %s/%s: spec.containers: at least one container is required", rev.Namespace, rev.Name)
	}
	if err := checkRanges(rev); err != nil {
		return nil, err
	}
	deadline, err := progressDeadline(rev)
	if err != nil {
		return nil, fmt.Errorf("kube: revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	pod, err := makePodSpec(rev, pc)
	if err != nil {
		return nil, err
	}
	labels := childLabels(rev)
	podAnn := childAnnotations(rev)
	podAnn[serving.DefaultContainerAnnotation] = rev.Spec.Containers[servingContainer(&rev.Spec.PodSpec)].Name
	replicas := initialReplicas(rev)
	if rev.Annotations[autoscaler.AnnotationClass] == autoscaler.ClassHPA {
		// An HPA does not scale a workload at zero replicas.
		replicas = max(replicas, 1)
	}
	maxUnavailable := intstr.FromInt32(0)
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            DeploymentName(rev.Name),
			Namespace:       rev.Namespace,
			Labels:          labels,
			Annotations:     childAnnotations(rev),
			OwnerReferences: ownerRefs(rev),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			Selector:                &metav1.LabelSelector{MatchLabels: selector(rev)},
			ProgressDeadlineSeconds: &deadline,
			RevisionHistoryLimit:    new(int32),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &maxUnavailable},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: childLabels(rev), Annotations: podAnn},
				Spec:       *pod,
			},
		},
	}, nil
}

// checkRanges rejects the values the queue proxy would refuse at start (serving/v1
// validation rejects them earlier; a revision that skipped it gets a clear error here
// rather than a crash-looping sidecar).
func checkRanges(rev *v1.Revision) error {
	bad := func(field string, v int64, want string) error {
		return fmt.Errorf("kube: revision %s/%s: %s: %d is not %s", rev.Namespace, rev.Name, field, v, want)
	}
	for field, p := range map[string]*int64{
		"spec.timeoutSeconds":              rev.Spec.TimeoutSeconds,
		"spec.responseStartTimeoutSeconds": rev.Spec.ResponseStartTimeoutSeconds,
		"spec.idleTimeoutSeconds":          rev.Spec.IdleTimeoutSeconds,
	} {
		if p != nil && (*p < 0 || *p > maxSeconds) {
			return bad(field, *p, "a number of seconds >= 0")
		}
	}
	if cc := rev.Spec.ContainerConcurrency; cc != nil && (*cc < 0 || *cc > queue.MaxBreakerCapacity) {
		return bad("spec.containerConcurrency", *cc, ">= 0")
	}
	si := servingContainer(&rev.Spec.PodSpec)
	if ps := rev.Spec.Containers[si].Ports; len(ps) > 0 && (ps[0].ContainerPort < 0 || ps[0].ContainerPort > 65535) {
		return bad(fmt.Sprintf("spec.containers[%d].ports[0].containerPort", si), int64(ps[0].ContainerPort), "a port in [0, 65535]")
	}
	return nil
}

// maxSeconds is the largest number of seconds a time.Duration holds.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// makePodSpec is the revision's pod spec with Knative's changes.
func makePodSpec(rev *v1.Revision, pc podConfig) (*corev1.PodSpec, error) {
	spec := rev.Spec.PodSpec.DeepCopy()
	si := servingContainer(spec)
	sc := &spec.Containers[si]
	port := userPort(sc)
	isH2C := h2c(sc)
	userProbe := sc.ReadinessProbe.DeepCopy()

	for i := range spec.Containers {
		c := &spec.Containers[i]
		c.Env = append(c.Env,
			corev1.EnvVar{Name: "K_REVISION", Value: rev.Name},
			corev1.EnvVar{Name: "K_CONFIGURATION", Value: rev.Labels[serving.ConfigurationLabelKey]},
			corev1.EnvVar{Name: "K_SERVICE", Value: rev.Labels[serving.ServiceLabelKey]},
		)
		c.Stdin, c.StdinOnce, c.TTY = false, false, false
		if c.TerminationMessagePolicy == "" {
			c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
		}
		// The queue proxy keeps the app alive until it has drained.
		if c.Lifecycle == nil {
			c.Lifecycle = &corev1.Lifecycle{}
		}
		c.Lifecycle.PreStop = &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: drainPath, Port: intstr.FromInt32(QueueAdminPort),
		}}
		// The queue proxy runs network readiness probes; exec probes stay.
		if p := c.ReadinessProbe; p != nil && (p.HTTPGet != nil || p.TCPSocket != nil || p.GRPC != nil) {
			c.ReadinessProbe = nil
		}
		if i != si {
			continue
		}
		c.Ports = []corev1.ContainerPort{{Name: UserPortName, ContainerPort: port}}
		// PORT goes first so that a user variable referring to $(PORT) resolves.
		c.Env = append([]corev1.EnvVar{{Name: "PORT", Value: strconv.Itoa(int(port))}}, c.Env...)
		if p := c.LivenessProbe; p != nil {
			if p.HTTPGet != nil {
				p.HTTPGet.Port = intstr.FromInt32(port)
			}
			if p.TCPSocket != nil {
				p.TCPSocket.Port = intstr.FromInt32(port)
			}
		}
	}

	probeJSON, err := queueReadinessJSON(userProbe, port)
	if err != nil {
		return nil, fmt.Errorf("kube: revision %s/%s: spec.containers[%d].readinessProbe: %w", rev.Namespace, rev.Name, si, err)
	}
	spec.Containers = append(spec.Containers, makeQueueContainer(rev, pc, port, isH2C, userProbe, probeJSON))

	grace := seconds(rev.Spec.TimeoutSeconds)
	if grace <= 0 {
		grace = defaultTimeoutSeconds
	}
	// The queue proxy closes long-lived streams at its drain stream deadline: the
	// pod must live until then.
	if d := pc.streamDeadline; d > 0 {
		grace = max(grace, int64((d+time.Second-1)/time.Second))
	}
	spec.TerminationGracePeriodSeconds = &grace
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{
					TopologyKey:   "kubernetes.io/hostname",
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{serving.RevisionLabelKey: rev.Name}},
				},
			}},
		}}
	}
	return spec, nil
}

// configurationName is the name of the Configuration that controls rev: its
// controller owner reference, else its configuration label.
func configurationName(rev *v1.Revision) string {
	for _, o := range rev.OwnerReferences {
		if o.Kind == v1.KindConfiguration && o.Controller != nil && *o.Controller {
			return o.Name
		}
	}
	return rev.Labels[serving.ConfigurationLabelKey]
}

// makeQueueContainer is the queue proxy sidecar (Knative:
// knative.dev/serving/pkg/reconciler/revision/resources/queue.go) with the
// environment that queue.ParseEnv reads.
func makeQueueContainer(rev *v1.Revision, pc podConfig, userPort int32, isH2C bool, userProbe *corev1.Probe, probeJSON string) corev1.Container {
	servingPort := int32(QueueHTTPPort)
	if isH2C {
		servingPort = QueueH2CPort
	}
	cc := int64(0)
	if rev.Spec.ContainerConcurrency != nil {
		cc = *rev.Spec.ContainerConcurrency
	}
	env := []corev1.EnvVar{
		{Name: queue.EnvNamespace, Value: rev.Namespace},
		{Name: queue.EnvService, Value: rev.Labels[serving.ServiceLabelKey]},
		{Name: queue.EnvConfiguration, Value: configurationName(rev)},
		{Name: queue.EnvRevision, Value: rev.Name},
		{Name: queue.EnvServingPort, Value: strconv.Itoa(int(servingPort))},
		{Name: queue.EnvContainerConcurrency, Value: strconv.FormatInt(cc, 10)},
		{Name: queue.EnvRevisionTimeout, Value: strconv.FormatInt(seconds(rev.Spec.TimeoutSeconds), 10)},
		{Name: queue.EnvResponseStartTimeout, Value: strconv.FormatInt(seconds(rev.Spec.ResponseStartTimeoutSeconds), 10)},
		{Name: queue.EnvIdleTimeout, Value: strconv.FormatInt(seconds(rev.Spec.IdleTimeoutSeconds), 10)},
		{Name: queue.EnvPod, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: queue.EnvPodIP, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: queue.EnvUserPort, Value: strconv.Itoa(int(userPort))},
		{Name: queue.EnvReadinessProbe, Value: probeJSON},
		{Name: queue.EnvHTTP2AutoDetection, Value: "false"},
		{Name: queue.EnvHTTPFullDuplex, Value: strconv.FormatBool(strings.EqualFold(rev.Annotations[serving.HTTPFullDuplexAnnotationKey], "Enabled"))},
		{Name: queue.EnvMultiContainerProbes, Value: "false"},
		{Name: queue.EnvAdminPort, Value: strconv.Itoa(QueueAdminPort)},
		// The kubelet calls the preStop hook (/wait-for-drain) on the pod IP; the
		// binary's admin listener is on loopback unless told otherwise.
		{Name: "SERVEKIT_ADMIN_HOST", Value: "$(" + queue.EnvPodIP + ")"},
		{Name: queue.EnvMetricsPort, Value: strconv.Itoa(QueueMetricsPort)},
	}
	if pc.streamDeadline > 0 {
		env = append(env, corev1.EnvVar{Name: queue.EnvDrainStreamDeadline, Value: pc.streamDeadline.String()})
	}
	if pc.peerTokenSecret != nil {
		env = append(env, corev1.EnvVar{Name: queue.EnvPeerToken, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: pc.peerTokenSecret.DeepCopy()}})
	}

	// What the kubelet probes: the queue proxy's own health, with the user probe's
	// timing (the queue proxy runs the user probe itself).
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Port:        intstr.FromInt32(servingPort),
		HTTPHeaders: []corev1.HTTPHeader{{Name: queue.ProbeHeaderName, Value: queue.ProbeHeaderValue}},
	}}}
	if userProbe != nil {
		probe.InitialDelaySeconds = userProbe.InitialDelaySeconds
		probe.TimeoutSeconds = userProbe.TimeoutSeconds
		probe.PeriodSeconds = userProbe.PeriodSeconds
		probe.SuccessThreshold = userProbe.SuccessThreshold
		probe.FailureThreshold = userProbe.FailureThreshold
	}

	cpu := pc.queueCPURequest
	if cpu.IsZero() {
		cpu = resource.MustParse("25m")
	}
	return corev1.Container{
		Name:  QueueContainerName,
		Image: pc.queueImage,
		Ports: []corev1.ContainerPort{
			{Name: MetricsPortName, ContainerPort: QueueMetricsPort},
			{Name: QueuePortName, ContainerPort: servingPort},
		},
		Env:            env,
		ReadinessProbe: probe,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: cpu},
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(bool),
			ReadOnlyRootFilesystem:   ptr(true),
			RunAsNonRoot:             ptr(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

func ptr[T any](v T) *T { return &v }

// queueReadinessJSON is SERVING_READINESS_PROBE: the user's readiness probe aimed at
// the user container inside the pod (host 127.0.0.1, the user port), an exec probe
// replaced by a TCP check of the user port, and Knative's default (TCP on the user
// port) when there is none (Knative:
// knative.dev/serving/pkg/reconciler/revision/resources/queue.go).
func queueReadinessJSON(p *corev1.Probe, port int32) (string, error) {
	if p == nil {
		p = &corev1.Probe{SuccessThreshold: 1}
	} else {
		p = p.DeepCopy()
	}
	h := &p.ProbeHandler
	onPort := func(ps intstr.IntOrString) intstr.IntOrString {
		// Only a numeric port other than 0 is kept (named ports are the user port).
		if ps.Type == intstr.Int && ps.IntVal != 0 {
			return ps
		}
		return intstr.FromInt32(port)
	}
	switch {
	case h.HTTPGet != nil:
		h.HTTPGet.Host = "127.0.0.1"
		h.HTTPGet.Port = onPort(h.HTTPGet.Port)
		if h.HTTPGet.Scheme == "" {
			h.HTTPGet.Scheme = corev1.URISchemeHTTP
		}
	case h.TCPSocket != nil:
		h.TCPSocket.Host = "127.0.0.1"
		h.TCPSocket.Port = onPort(h.TCPSocket.Port)
	case h.GRPC != nil:
		if h.GRPC.Port == 0 {
			h.GRPC.Port = port
		}
	default: // exec or none: the queue proxy checks the port
		h.Exec = nil
		h.TCPSocket = &corev1.TCPSocketAction{Host: "127.0.0.1", Port: intstr.FromInt32(port)}
	}
	if p.PeriodSeconds > 0 && p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	// The queue proxy must accept what we hand it.
	if _, err := queue.ParseProbes(string(b), int(port)); err != nil {
		return "", err
	}
	return string(b), nil
}

// makePrivateService builds "<rev>-private": it selects the revision's pods, and its
// EndpointSlices are where the Backend learns their addresses.
func makePrivateService(rev *v1.Revision) *corev1.Service {
	labels := childLabels(rev)
	labels[ServiceTypeLabelKey] = "Private"
	servingPort, name, port := int32(QueueHTTPPort), ServicePortNameHTTP1, int32(80)
	if h2c(&rev.Spec.Containers[servingContainer(&rev.Spec.PodSpec)]) {
		servingPort, name, port = QueueH2CPort, ServicePortNameH2C, 81
	}
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            PrivateServiceName(rev.Name),
			Namespace:       rev.Namespace,
			Labels:          labels,
			Annotations:     childAnnotations(rev),
			OwnerReferences: ownerRefs(rev),
		},
		Spec: corev1.ServiceSpec{
			Selector: selector(rev),
			Ports: []corev1.ServicePort{
				{Name: name, Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(servingPort)},
				{Name: MetricsPortName, Protocol: corev1.ProtocolTCP, Port: QueueMetricsPort, TargetPort: intstr.FromInt32(QueueMetricsPort)},
			},
		},
	}
}
