package service_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/serving/service"
	v1 "github.com/servekit/servekit/serving/v1"
)

// hello is a defaulted Service that sends 90% of its traffic to a pinned
// Revision and 10% to its latest one.
func hello() *v1.Service {
	yes, no := true, false
	ninety, ten := int64(90), int64(10)
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "hello",
			Namespace: "default",
			UID:       "4c1f",
			Labels:    map[string]string{"networking.knative.dev/visibility": "cluster-local"},
			Annotations: map[string]string{
				"serving.knative.dev/rollout-duration":             "120s",
				"kubectl.kubernetes.io/last-applied-configuration": "{...}",
			},
		},
		Spec: v1.ServiceSpec{
			ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
				Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "user-container", Image: "example.com/hello:v2"}},
				}},
			}},
			RouteSpec: v1.RouteSpec{Traffic: []v1.TrafficTarget{
				{RevisionName: "hello-00001", LatestRevision: &no, Percent: &ninety},
				{Tag: "candidate", LatestRevision: &yes, Percent: &ten},
			}},
		},
	}
}

func printYAML(v any) {
	b, err := yaml.Marshal(v)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(b))
}

func ExampleMakeConfiguration() {
	cfg := service.MakeConfiguration(hello())
	printYAML(map[string]any{
		"name":        cfg.Name,
		"owner":       cfg.OwnerReferences[0].Kind + "/" + cfg.OwnerReferences[0].Name,
		"labels":      cfg.Labels,
		"annotations": cfg.Annotations,
		"image":       cfg.Spec.Template.Spec.Containers[0].Image,
	})
	// Output:
	// annotations:
	//   serving.knative.dev/routes: hello
	// image: example.com/hello:v2
	// labels:
	//   networking.knative.dev/visibility: cluster-local
	//   serving.knative.dev/service: hello
	//   serving.knative.dev/serviceUID: 4c1f
	// name: hello
	// owner: Service/hello
}

func ExampleMakeRoute() {
	r := service.MakeRoute(hello())
	printYAML(map[string]any{
		"name":        r.Name,
		"labels":      r.Labels,
		"annotations": r.Annotations,
		"spec":        r.Spec,
	})
	// Output:
	// annotations:
	//   serving.knative.dev/rollout-duration: 120s
	// labels:
	//   networking.knative.dev/visibility: cluster-local
	//   serving.knative.dev/service: hello
	// name: hello
	// spec:
	//   traffic:
	//   - latestRevision: false
	//     percent: 90
	//     revisionName: hello-00001
	//   - configurationName: hello
	//     latestRevision: true
	//     percent: 10
	//     tag: candidate
}
