package kube

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

var testPodConfig = podConfig{queueImage: "example.com/servekit/queue-proxy:v1"}

func mustDeployment(t *testing.T, rev *v1.Revision) *appsv1.Deployment {
	t.Helper()
	d, err := makeDeployment(rev, testPodConfig)
	if err != nil {
		t.Fatalf("makeDeployment: %v", err)
	}
	return d
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q in %d containers", name, len(spec.Containers))
	return corev1.Container{}
}

// envMap renders env as name → value, or name → "fieldRef:<path>" /
// "secret:<name>/<key>".
func envMap(env []corev1.EnvVar) map[string]string {
	m := make(map[string]string, len(env))
	for _, e := range env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			m[e.Name] = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			m[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		default:
			m[e.Name] = e.Value
		}
	}
	return m
}

func TestSeedDeploymentMetadata(t *testing.T) {
	rev := seedRevision(t)
	d := mustDeployment(t, rev)

	wantLabels := map[string]string{
		"app":                                   "helloworld-go", // the user's, kept
		serving.ConfigurationLabelKey:           "helloworld-go",
		serving.ConfigurationGenerationLabelKey: "1",
		serving.ConfigurationUIDLabelKey:        "cfg-uid",
		serving.ServiceLabelKey:                 "helloworld-go",
		serving.ServiceUIDLabelKey:              "svc-uid",
		serving.RevisionLabelKey:                "helloworld-go-00001",
		"serving.knative.dev/revisionUID":       "rev-uid",
	}
	ctrl := true
	type meta struct {
		Name, Namespace      string
		Labels, PodLabels    map[string]string
		Annotations, PodAnns map[string]string
		Selector             map[string]string
		Owners               []metav1.OwnerReference
		Replicas, Deadline   int32
		History              int32
		Grace                int64
		MaxUnavailable       string
	}
	got := meta{
		Name: d.Name, Namespace: d.Namespace,
		Labels: d.Labels, PodLabels: d.Spec.Template.Labels,
		Annotations: d.Annotations, PodAnns: d.Spec.Template.Annotations,
		Selector: d.Spec.Selector.MatchLabels, Owners: d.OwnerReferences,
		Replicas: *d.Spec.Replicas, Deadline: *d.Spec.ProgressDeadlineSeconds,
		History: *d.Spec.RevisionHistoryLimit, Grace: *d.Spec.Template.Spec.TerminationGracePeriodSeconds,
		MaxUnavailable: d.Spec.Strategy.RollingUpdate.MaxUnavailable.String(),
	}
	want := meta{
		Name: "helloworld-go-00001-deployment", Namespace: "default",
		Labels: wantLabels, PodLabels: wantLabels,
		// autoscaling.knative.dev/target and the routing bookkeeping are dropped.
		Annotations: map[string]string{},
		PodAnns:     map[string]string{serving.DefaultContainerAnnotation: "user-container"},
		Selector:    map[string]string{"serving.knative.dev/revisionUID": "rev-uid"},
		Owners: []metav1.OwnerReference{{
			APIVersion: "serving.knative.dev/v1", Kind: "Revision", Name: "helloworld-go-00001",
			UID: "rev-uid", Controller: &ctrl, BlockOwnerDeletion: &ctrl,
		}},
		Replicas: 1, Deadline: 600, History: 0,
		Grace:          300, // the revision timeout
		MaxUnavailable: "0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deployment metadata (-want +got):\n%s", diff)
	}
}

func TestSeedUserContainer(t *testing.T) {
	d := mustDeployment(t, seedRevision(t))
	c := container(t, d.Spec.Template.Spec, "user-container")
	if c.Image != "registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go:160e4dc8" {
		t.Errorf("image = %q", c.Image)
	}
	if diff := cmp.Diff([]corev1.ContainerPort{{Name: "user-port", ContainerPort: 8080}}, c.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	wantEnv := []corev1.EnvVar{
		{Name: "PORT", Value: "8080"},
		{Name: "TARGET", Value: "World"},
		{Name: "K_REVISION", Value: "helloworld-go-00001"},
		{Name: "K_CONFIGURATION", Value: "helloworld-go"},
		{Name: "K_SERVICE", Value: "helloworld-go"},
	}
	if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	wantPreStop := &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/wait-for-drain", Port: intstr.FromInt32(8022)}}
	if c.Lifecycle == nil || !cmp.Equal(wantPreStop, c.Lifecycle.PreStop) {
		t.Errorf("preStop = %+v, want the queue proxy's drain hook %+v", c.Lifecycle, wantPreStop)
	}
	if c.ReadinessProbe != nil {
		t.Errorf("readinessProbe = %+v, want it moved to the queue proxy", c.ReadinessProbe)
	}
	if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Errorf("terminationMessagePolicy = %q", c.TerminationMessagePolicy)
	}
}

func TestSeedQueueContainer(t *testing.T) {
	d := mustDeployment(t, seedRevision(t))
	spec := d.Spec.Template.Spec
	if n := len(spec.Containers); n != 2 || spec.Containers[1].Name != "queue-proxy" {
		t.Fatalf("got %d containers, want the user container then queue-proxy", n)
	}
	q := spec.Containers[1]
	if q.Image != testPodConfig.queueImage {
		t.Errorf("image = %q, want %q", q.Image, testPodConfig.queueImage)
	}
	wantEnv := map[string]string{
		"SERVING_NAMESPACE":                       "default",
		"SERVING_SERVICE":                         "helloworld-go",
		"SERVING_CONFIGURATION":                   "helloworld-go",
		"SERVING_REVISION":                        "helloworld-go-00001",
		"QUEUE_SERVING_PORT":                      "8012",
		"CONTAINER_CONCURRENCY":                   "0",
		"REVISION_TIMEOUT_SECONDS":                "300",
		"SERVEKIT_ADMIN_HOST":                     "$(SERVING_POD_IP)",
		"REVISION_RESPONSE_START_TIMEOUT_SECONDS": "0",
		"REVISION_IDLE_TIMEOUT_SECONDS":           "0",
		"SERVING_POD":                             "fieldRef:metadata.name",
		"SERVING_POD_IP":                          "fieldRef:status.podIP",
		"USER_PORT":                               "8080",
		"SERVING_READINESS_PROBE":                 `{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}`,
		"ENABLE_HTTP2_AUTO_DETECTION":             "false",
		"ENABLE_HTTP_FULL_DUPLEX":                 "false",
		"ENABLE_MULTI_CONTAINER_PROBES":           "false",
		"QUEUE_ADMIN_PORT":                        "8022",
		"QUEUE_METRICS_PORT":                      "9090",
	}
	if diff := cmp.Diff(wantEnv, envMap(q.Env)); diff != "" {
		t.Errorf("queue-proxy env (-want +got):\n%s", diff)
	}
	wantPorts := []corev1.ContainerPort{{Name: "http-autometric", ContainerPort: 9090}, {Name: "queue-port", ContainerPort: 8012}}
	if diff := cmp.Diff(wantPorts, q.Ports); diff != "" {
		t.Errorf("queue-proxy ports (-want +got):\n%s", diff)
	}
	wantProbe := &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Port: intstr.FromInt32(8012), HTTPHeaders: []corev1.HTTPHeader{{Name: "K-Network-Probe", Value: "queue"}},
		}},
		SuccessThreshold: 1,
	}
	if diff := cmp.Diff(wantProbe, q.ReadinessProbe); diff != "" {
		t.Errorf("queue-proxy readiness probe (-want +got):\n%s", diff)
	}
	if got := q.Resources.Requests.Cpu().String(); got != "25m" {
		t.Errorf("cpu request = %s, want 25m", got)
	}
	sc := q.SecurityContext
	if sc == nil || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || !*sc.RunAsNonRoot || len(sc.Capabilities.Drop) != 1 {
		t.Errorf("securityContext = %+v, want Knative's locked-down one", sc)
	}
}

// TestQueueEnvContract hands the static part of the queue proxy's environment to
// queue.ParseEnv, the function the sidecar runs at start: every variable it needs is
// there and valid.
func TestQueueEnvContract(t *testing.T) {
	rev := seedRevision(t)
	cc := int64(7)
	rev.Spec.ContainerConcurrency = &cc
	d := mustDeployment(t, rev)
	env := envMap(container(t, d.Spec.Template.Spec, "queue-proxy").Env)
	env["SERVING_POD"] = "helloworld-go-00001-deployment-abc"
	env["SERVING_POD_IP"] = "10.0.0.7"
	got, err := queue.ParseEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("queue.ParseEnv: %v", err)
	}
	if got.ContainerConcurrency != 7 || got.UserPort != 8080 || got.ServingPort != 8012 ||
		got.AdminPort != 8022 || got.MetricsPort != 9090 || got.RevisionTimeout.Seconds() != 300 ||
		got.Revision != "helloworld-go-00001" || len(got.ReadinessProbes) != 1 || got.ReadinessProbes[0].TCPSocket == nil {
		t.Errorf("queue.ParseEnv = %+v", got)
	}
}

// TestProbeRewiring follows Knative: network readiness probes move into the queue
// proxy (aimed at 127.0.0.1 and the user port), exec probes stay on the container and
// the queue proxy checks the port, liveness probes are aimed at the user port.
func TestProbeRewiring(t *testing.T) {
	tests := []struct {
		name          string
		readiness     *corev1.Probe
		liveness      *corev1.Probe
		port          int32
		wantJSON      string
		keepReadiness bool
		wantLiveness  *corev1.Probe
		wantKubelet   corev1.Probe // the queue proxy's kubelet probe timing
	}{{
		name:        "httpGet on the default port",
		readiness:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}, PeriodSeconds: 5, FailureThreshold: 2},
		port:        8080,
		wantJSON:    `{"httpGet":{"path":"/healthz","port":8080,"host":"127.0.0.1","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":5,"failureThreshold":2}`,
		wantKubelet: corev1.Probe{PeriodSeconds: 5, FailureThreshold: 2},
	}, {
		name:      "httpGet on a named port and a declared containerPort",
		readiness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http1")}}},
		port:      9000,
		wantJSON:  `{"httpGet":{"path":"/ready","port":9000,"host":"127.0.0.1","scheme":"HTTP"}}`,
	}, {
		name:        "tcpSocket with an explicit numeric port keeps it",
		readiness:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9001)}}, SuccessThreshold: 1},
		port:        9000,
		wantJSON:    `{"tcpSocket":{"port":9001,"host":"127.0.0.1"},"successThreshold":1}`,
		wantKubelet: corev1.Probe{SuccessThreshold: 1},
	}, {
		name:          "exec stays on the container, the queue proxy checks the port",
		readiness:     &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/ready"}}}, PeriodSeconds: 3, TimeoutSeconds: 2},
		port:          8080,
		wantJSON:      `{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"timeoutSeconds":2,"periodSeconds":3}`,
		keepReadiness: true,
		wantKubelet:   corev1.Probe{PeriodSeconds: 3, TimeoutSeconds: 2},
	}, {
		name:         "liveness httpGet aimed at the user port",
		liveness:     &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/live", Port: intstr.FromString("http1")}}},
		port:         9000,
		wantJSON:     `{"tcpSocket":{"port":9000,"host":"127.0.0.1"},"successThreshold":1}`,
		wantLiveness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/live", Port: intstr.FromInt32(9000)}}},
		wantKubelet:  corev1.Probe{SuccessThreshold: 1},
	}, {
		name:         "liveness tcpSocket aimed at the user port",
		liveness:     &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}},
		port:         8080,
		wantJSON:     `{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}`,
		wantLiveness: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}},
		wantKubelet:  corev1.Probe{SuccessThreshold: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := seedRevision(t)
			c := &rev.Spec.Containers[0]
			c.Ports[0].ContainerPort = tt.port
			if tt.readiness != nil {
				c.ReadinessProbe = tt.readiness
			}
			c.LivenessProbe = tt.liveness
			d := mustDeployment(t, rev)
			user := container(t, d.Spec.Template.Spec, "user-container")
			q := container(t, d.Spec.Template.Spec, "queue-proxy")
			if got := envMap(q.Env)["SERVING_READINESS_PROBE"]; got != tt.wantJSON {
				t.Errorf("SERVING_READINESS_PROBE =\n %s\nwant\n %s", got, tt.wantJSON)
			}
			if tt.keepReadiness != (user.ReadinessProbe != nil) {
				t.Errorf("user readinessProbe = %+v, want kept: %v", user.ReadinessProbe, tt.keepReadiness)
			}
			if diff := cmp.Diff(tt.wantLiveness, user.LivenessProbe); diff != "" {
				t.Errorf("liveness (-want +got):\n%s", diff)
			}
			got := *q.ReadinessProbe
			got.ProbeHandler = corev1.ProbeHandler{}
			if diff := cmp.Diff(tt.wantKubelet, got); diff != "" {
				t.Errorf("queue-proxy kubelet probe timing (-want +got):\n%s", diff)
			}
			if p := q.ReadinessProbe.HTTPGet; p == nil || p.Port.IntValue() != 8012 {
				t.Errorf("queue-proxy kubelet probe = %+v, want httpGet on 8012", q.ReadinessProbe)
			}
		})
	}
}

func TestSeedPrivateService(t *testing.T) {
	rev := seedRevision(t)
	s := makePrivateService(rev)
	if s.Name != "helloworld-go-00001-private" || s.Namespace != "default" {
		t.Errorf("service %s/%s", s.Namespace, s.Name)
	}
	if got := s.Labels["networking.internal.knative.dev/serviceType"]; got != "Private" {
		t.Errorf("serviceType label = %q", got)
	}
	if s.Labels[serving.RevisionLabelKey] != rev.Name {
		t.Errorf("revision label = %q (EndpointSlices copy it; the Backend's informer selects on it)", s.Labels[serving.RevisionLabelKey])
	}
	if diff := cmp.Diff(map[string]string{"serving.knative.dev/revisionUID": "rev-uid"}, s.Spec.Selector); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
	wantPorts := []corev1.ServicePort{
		{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8012)},
		{Name: "http-autometric", Protocol: corev1.ProtocolTCP, Port: 9090, TargetPort: intstr.FromInt32(9090)},
	}
	if diff := cmp.Diff(wantPorts, s.Spec.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "rev-uid" {
		t.Errorf("owner references = %+v, want the revision", s.OwnerReferences)
	}
}

func TestH2CRevision(t *testing.T) {
	rev := seedRevision(t)
	rev.Spec.Containers[0].Ports[0].Name = "h2c"
	d := mustDeployment(t, rev)
	q := container(t, d.Spec.Template.Spec, "queue-proxy")
	if got := envMap(q.Env)["QUEUE_SERVING_PORT"]; got != "8013" {
		t.Errorf("QUEUE_SERVING_PORT = %s, want 8013", got)
	}
	s := makePrivateService(rev)
	if p := s.Spec.Ports[0]; p.Name != "http2" || p.TargetPort.IntValue() != 8013 {
		t.Errorf("service port = %+v, want http2 → 8013", p)
	}
}

func TestRevisionWithoutUID(t *testing.T) {
	rev := seedRevision(t)
	rev.UID = ""
	d := mustDeployment(t, rev)
	if len(d.OwnerReferences) != 0 {
		t.Errorf("owner references = %+v, want none (an owner needs a UID)", d.OwnerReferences)
	}
	if diff := cmp.Diff(map[string]string{serving.RevisionLabelKey: rev.Name}, d.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
	if _, ok := d.Labels["serving.knative.dev/revisionUID"]; ok {
		t.Error("revisionUID label set without a UID")
	}
}

func TestDeploymentOptions(t *testing.T) {
	rev := seedRevision(t)
	rev.Annotations["autoscaling.knative.dev/initial-scale"] = "3"
	rev.Annotations[serving.ProgressDeadlineAnnotationKey] = "90s"
	rev.Annotations["example.com/keep"] = "yes"
	timeout := int64(45)
	rev.Spec.TimeoutSeconds = &timeout
	rev.Spec.Affinity = &corev1.Affinity{}
	pc := testPodConfig
	pc.peerTokenSecret = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "servekit"}, Key: "peer-token"}
	d, err := makeDeployment(rev, pc)
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 || *d.Spec.ProgressDeadlineSeconds != 90 || *d.Spec.Template.Spec.TerminationGracePeriodSeconds != 45 {
		t.Errorf("replicas %d, progress deadline %d, grace %d; want 3, 90, 45",
			*d.Spec.Replicas, *d.Spec.ProgressDeadlineSeconds, *d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	}
	if d.Annotations["example.com/keep"] != "yes" {
		t.Errorf("annotations = %v, want example.com/keep kept", d.Annotations)
	}
	if d.Spec.Template.Spec.Affinity.PodAntiAffinity != nil {
		t.Error("the user's affinity was replaced by the default")
	}
	env := envMap(container(t, d.Spec.Template.Spec, "queue-proxy").Env)
	if got := env["SERVEKIT_PEER_TOKEN"]; got != "secret:servekit/peer-token" {
		t.Errorf("SERVEKIT_PEER_TOKEN = %q", got)
	}
	if got := env["REVISION_TIMEOUT_SECONDS"]; got != "45" {
		t.Errorf("REVISION_TIMEOUT_SECONDS = %q", got)
	}
}

// TestDrainStreamDeadline: Options.DrainStreamDeadline (config-deployment's
// queue-sidecar-drain-stream-deadline) reaches each sidecar as
// SERVEKIT_DRAIN_STREAM_DEADLINE, in a form queue.ParseEnv reads, and a pod lives
// long enough for it: terminationGracePeriodSeconds is the longer of it and the
// revision timeout. Unset, neither changes.
func TestDrainStreamDeadline(t *testing.T) {
	timeout := int64(30)
	for _, tc := range []struct {
		deadline  time.Duration
		env       string
		wantGrace int64
	}{
		{0, "", 30},
		{10 * time.Second, "10s", 30},
		{90500 * time.Millisecond, "1m30.5s", 91},
	} {
		rev := seedRevision(t)
		rev.Spec.TimeoutSeconds = &timeout
		pc := testPodConfig
		pc.streamDeadline = tc.deadline
		d, err := makeDeployment(rev, pc)
		if err != nil {
			t.Fatal(err)
		}
		env := envMap(container(t, d.Spec.Template.Spec, "queue-proxy").Env)
		if got := env[queue.EnvDrainStreamDeadline]; got != tc.env {
			t.Errorf("deadline %v: %s = %q, want %q", tc.deadline, queue.EnvDrainStreamDeadline, got, tc.env)
		}
		if got := *d.Spec.Template.Spec.TerminationGracePeriodSeconds; got != tc.wantGrace {
			t.Errorf("deadline %v: terminationGracePeriodSeconds %d, want %d", tc.deadline, got, tc.wantGrace)
		}
		if tc.env != "" {
			e, err := queue.ParseEnv(func(k string) string {
				switch k {
				case queue.EnvDrainStreamDeadline:
					return tc.env
				case queue.EnvContainerConcurrency, queue.EnvRevisionTimeout:
					return "1"
				case queue.EnvServingPort, queue.EnvUserPort:
					return "8080"
				}
				return ""
			})
			if err != nil || e.DrainStreamDeadline != tc.deadline {
				t.Errorf("the queue proxy reads %s=%q as %v, %v; want %v", queue.EnvDrainStreamDeadline, tc.env, e.DrainStreamDeadline, err, tc.deadline)
			}
		}
	}
}

func TestDefaultAffinity(t *testing.T) {
	d := mustDeployment(t, seedRevision(t))
	aa := d.Spec.Template.Spec.Affinity.PodAntiAffinity
	if aa == nil || len(aa.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("affinity = %+v, want a preferred anti-affinity", d.Spec.Template.Spec.Affinity)
	}
	term := aa.PreferredDuringSchedulingIgnoredDuringExecution[0]
	if term.Weight != 100 || term.PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" ||
		term.PodAffinityTerm.LabelSelector.MatchLabels[serving.RevisionLabelKey] != "helloworld-go-00001" {
		t.Errorf("anti-affinity term = %+v", term)
	}
}

func TestSidecarContainer(t *testing.T) {
	rev := seedRevision(t)
	rev.Spec.Containers = append(rev.Spec.Containers, corev1.Container{
		Name: "logger", Image: "example.com/logger",
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(7000)}}},
	})
	d := mustDeployment(t, rev)
	c := container(t, d.Spec.Template.Spec, "logger")
	env := envMap(c.Env)
	if _, ok := env["PORT"]; ok || env["K_REVISION"] != rev.Name {
		t.Errorf("sidecar env = %v, want K_* and no PORT", env)
	}
	if len(c.Ports) != 0 || c.ReadinessProbe != nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		t.Errorf("sidecar = %+v, want no ports, no readiness probe, the preStop hook", c)
	}
	if got := d.Spec.Template.Annotations[serving.DefaultContainerAnnotation]; got != "user-container" {
		t.Errorf("default container = %q", got)
	}
}

func TestDeploymentBadInput(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*v1.Revision) *v1.Revision
		wantErr string
	}{
		{"nil revision", func(*v1.Revision) *v1.Revision { return nil }, "nil Revision"},
		{"no name", func(r *v1.Revision) *v1.Revision { r.Name = ""; return r }, "metadata.name"},
		{"no namespace", func(r *v1.Revision) *v1.Revision { r.Namespace = ""; return r }, "metadata.namespace"},
		{"no containers", func(r *v1.Revision) *v1.Revision { r.Spec.Containers = nil; return r }, "spec.containers"},
		{"bad progress deadline", func(r *v1.Revision) *v1.Revision {
			r.Annotations[serving.ProgressDeadlineAnnotationKey] = "soon"
			return r
		}, `serving.knative.dev/progress-deadline]: "soon"`},
		{"bad readiness probe port", func(r *v1.Revision) *v1.Revision {
			r.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(70000)}}}
			return r
		}, "spec.containers[0].readinessProbe"},
		{"negative timeout", func(r *v1.Revision) *v1.Revision { r.Spec.TimeoutSeconds = ptr[int64](-1); return r },
			"spec.timeoutSeconds: -1 is not a number of seconds >= 0"},
		{"negative idle timeout", func(r *v1.Revision) *v1.Revision { r.Spec.IdleTimeoutSeconds = ptr[int64](-2); return r },
			"spec.idleTimeoutSeconds: -2"},
		{"negative containerConcurrency", func(r *v1.Revision) *v1.Revision { r.Spec.ContainerConcurrency = ptr[int64](-1); return r },
			"spec.containerConcurrency: -1 is not >= 0"},
		{"port out of range", func(r *v1.Revision) *v1.Revision { r.Spec.Containers[0].Ports[0].ContainerPort = 70000; return r },
			"spec.containers[0].ports[0].containerPort: 70000 is not a port in [0, 65535]"},
		{"https readiness probe (the queue proxy probes HTTP only)", func(r *v1.Revision) *v1.Revision {
			r.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Scheme: corev1.URISchemeHTTPS}}}
			return r
		}, `scheme: "HTTPS"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := makeDeployment(tt.mutate(seedRevision(t)), testPodConfig)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("makeDeployment error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}
