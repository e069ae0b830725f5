package v1_test

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

func ptr[T any](v T) *T { return &v }

// TestSeedManifestDefaults checks that the seed manifest is accepted
// unchanged and defaulted exactly as seed-example.md lists.
func TestSeedManifestDefaults(t *testing.T) {
	d := servingv1.StockDefaults()
	obj := decodeOne(t, filepath.Join("testdata", "helloworld-go.yaml"))
	obj.SetDefaults(d)
	if errs := obj.Validate(d); len(errs) != 0 {
		t.Fatalf("Validate() = %v, want no errors", errs)
	}
	want := decodeOne(t, filepath.Join("testdata", "helloworld-go-defaulted.yaml"))
	// The YAML's "resources: {}" decodes to nil maps; SetDefaults makes
	// them empty maps (checked below), which marshal the same way.
	if diff := cmp.Diff(want, obj, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("defaulted seed (-want +got):\n%s", diff)
	}

	// The same facts, one by one, as a reader of seed-example.md checks them.
	svc := obj.(*servingv1.Service)
	spec := svc.Spec.Template.Spec
	c := spec.Containers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"container name", c.Name, "user-container"},
		{"ports kept (8080, http1)", c.Ports, []corev1.ContainerPort{{Name: "http1", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}},
		{"containerConcurrency", *spec.ContainerConcurrency, int64(0)},
		{"timeoutSeconds", *spec.TimeoutSeconds, int64(300)},
		{"responseStartTimeoutSeconds unset", spec.ResponseStartTimeoutSeconds, (*int64)(nil)},
		{"idleTimeoutSeconds unset", spec.IdleTimeoutSeconds, (*int64)(nil)},
		{"enableServiceLinks", *spec.EnableServiceLinks, false},
		{"readiness probe", *c.ReadinessProbe, corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, SuccessThreshold: 1}},
		{"resources", c.Resources, corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}},
		{"env kept", c.Env, []corev1.EnvVar{{Name: "TARGET", Value: "World"}}},
		{"template labels kept", svc.Spec.Template.Labels, map[string]string{"app": "helloworld-go"}},
		{"traffic", svc.Spec.Traffic, []servingv1.TrafficTarget{{LatestRevision: ptr(true), Percent: ptr[int64](100)}}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func containerWithImage(image string) corev1.Container { return corev1.Container{Image: image} }

func container(name string, mods ...func(*corev1.Container)) corev1.Container {
	c := corev1.Container{Name: name, Image: "ghcr.io/servekit/hello:v1"}
	for _, m := range mods {
		m(&c)
	}
	return c
}

func withPort(p int32) func(*corev1.Container) {
	return func(c *corev1.Container) { c.Ports = []corev1.ContainerPort{{ContainerPort: p}} }
}

// defaultedContainer is what SetDefaults makes of a single serving
// container with no probe and no resources.
func defaultedContainer(name string) corev1.Container {
	c := container(name)
	c.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, SuccessThreshold: 1}
	return c
}

func TestRevisionSpecSetDefaults(t *testing.T) {
	stock := servingv1.StockDefaults()
	custom := stock
	custom.RevisionIdleTimeoutSeconds = 60
	custom.RevisionResponseStartTimeoutSeconds = 30
	custom.ContainerConcurrency = 10
	custom.ContainerNameTemplate = "{{.Name}}"
	custom.EnableServiceLinks = nil
	cpu := resource.MustParse("100m")
	custom.RevisionCPURequest = &cpu

	emptyRes := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	tcp := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}
	tests := []struct {
		name   string
		d      servingv1.Defaults
		update bool // false: create
		in     servingv1.RevisionSpec
		want   servingv1.RevisionSpec
	}{{
		name: "stock: timeout 300, concurrency 0, user-container, tcp probe, no service links",
		d:    stock,
		in:   servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{container("")}}},
		want: servingv1.RevisionSpec{
			PodSpec:              corev1.PodSpec{Containers: []corev1.Container{defaultedContainer("user-container")}, EnableServiceLinks: ptr(false)},
			ContainerConcurrency: ptr[int64](0),
			TimeoutSeconds:       ptr[int64](300),
		},
	}, {
		name: "timeoutSeconds 0 is replaced, explicit values are kept",
		d:    stock,
		in: servingv1.RevisionSpec{
			PodSpec:              corev1.PodSpec{Containers: []corev1.Container{container("app")}, EnableServiceLinks: ptr(true)},
			TimeoutSeconds:       ptr[int64](0),
			ContainerConcurrency: ptr[int64](5),
		},
		want: servingv1.RevisionSpec{
			PodSpec:              corev1.PodSpec{Containers: []corev1.Container{defaultedContainer("app")}, EnableServiceLinks: ptr(true)},
			ContainerConcurrency: ptr[int64](5),
			TimeoutSeconds:       ptr[int64](300),
		},
	}, {
		name: "custom defaults: idle/response-start below the timeout, concurrency, name template, cpu request",
		d:    custom,
		in:   servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{container("")}}},
		want: servingv1.RevisionSpec{
			PodSpec: corev1.PodSpec{Containers: []corev1.Container{func() corev1.Container {
				c := defaultedContainer("parent")
				c.Resources.Requests[corev1.ResourceCPU] = cpu
				return c
			}()}},
			ContainerConcurrency:        ptr[int64](10),
			TimeoutSeconds:              ptr[int64](300),
			IdleTimeoutSeconds:          ptr[int64](60),
			ResponseStartTimeoutSeconds: ptr[int64](30),
		},
	}, {
		name: "idle and response-start defaults not below the timeout stay nil",
		d:    custom,
		in: servingv1.RevisionSpec{
			PodSpec:        corev1.PodSpec{Containers: []corev1.Container{container("app")}},
			TimeoutSeconds: ptr[int64](20),
		},
		want: servingv1.RevisionSpec{
			PodSpec: corev1.PodSpec{Containers: []corev1.Container{func() corev1.Container {
				c := defaultedContainer("app")
				c.Resources.Requests[corev1.ResourceCPU] = cpu
				return c
			}()}},
			ContainerConcurrency: ptr[int64](10),
			TimeoutSeconds:       ptr[int64](20),
		},
	}, {
		name: "several containers: numbered names skip taken ones; only the one with ports gets a probe",
		d:    stock,
		in: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{
			container("", withPort(8080)), container("user-container-1"), container(""),
		}}},
		want: servingv1.RevisionSpec{
			PodSpec: corev1.PodSpec{EnableServiceLinks: ptr(false), Containers: []corev1.Container{
				func() corev1.Container {
					c := defaultedContainer("user-container-0")
					c.Ports = []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
					return c
				}(),
				func() corev1.Container { c := container("user-container-1"); c.Resources = emptyRes; return c }(),
				func() corev1.Container { c := container("user-container-2"); c.Resources = emptyRes; return c }(),
			}},
			ContainerConcurrency: ptr[int64](0),
			TimeoutSeconds:       ptr[int64](300),
		},
	}, {
		name: "single unnamed container whose default name is taken by an init container",
		d:    stock,
		in: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{
			Containers:     []corev1.Container{container("")},
			InitContainers: []corev1.Container{container("user-container"), container("")},
		}},
		want: servingv1.RevisionSpec{
			PodSpec: corev1.PodSpec{EnableServiceLinks: ptr(false),
				Containers:     []corev1.Container{defaultedContainer("user-container-0")},
				InitContainers: []corev1.Container{container("user-container"), container("init-container-0")},
			},
			ContainerConcurrency: ptr[int64](0),
			TimeoutSeconds:       ptr[int64](300),
		},
	}, {
		name: "probe thresholds: periodSeconds set gets failure 3 and timeout 1; http probe kept; grpc service defaulted",
		d:    stock,
		in: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{container("app", func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}}, PeriodSeconds: 5}
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}
		})}}},
		want: servingv1.RevisionSpec{
			PodSpec: corev1.PodSpec{EnableServiceLinks: ptr(false), Containers: []corev1.Container{container("app", func(c *corev1.Container) {
				c.Resources = emptyRes
				c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}},
					PeriodSeconds: 5, SuccessThreshold: 1, FailureThreshold: 3, TimeoutSeconds: 1}
				c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000, Service: ptr("")}}}
			})}},
			ContainerConcurrency: ptr[int64](0),
			TimeoutSeconds:       ptr[int64](300),
		},
	}, {
		name: "probe without handler gets tcpSocket; mounts of configMap volumes become readOnly, emptyDir stays writable",
		d:    stock,
		in: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
			Containers: []corev1.Container{container("app", func(c *corev1.Container) {
				c.ReadinessProbe = &corev1.Probe{InitialDelaySeconds: 2}
				c.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}, {Name: "tmp", MountPath: "/tmp"}}
			})},
		}},
		want: servingv1.RevisionSpec{
			PodSpec: corev1.PodSpec{EnableServiceLinks: ptr(false),
				Volumes: []corev1.Volume{
					{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				},
				Containers: []corev1.Container{container("app", func(c *corev1.Container) {
					c.Resources = emptyRes
					c.ReadinessProbe = &corev1.Probe{ProbeHandler: tcp, InitialDelaySeconds: 2, SuccessThreshold: 1}
					c.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg", ReadOnly: true}, {Name: "tmp", MountPath: "/tmp"}}
				})},
			},
			ContainerConcurrency: ptr[int64](0),
			TimeoutSeconds:       ptr[int64](300),
		},
	}, {
		name:   "update: enableServiceLinks is not filled in",
		d:      stock,
		update: true,
		in:     servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{container("app")}}},
		want: servingv1.RevisionSpec{
			PodSpec:              corev1.PodSpec{Containers: []corev1.Container{defaultedContainer("app")}},
			ContainerConcurrency: ptr[int64](0),
			TimeoutSeconds:       ptr[int64](300),
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.DeepCopy()
			got.SetDefaults(tc.d, &metav1.ObjectMeta{Name: "parent"}, !tc.update)
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("SetDefaults (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrafficDefaults(t *testing.T) {
	d := servingv1.StockDefaults()
	tests := []struct {
		name  string
		obj   servingv1.Object
		want  []servingv1.TrafficTarget
		route bool
	}{{
		name: "service without traffic gets 100% to the latest revision",
		obj:  &servingv1.Service{},
		want: []servingv1.TrafficTarget{{LatestRevision: ptr(true), Percent: ptr[int64](100)}},
	}, {
		name: "service entries: latestRevision follows revisionName, nil percent is 0",
		obj: &servingv1.Service{Spec: servingv1.ServiceSpec{RouteSpec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{
			{Tag: "current", RevisionName: "hello-00001", Percent: ptr[int64](100)},
			{Tag: "latest"},
		}}}},
		want: []servingv1.TrafficTarget{
			{Tag: "current", RevisionName: "hello-00001", LatestRevision: ptr(false), Percent: ptr[int64](100)},
			{Tag: "latest", LatestRevision: ptr(true), Percent: ptr[int64](0)},
		},
	}, {
		name:  "route without traffic stays empty",
		obj:   &servingv1.Route{},
		route: true,
	}, {
		name: "route entries are defaulted",
		obj: &servingv1.Route{Spec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{
			{ConfigurationName: "hello", Percent: ptr[int64](100)},
		}}},
		route: true,
		want:  []servingv1.TrafficTarget{{ConfigurationName: "hello", LatestRevision: ptr(true), Percent: ptr[int64](100)}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.obj.SetDefaults(d)
			var got []servingv1.TrafficTarget
			if tc.route {
				got = tc.obj.(*servingv1.Route).Spec.Traffic
			} else {
				got = tc.obj.(*servingv1.Service).Spec.Traffic
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("traffic after SetDefaults (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetDefaultsOnUpdate(t *testing.T) {
	d := servingv1.StockDefaults()
	byo := func(name string) *servingv1.Service {
		s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
		s.Spec.Template.Name = name
		s.Spec.Template.Spec.Containers = []corev1.Container{container("")}
		return s
	}
	t.Run("unchanged BYO name skips template defaulting", func(t *testing.T) {
		old, cur := byo("hello-v1"), byo("hello-v1")
		cur.SetDefaultsOnUpdate(old, d)
		if cur.Spec.Template.Spec.TimeoutSeconds != nil || cur.Spec.Template.Spec.Containers[0].Name != "" {
			t.Errorf("template was defaulted: %+v", cur.Spec.Template.Spec)
		}
		if len(cur.Spec.Traffic) != 1 {
			t.Errorf("traffic = %v, want the default entry", cur.Spec.Traffic)
		}
	})
	t.Run("new BYO name is defaulted, without enableServiceLinks", func(t *testing.T) {
		old, cur := byo("hello-v1"), byo("hello-v2")
		cur.SetDefaultsOnUpdate(old, d)
		spec := cur.Spec.Template.Spec
		if spec.TimeoutSeconds == nil || *spec.TimeoutSeconds != 300 || spec.Containers[0].Name != "user-container" {
			t.Errorf("template not defaulted: %+v", spec)
		}
		if spec.EnableServiceLinks != nil {
			t.Errorf("enableServiceLinks = %v on update, want nil", *spec.EnableServiceLinks)
		}
	})
	t.Run("configuration with unchanged BYO name", func(t *testing.T) {
		old := &servingv1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
		old.Spec.Template.Name = "hello-v1"
		cur := old.DeepCopy()
		cur.SetDefaultsOnUpdate(old, d)
		if cur.Spec.Template.Spec.TimeoutSeconds != nil {
			t.Errorf("template was defaulted")
		}
	})
}

func TestContainerNameTemplateRendersParent(t *testing.T) {
	d := servingv1.StockDefaults()
	d.ContainerNameTemplate = "{{.Name}}-main"
	cfg := &servingv1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
	cfg.Spec.Template.Spec.Containers = []corev1.Container{container("")}
	cfg.SetDefaults(d)
	if got := cfg.Spec.Template.Spec.Containers[0].Name; got != "hello-main" {
		t.Errorf("container name = %q, want %q", got, "hello-main")
	}
}
