package kube_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/servekit/servekit/serving/runtime/kube"
	v1 "github.com/servekit/servekit/serving/v1"
)

// A Revision applied through the Backend becomes a Deployment running the user's
// container and the queue proxy, and a private Service.
func Example() {
	client := fake.NewClientset() // kubernetes.NewForConfig(cfg) on a real cluster
	b, err := kube.New(kube.Options{Client: client, QueueImage: "example.com/servekit/queue-proxy:v1"})
	if err != nil {
		panic(err)
	}
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: "default", UID: "1234"},
		Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "user-container", Image: "example.com/hello",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}}},
	}
	if err := b.Apply(rev); err != nil {
		panic(err)
	}
	d, _ := client.AppsV1().Deployments("default").Get(context.Background(), kube.DeploymentName(rev.Name), metav1.GetOptions{})
	for _, c := range d.Spec.Template.Spec.Containers {
		fmt.Println(d.Name, c.Name, c.Image)
	}
	s, _ := client.CoreV1().Services("default").Get(context.Background(), kube.PrivateServiceName(rev.Name), metav1.GetOptions{})
	fmt.Println(s.Name, s.Spec.Ports[0].Name, s.Spec.Ports[0].Port, "→", s.Spec.Ports[0].TargetPort.IntValue())
	// Output:
	// hello-00001-deployment user-container example.com/hello
	// hello-00001-deployment queue-proxy example.com/servekit/queue-proxy:v1
	// hello-00001-private http 80 → 8012
}

// A follower records what it is asked and writes nothing; when it becomes the leader,
// Run's goroutines create the children of every recorded revision.
func ExampleBackend_SetLeader() {
	client := fake.NewClientset()
	b, err := kube.New(kube.Options{Client: client, QueueImage: "example.com/servekit/queue-proxy:v1", Follower: true})
	if err != nil {
		panic(err)
	}
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: "default", UID: "1234"},
		Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "user-container", Image: "example.com/hello",
		}}}},
	}
	if err := b.Apply(rev); err != nil {
		panic(err)
	}
	deps, _ := client.AppsV1().Deployments("default").List(context.Background(), metav1.ListOptions{})
	fmt.Println("deployments while a follower:", len(deps.Items))

	ctx, cancel := context.WithCancel(context.Background())
	watch, err := client.AppsV1().Deployments("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, nil) }()
	b.SetLeader(true) // e.g. on acquiring the Lease
	ev := <-watch.ResultChan()
	fmt.Println(ev.Type, ev.Object.(metav1.Object).GetName())
	watch.Stop()
	cancel()
	if err := <-done; err != nil {
		panic(err)
	}
	// Output:
	// deployments while a follower: 0
	// ADDED hello-00001-deployment
}
