package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
	"github.com/servekit/servekit/serving/platform/cluster"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// lockedBuffer is a log sink shared by a replica's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// replica is one controller replica in cluster mode, run in process.
type replica struct {
	name, podIP    string
	ingress, admin net.Listener
	logs           lockedBuffer
	done           chan error
	stop           func() // cancels Run and waits for it; idempotent
}

func (r *replica) adminPort() int32 { return int32(r.admin.Addr().(*net.TCPAddr).Port) }

func (r *replica) get(path string) (int, string) {
	resp, err := http.Get("http://" + r.admin.Addr().String() + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startReplica runs a cluster replica against cfg until the test ends, with peers from the
// servekit-peers EndpointSlices and every connection through toLoopback.
func startReplica(t *testing.T, cfg *rest.Config, name, podIP string) *replica {
	t.Helper()
	return startReplicaWith(t, cfg, name, podIP, toLoopback, "servekit-peers", "")
}

// startReplicaWith is startReplica with a dialer, a peers Service ("" for none) and
// a --config directory ("" for Knative's defaults).
func startReplicaWith(t *testing.T, cfg *rest.Config, name, podIP string,
	dial func(context.Context, string, string) (net.Conn, error), peersService, configDir string) *replica {
	t.Helper()
	return startReplicaOpts(t, cfg, name, podIP, dial, peersService, configDir, nil)
}

// startReplicaOpts is startReplicaWith with more options set by opts (nil: none).
func startReplicaOpts(t *testing.T, cfg *rest.Config, name, podIP string,
	dial func(context.Context, string, string) (net.Conn, error), peersService, configDir string, opts func(*cluster.Options)) *replica {
	t.Helper()
	r := &replica{name: name, podIP: podIP, done: make(chan error, 1)}
	var err error
	if r.ingress, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if r.admin, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	cc, err := config.LoadDir(configDir, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	reporter := &ocmetrics.Reporter{}
	metrics, err := metricsHandler(reporter)
	if err != nil {
		t.Fatal(err)
	}
	o := cluster.Options{
		REST: cfg, QueueImage: "example.com/servekit/queue-proxy:v1", LeaseNamespace: "servekit", LeaseName: "servekit-controller",
		Identity: name, PodIP: podIP, PeersService: peersService, PeerTokenSecret: "servekit-peer-token", Config: &cc,
		Ingress: r.ingress, AdminListener: r.admin, DrainTimeout: 5 * time.Second, DialContext: dial,
		Logger: slog.New(slog.NewTextHandler(&r.logs, nil)), Reporter: reporter, ActivatorHooks: activatorMetrics.Hooks(), Metrics: metrics,
	}
	if opts != nil {
		opts(&o)
	}
	c, err := cluster.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- c.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-r.done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("%s: Run: %v", name, err)
				}
			case <-time.After(60 * time.Second):
				t.Errorf("%s did not stop within 60s", name)
			}
		})
	}
	t.Cleanup(func() {
		r.stop()
		r.ingress.Close()
		r.admin.Close()
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, r.logs.String())
		}
	})
	return r
}

// fakeNet is the unroutable range the test's pods and replicas pretend to live in:
// the API server refuses loopback addresses in EndpointSlices.
const fakeNet = "10.255.0."

// toLoopback dials fakeNet addresses on 127.0.0.1 (same port), and refuses any other
// address: nothing in the test leaves loopback.
func toLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(host, fakeNet) {
		return nil, fmt.Errorf("test dialer: %s is outside %s0/24", addr, fakeNet)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

// peerSlice lists one replica as a ready endpoint of the servekit-peers Service, as
// the EndpointSlice controller would.
func peerSlice(r *replica) *discoveryv1.EndpointSlice {
	ready := true
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "servekit-peers-" + r.name, Namespace: "servekit",
			Labels: map[string]string{discoveryv1.LabelServiceName: "servekit-peers"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("admin"), Port: new(r.adminPort())}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{r.podIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
}

// heldPod is a fake pod: it answers the activator's probes, and holds every other
// request until release is closed.
func heldPod(t *testing.T, release <-chan struct{}, arrived chan<- struct{}) (ip string, port int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(queue.ProbeHeaderName) == queue.ProbeHeaderValue {
			_, _ = io.WriteString(w, queue.ProbeHeaderValue)
			return
		}
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "Hello World!\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), int32(a.Port)
}

// TestRealTwoReplicasShareDemand runs two controller replicas on one real API server.
// Both serve; the follower writes nothing; requests held by the follower's activator
// make the leader scale the revision up (the follower's reports reach the leader);
// the two activators split capacity (index 0 and 1 of 2); one peer token is made and
// copied into the revision's namespace for its queue proxies.
func TestRealTwoReplicasShareDemand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server")
	}
	cfg := kubetest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	// The replicas run as the service account of config/deploy, with its RBAC: a
	// missing rule fails the test.
	if err := kubetest.ApplyFiles(ctx, cfg, "../../config/deploy/00-namespace.yaml", "../../config/deploy/10-rbac.yaml"); err != nil {
		t.Fatal(err)
	}
	sa := kubetest.ServiceAccountConfig(cfg, "servekit", "servekit-controller")
	replicas := []*replica{startReplica(t, sa, "replica-0", fakeNet+"1"), startReplica(t, sa, "replica-1", fakeNet+"2")}
	for _, r := range replicas {
		if _, err := cs.DiscoveryV1().EndpointSlices("servekit").Create(ctx, peerSlice(r), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var leaderName string
	waitFor(t, "a leader", 30*time.Second, func() bool {
		l, err := cs.CoordinationV1().Leases("servekit").Get(ctx, "servekit-controller", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
			return false
		}
		leaderName = *l.Spec.HolderIdentity
		return true
	})
	var leader, follower *replica
	for _, r := range replicas {
		if r.name == leaderName {
			leader = r
		} else {
			follower = r
		}
	}
	if leader == nil || follower == nil {
		t.Fatalf("lease held by %q, not one of the replicas", leaderName)
	}
	for _, r := range replicas {
		waitFor(t, r.name+" ready", 30*time.Second, func() bool { code, _ := r.get("/readyz"); return code == http.StatusOK })
	}
	if _, body := follower.get("/readyz"); !strings.Contains(body, "follower") {
		t.Errorf("follower /readyz = %q, want it to say follower", body)
	}
	// Subsetting: each replica knows its place among the two.
	for i, r := range replicas {
		// The peers' addresses, sorted, give each replica its index.
		want := i
		line := fmt.Sprintf("peers: activator subset\" index=%d count=2", want)
		waitFor(t, r.name+" subset", 30*time.Second, func() bool { return strings.Contains(r.logs.String(), line) })
	}

	// A Service whose pods each take one request at a time (target 1).
	var svc unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: held
  namespace: default
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/target: "1"
    spec:
      containers:
      - image: example.com/held:v1
`), &svc.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(store.ServicesGVR).Namespace("default").Create(ctx, &svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicasOf := func() int32 {
		s, err := cs.AppsV1().Deployments("default").GetScale(ctx, "held-00001-deployment", metav1.GetOptions{})
		if err != nil {
			return -1
		}
		return s.Spec.Replicas
	}
	waitFor(t, "the leader's Deployment at initial scale 1", 30*time.Second, func() bool { return replicasOf() == 1 })

	// The peer token: one Secret in the controller's namespace, copied into the
	// revision's, and the sidecar reads it from there.
	tok, err := cs.CoreV1().Secrets("servekit").Get(ctx, "servekit-peer-token", metav1.GetOptions{})
	if err != nil || len(tok.Data["token"]) < 32 {
		t.Fatalf("peer token Secret: %v, %v", tok, err)
	}
	copied, err := cs.CoreV1().Secrets("default").Get(ctx, "servekit-peer-token", metav1.GetOptions{})
	if err != nil || string(copied.Data["token"]) != string(tok.Data["token"]) {
		t.Errorf("the revision namespace's peer token differs from the installation's (%v)", err)
	}

	// One fake pod, ready, holding every request.
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	_, port := heldPod(t, release, arrived)
	ip := fakeNet + "10"
	ready := true
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "held-00001-private-abcde", Namespace: "default",
			// As the EndpointSlice controller writes it: the private Service's labels.
			Labels: map[string]string{discoveryv1.LabelServiceName: "held-00001-private", "serving.knative.dev/revision": "held-00001"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(port)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "held-00001-deployment-1"}}},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Both replicas route the Service once the pod is ready (the follower from its
	// own controller, which read everything from the API server).
	for _, r := range replicas {
		var body string
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s /status: %s", r.name, body)
			}
		})
		waitFor(t, r.name+" to see the Service ready", 30*time.Second, func() bool {
			_, body = r.get("/status")
			var st controller.Status
			if json.Unmarshal([]byte(body), &st) != nil {
				return false
			}
			return len(st.Services) == 1 && st.Services[0].Name == "held" && st.Services[0].Ready

		})
	}

	// Six requests through the follower only. They wait in its activator or at the
	// pod; the leader's own activator sees none of them.
	const n = 6
	type result struct {
		code int
		body string
		err  error
	}
	results := make(chan result, n)
	client := &http.Client{Timeout: 60 * time.Second}
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, "http://"+follower.ingress.Addr().String()+"/", nil)
			req.Host = "held.default.example.com"
			resp, err := client.Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{code: resp.StatusCode, body: string(b)}
		}()
	}
	select {
	case <-arrived:
	case r := <-results:
		t.Fatalf("a request ended before reaching the pod: %+v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("no request reached the pod within 30s")
	}
	// The leader scales for demand it only learns from the follower.
	waitFor(t, "the leader to scale up for the follower's demand", 30*time.Second, func() bool { return replicasOf() >= 2 })
	close(release)
	for range n {
		r := <-results
		if r.err != nil || r.code != http.StatusOK || r.body != "Hello World!\n" {
			t.Errorf("request through the follower = %d %q %v, want 200 Hello World!", r.code, r.body, r.err)
		}
	}
	if strings.Contains(follower.logs.String(), "store: created") {
		t.Errorf("the follower wrote to the API server:\n%s", follower.logs.String())
	}

	// The leader goes: the follower takes the Lease and writes from then on. A new
	// template becomes held-00002, created by the new leader.
	leader.stop()
	waitFor(t, "the follower to take the Lease", 60*time.Second, func() bool {
		l, err := cs.CoordinationV1().Leases("servekit").Get(ctx, "servekit-controller", metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == follower.name
	})
	if _, body := follower.get("/readyz"); !strings.Contains(body, "leader") {
		waitFor(t, "the new leader's /readyz", 10*time.Second, func() bool { _, b := follower.get("/readyz"); return strings.Contains(b, "leader") })
	}
	// As kubectl would: read, change, write, again on a conflict (the new leader
	// writes the Service's status meanwhile).
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := dyn.Resource(store.ServicesGVR).Namespace("default").Get(ctx, "held", metav1.GetOptions{})
		if err != nil {
			return err
		}
		containers, _, _ := unstructured.NestedSlice(cur.Object, "spec", "template", "spec", "containers")
		containers[0].(map[string]any)["image"] = "example.com/held:v2"
		if err := unstructured.SetNestedSlice(cur.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			return err
		}
		_, err = dyn.Resource(store.ServicesGVR).Namespace("default").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "held-00002 and its Deployment, made by the new leader", 30*time.Second, func() bool {
		_, err := cs.AppsV1().Deployments("default").Get(ctx, "held-00002-deployment", metav1.GetOptions{})
		return err == nil
	})
	if !strings.Contains(follower.logs.String(), "store: created\" object=revisions/default/held-00002") {
		t.Errorf("the new leader did not log creating held-00002:\n%s", follower.logs.String())
	}
}
