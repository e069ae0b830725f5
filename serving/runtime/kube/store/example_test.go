package store_test

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving/controller"
	servingruntime "github.com/servekit/servekit/serving/runtime"
	"github.com/servekit/servekit/serving/runtime/kube/store"
	v1 "github.com/servekit/servekit/serving/v1"
)

// onePod is a backend whose every revision has one ready pod.
type onePod struct{}

func (onePod) Run(ctx context.Context, _ func(types.NamespacedName)) error { <-ctx.Done(); return nil }
func (onePod) Apply(*v1.Revision) error                                    { return nil }
func (onePod) Scale(types.NamespacedName, int) error                       { return nil }
func (onePod) Delete(types.NamespacedName) error                           { return nil }
func (onePod) Pods(key types.NamespacedName) []servingruntime.Pod {
	return []servingruntime.Pod{{Name: key.Name + "-pod", Address: "127.0.0.1:1", Ready: true}}
}
func (onePod) Stats(types.NamespacedName, time.Time) []metrics.Stat { return nil }

// A Service created in the API server (here a fake dynamic client) becomes its
// children there, and its status is written back.
func Example() {
	ksvc := &unstructured.Unstructured{}
	_ = yaml.Unmarshal([]byte(`
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello, namespace: default, uid: 5e1f}
spec:
  template:
    spec:
      containers: [{image: example.com/hello}]
`), &ksvc.Object)
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		store.ServicesGVR: "ServiceList", store.ConfigurationsGVR: "ConfigurationList",
		store.RoutesGVR: "RouteList", store.RevisionsGVR: "RevisionList",
		store.DomainMappingsGVR: "DomainMappingList",
	}, ksvc)
	// The fake stores objects without UIDs; an API server assigns them.
	dyn.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if u, ok := a.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured); ok && u.GetUID() == "" {
			u.SetUID(types.UID(u.GetKind() + "-" + u.GetName()))
		}
		return false, nil, nil
	})

	backend := store.NewBackend(onePod{})
	ctrl, _ := controller.New(controller.Options{Backend: backend, ResyncInterval: 10 * time.Millisecond})
	st, _ := store.New(store.Options{Client: dyn, Controller: ctrl, Backend: backend, SyncInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = ctrl.Run(ctx); done <- struct{}{} }()
	go func() { _ = st.Run(ctx); done <- struct{}{} }()

	var rev *unstructured.Unstructured
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		got, _ := dyn.Resource(store.ServicesGVR).Namespace("default").Get(ctx, "hello", metav1.GetOptions{})
		ready, _, _ := unstructured.NestedString(got.Object, "status", "latestReadyRevisionName")
		rev, _ = dyn.Resource(store.RevisionsGVR).Namespace("default").Get(ctx, "hello-00001", metav1.GetOptions{})
		if ready != "" && rev != nil {
			url, _, _ := unstructured.NestedString(got.Object, "status", "url")
			fmt.Println("latest ready:", ready, url)
			break
		}
		time.Sleep(10 * time.Millisecond) // poll interval of an observed condition
	}
	if rev != nil {
		owner := metav1.GetControllerOf(rev)
		fmt.Println("revision", rev.GetName(), "owned by", owner.Kind, owner.Name)
	}
	cancel()
	<-done
	<-done
	// Output:
	// latest ready: hello-00001 http://hello.default.example.com
	// revision hello-00001 owned by Configuration hello
}
