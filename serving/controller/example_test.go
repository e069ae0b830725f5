package controller_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

// Apply validates a source's objects as Knative's webhook would: an invalid one is
// reported with its field path, and nothing of the source is applied.
func ExampleController_Apply() {
	c, err := controller.New(controller.Options{Backend: newFakeBackend()})
	if err != nil {
		fmt.Println(err)
		return
	}
	cc := int64(-1)
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{
				ContainerConcurrency: &cc,
				PodSpec:              corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/hello"}}},
			},
		}}},
	}
	err = c.Apply("hello.yaml", []v1.Object{svc})
	fmt.Println(err)
	fmt.Println(len(c.Status().Services), "services;", c.Status().Errors[0].Source, "rejected")
	// Output:
	// hello.yaml: Service default/hello: spec.template.spec.containerConcurrency: expected 0 <= -1 <= 1000
	// 0 services; hello.yaml rejected
}
