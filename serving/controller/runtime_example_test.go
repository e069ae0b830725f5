package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler/metrics"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime"
	v1 "github.com/servekit/servekit/serving/v1"
)

// inProcessRuntime is a platform team's own runtime, reduced to its bones: each pod
// is an in-process HTTP server answering with its revision's name (and the
// activator's readiness probe, as a queue proxy does). It implements
// runtime.Backend and imports nothing of the controller.
type inProcessRuntime struct {
	mu     sync.Mutex
	pods   map[types.NamespacedName][]*httptest.Server
	notify func(types.NamespacedName)
}

func (r *inProcessRuntime) Run(ctx context.Context, notify func(types.NamespacedName)) error {
	r.mu.Lock()
	r.notify = notify
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, pods := range r.pods {
		for _, p := range pods {
			p.Close()
		}
		delete(r.pods, key)
	}
	return nil
}

func (r *inProcessRuntime) Apply(rev *v1.Revision) error { return nil }

func (r *inProcessRuntime) Scale(key types.NamespacedName, n int) error {
	r.mu.Lock()
	pods := r.pods[key]
	for len(pods) < n {
		pods = append(pods, httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
				_, _ = io.WriteString(w, queue.ProbeHeaderValue)
				return
			}
			fmt.Fprintf(w, "hello from %s", key.Name)
		})))
	}
	for len(pods) > n {
		pods[len(pods)-1].Close()
		pods = pods[:len(pods)-1]
	}
	r.pods[key] = pods
	notify := r.notify
	r.mu.Unlock()
	if notify != nil {
		notify(key) // outside the lock: the controller reads Pods at once
	}
	return nil
}

func (r *inProcessRuntime) Delete(key types.NamespacedName) error { return r.Scale(key, 0) }

func (r *inProcessRuntime) Pods(key types.NamespacedName) []runtime.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Pod
	for _, s := range r.pods[key] {
		out = append(out, runtime.Pod{Name: s.URL, Address: strings.TrimPrefix(s.URL, "http://"), Ready: true})
	}
	return out
}

func (r *inProcessRuntime) Stats(types.NamespacedName, time.Time) []metrics.Stat { return nil }

// A controller composed with a runtime of one's own: the Service becomes Ready on
// the runtime's pods and the ingress (Handler) routes to them by Host.
func ExampleNew() {
	c, err := controller.New(controller.Options{
		Backend: &inProcessRuntime{pods: map[types.NamespacedName][]*httptest.Server{}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/hello"}}}},
		}}},
	}
	if err := c.Apply("hello.yaml", []v1.Object{svc}); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st := c.Status(); len(st.Services) == 1 && st.Services[0].Ready {
			break
		}
	}
	st := c.Status().Services[0]
	fmt.Println(st.URL, "ready:", st.Ready, "revision:", st.LatestReadyRevisionName)

	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, st.URL, nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// http://hello.default.example.com ready: true revision: hello-00001
	// 200 hello from hello-00001
}
