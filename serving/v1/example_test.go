package v1_test

import (
	"fmt"
	"strings"

	servingv1 "github.com/servekit/servekit/serving/v1"
)

const manifest = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    spec:
      containerConcurrency: -1
      containers:
        - image: ghcr.io/servekit/hello:v1
  traffic:
    - tag: Current
      percent: 90
`

// Decode reads every document of a YAML stream into typed objects.
func ExampleDecode() {
	docs, err := servingv1.Decode(strings.NewReader(manifest+"---\napiVersion: apps/v1\nkind: Deployment\n"),
		servingv1.DecodeOptions{Strict: true})
	for _, d := range docs {
		fmt.Println(d.Index, d.Object.GetObjectKind().GroupVersionKind().Kind, d.Object.GetName())
	}
	fmt.Println(err)
	// Output:
	// 1 Service hello
	// document 2: apiVersion: unsupported apiVersion "apps/v1" (kind "Deployment"): want serving.knative.dev/v1
}

// SetDefaults fills in what Knative's defaulting webhook would.
func ExampleService_SetDefaults() {
	svc := &servingv1.Service{}
	svc.Name = "hello"
	svc.Spec.Template.Spec.Containers = append(svc.Spec.Template.Spec.Containers, containerWithImage("ghcr.io/servekit/hello:v1"))
	svc.SetDefaults(servingv1.StockDefaults())

	spec := svc.Spec.Template.Spec
	fmt.Println("container:", spec.Containers[0].Name)
	fmt.Println("timeoutSeconds:", *spec.TimeoutSeconds)
	fmt.Println("containerConcurrency:", *spec.ContainerConcurrency)
	fmt.Println("readiness probe tcpSocket:", spec.Containers[0].ReadinessProbe.TCPSocket != nil)
	fmt.Println("enableServiceLinks:", *spec.EnableServiceLinks)
	fmt.Println("traffic:", *svc.Spec.Traffic[0].LatestRevision, *svc.Spec.Traffic[0].Percent)
	// Output:
	// container: user-container
	// timeoutSeconds: 300
	// containerConcurrency: 0
	// readiness probe tcpSocket: true
	// enableServiceLinks: false
	// traffic: true 100
}

// Validate reports every problem with the field path Knative uses.
func ExampleService_Validate() {
	docs, _ := servingv1.Decode(strings.NewReader(manifest), servingv1.DecodeOptions{Strict: true})
	svc := docs[0].Object
	d := servingv1.StockDefaults()
	svc.SetDefaults(d)
	for _, e := range svc.Validate(d) {
		msg, _, _ := strings.Cut(servingv1.Message(e), " [")
		fmt.Printf("%s: %s\n", e.Field, msg)
	}
	// Output:
	// spec.template.spec.containerConcurrency: expected 0 <= -1 <= 1000
	// spec.traffic.tag[0]: invalid value: not a DNS 1035 label:
	// spec.traffic: Traffic targets sum to 90, want 100
}

// DefaultsFromMap reads a config-defaults ConfigMap; its bounds then apply
// to validation.
func ExampleDefaultsFromMap() {
	_, err := servingv1.DefaultsFromMap(map[string]string{"revision-timeout-seconds": "900"})
	fmt.Println(err)
	d, _ := servingv1.DefaultsFromMap(map[string]string{"container-concurrency": "10"})
	fmt.Println(d.ContainerConcurrency, d.RevisionTimeoutSeconds)
	// Output:
	// config-defaults: revision-timeout-seconds (900) cannot be greater than max-revision-timeout-seconds (600)
	// 10 300
}
