package runtime_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// memBackend is a minimal runtime: it only records the pods it is asked for, each
// ready at once. A real one (Nomad jobs, systemd units) starts and stops them in
// Run's goroutines and calls notify when they change; it needs nothing of the
// controller, only this package and the v1 API types.
type memBackend struct {
	mu struct {
		sync.Mutex
		images map[types.NamespacedName]string // applied revisions
		pods   map[types.NamespacedName][]runtime.Pod
		notify func(types.NamespacedName)
	}
}

var _ runtime.Backend = (*memBackend)(nil)

func newMemBackend() *memBackend {
	b := &memBackend{}
	b.mu.images = map[types.NamespacedName]string{}
	b.mu.pods = map[types.NamespacedName][]runtime.Pod{}
	return b
}

func (b *memBackend) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	b.mu.Lock()
	b.mu.notify = notify
	b.mu.Unlock()
	<-ctx.Done()
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.mu.pods) // every pod gone before Run returns
	return nil
}

func (b *memBackend) Apply(rev *v1.Revision) error {
	if len(rev.Spec.Containers) != 1 {
		return fmt.Errorf("spec.containers: want exactly one container, got %d", len(rev.Spec.Containers))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.images[types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}] = rev.Spec.Containers[0].Image
	return nil
}

func (b *memBackend) Scale(key types.NamespacedName, replicas int) error {
	b.mu.Lock()
	if _, ok := b.mu.images[key]; !ok {
		b.mu.Unlock()
		return fmt.Errorf("revision %s is not applied", key)
	}
	pods := b.mu.pods[key]
	for len(pods) < replicas {
		n := len(pods) + 1
		pods = append(pods, runtime.Pod{
			Name:    fmt.Sprintf("%s-%d", key.Name, n),
			Address: fmt.Sprintf("127.0.0.%d:8012", n),
			Ready:   true,
		})
	}
	b.mu.pods[key] = pods[:replicas]
	notify := b.mu.notify
	b.mu.Unlock()
	// Notify without holding the lock: the controller calls Pods from notify.
	if notify != nil {
		notify(key)
	}
	return nil
}

func (b *memBackend) Delete(key types.NamespacedName) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.mu.images, key)
	delete(b.mu.pods, key)
	return nil
}

func (b *memBackend) Pods(key types.NamespacedName) []runtime.Pod {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]runtime.Pod(nil), b.mu.pods[key]...)
}

func (b *memBackend) Stats(types.NamespacedName, time.Time) []metrics.Stat {
	return nil // no queue proxies to scrape: the activator's reports still scale it
}

// A runtime implements Backend without importing the controller. This one records
// pods in memory; hand it to controller.New as Options.Backend to run a platform on
// it. Here it is driven by hand, as the controller would drive it.
func ExampleBackend() {
	b := newMemBackend()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// A controller refreshes the revision's endpoints on notify.
		done <- b.Run(ctx, func(types.NamespacedName) {})
	}()

	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hello-00001"},
		Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{
			Containers: []corev1.Container{{Image: "example.com/hello"}},
		}},
	}
	key := types.NamespacedName{Namespace: rev.Namespace, Name: rev.Name}
	if err := b.Apply(rev); err != nil {
		fmt.Println(err)
	}
	if err := b.Scale(key, 2); err != nil {
		fmt.Println(err)
	}
	for _, p := range b.Pods(key) {
		fmt.Println(p.Name, p.Address, "ready:", p.Ready)
	}
	if err := b.Apply(&v1.Revision{ObjectMeta: metav1.ObjectMeta{Name: "empty-00001"}}); err != nil {
		fmt.Println("apply:", err)
	}
	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// hello-00001-1 127.0.0.1:8012 ready: true
	// hello-00001-2 127.0.0.2:8012 ready: true
	// apply: spec.containers: want exactly one container, got 0
	// run: <nil>
}
