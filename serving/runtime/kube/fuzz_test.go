package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving"
)

// FuzzMakeDeployment feeds user-controlled parts of a revision (annotations, ports,
// probe ports and paths, timeouts) to makeDeployment: it never panics, and whatever it
// accepts hands the queue proxy an environment that queue.ParseEnv accepts.
func FuzzMakeDeployment(f *testing.F) {
	f.Add("600s", "1", int32(8080), "http1", int32(0), "/healthz", int64(300), int64(0), false)
	f.Add("1h", "0", int32(0), "h2c", int32(9000), "", int64(0), int64(10), true)
	f.Add("-1s", "x", int32(-5), "", int32(70000), "/%zz", int64(-1), int64(-3), false)
	rev := seedRevision(f)
	f.Fuzz(func(t *testing.T, deadline, initial string, port int32, portName string, probePort int32, path string, timeout, cc int64, tcp bool) {
		r := rev.DeepCopy()
		r.Annotations[serving.ProgressDeadlineAnnotationKey] = deadline
		r.Annotations[initialScaleAnnotation] = initial
		c := &r.Spec.Containers[0]
		c.Ports = []corev1.ContainerPort{{Name: portName, ContainerPort: port}}
		if tcp {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(probePort)}}}
		} else {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(probePort)}}}
		}
		r.Spec.TimeoutSeconds = &timeout
		r.Spec.ContainerConcurrency = &cc
		d, err := makeDeployment(r, testPodConfig)
		if err != nil {
			return
		}
		env := map[string]string{"SERVING_POD": "p", "SERVING_POD_IP": "10.0.0.1"}
		for _, e := range d.Spec.Template.Spec.Containers[len(d.Spec.Template.Spec.Containers)-1].Env {
			if e.ValueFrom == nil {
				env[e.Name] = e.Value
			}
		}
		if _, err := queue.ParseEnv(func(k string) string { return env[k] }); err != nil {
			t.Errorf("makeDeployment accepted a revision whose queue-proxy env is rejected: %v", err)
		}
		_ = makePrivateService(r)
	})
}
