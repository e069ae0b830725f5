package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/examples/internal/testport"
	"github.com/servekit/servekit/queue"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/runtime/kube"
	"github.com/servekit/servekit/serving/runtime/kube/kubetest"
	"github.com/servekit/servekit/serving/runtime/kube/store"
)

// fakeKubelet plays the kubelet and the EndpointSlice controller for the Deployments
// the controller makes: for each replica it runs the pod's two containers as local
// processes — the user container as the binary apps maps its image to (the
// helloworld binary, app, for any other image), the queue-proxy sidecar as the real
// examples/queue-proxy binary — with the environment the Deployment gives them
// (field references and the peer-token secretKeyRef resolved, as the kubelet does),
// probes the sidecar as the pod's readinessProbe says, and lists the ready pods in
// the private Service's EndpointSlice, with the Service's ports. A pod has a fake IP
// in 10.255.1.0/24 and loopback ports of its own, reserved for it (testport); dial
// maps the one to the other.
type fakeKubelet struct {
	t             *testing.T
	cs            kubernetes.Interface
	queueBin, app string
	apps          map[string]string // image → binary, for the images app does not run

	mu     sync.Mutex
	pods   map[string][]*fakePod // by "<namespace>/<deployment>"
	nextIP int
	routes map[string]string // "<pod IP>:<pod port>" → "127.0.0.1:<port>"
	all    []*fakePod        // every pod ever started, for the logs
	stops  sync.WaitGroup    // pods terminating
	ending atomic.Int32      // how many pods are terminating

	unwritten map[string]bool // Deployments whose slice is to be written again (sync's own)
}

type fakePod struct {
	name, ip, namespace, revision string
	user, queue                   *exec.Cmd
	servingPort, metricsPort      int
	preStop                       string // the user container's preStop hook URL, "" for none
	ready                         bool
	logs                          *lockedBuffer
}

// dial connects to a pod's port through its loopback port, and to the replicas'
// fake addresses (10.255.0.x) on loopback. Anything else is refused.
func (k *fakeKubelet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	k.mu.Lock()
	to, ok := k.routes[addr]
	k.mu.Unlock()
	if !ok {
		return toLoopback(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, to)
}

// run reconciles pods with the Deployments every 100ms until ctx is done, then
// stops every pod.
func (k *fakeKubelet) run(ctx context.Context) {
	defer k.stopAll()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		k.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (k *fakeKubelet) sync(ctx context.Context) {
	deps, err := k.cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for i := range deps.Items {
		d := &deps.Items[i]
		key := d.Namespace + "/" + d.Name
		seen[key] = true
		want := 1
		if d.Spec.Replicas != nil {
			want = int(*d.Spec.Replicas)
		}
		k.mu.Lock()
		pods := k.pods[key]
		k.mu.Unlock()
		for len(pods) < want {
			p, err := k.start(ctx, d, len(pods))
			if err != nil {
				k.t.Errorf("fake kubelet: %s: %v", key, err)
				return
			}
			pods = append(pods, p)
		}
		for len(pods) > want {
			// Terminating: out of the EndpointSlice at once, stopped meanwhile.
			p := pods[len(pods)-1]
			k.ending.Add(1)
			k.stops.Go(func() { k.stop(p); k.ending.Add(-1) })
			pods = pods[:len(pods)-1]
		}
		changed := false
		for _, p := range pods {
			if !p.ready && k.probe(ctx, p) {
				p.ready, changed = true, true
			}
		}
		k.mu.Lock()
		before := len(k.pods[key])
		k.pods[key] = pods
		k.mu.Unlock()
		if changed || before != len(pods) || k.unwritten[key] {
			k.unwritten[key] = !k.writeSlice(ctx, d, pods)
		}
	}
	k.mu.Lock()
	var gone [][]*fakePod
	for key, pods := range k.pods {
		if !seen[key] {
			gone = append(gone, pods)
			delete(k.pods, key)
		}
	}
	k.mu.Unlock()
	for _, pods := range gone {
		for _, p := range pods {
			k.stop(p)
		}
	}
}

// start runs one pod of d: resolve each container's environment as the kubelet
// would, then move every port to a free loopback port.
func (k *fakeKubelet) start(ctx context.Context, d *appsv1.Deployment, n int) (*fakePod, error) {
	k.mu.Lock()
	k.nextIP++
	ip := fmt.Sprintf("10.255.1.%d", k.nextIP)
	k.mu.Unlock()
	p := &fakePod{name: fmt.Sprintf("%s-%d", d.Name, n), ip: ip, namespace: d.Namespace,
		revision: d.Labels["serving.knative.dev/revision"], logs: &lockedBuffer{}}
	spec := d.Spec.Template.Spec
	var userC, queueC *corev1.Container
	for i := range spec.Containers {
		if spec.Containers[i].Name == kube.QueueContainerName {
			queueC = &spec.Containers[i]
		} else {
			userC = &spec.Containers[i]
		}
	}
	if userC == nil || queueC == nil {
		return nil, fmt.Errorf("want a user container and %s, got %d containers", kube.QueueContainerName, len(spec.Containers))
	}
	userEnv, err := k.env(ctx, p, userC)
	if err != nil {
		return nil, err
	}
	queueEnv, err := k.env(ctx, p, queueC)
	if err != nil {
		return nil, err
	}
	// Every port is reserved until the test ends, so that no other listener (of
	// this test, another test, another process) takes it before the pod's process
	// binds it, nor after a stopped pod released it (testport).
	// (testport.Get: this runs on the kubelet's goroutine, not the test's.)
	var ports [4]int
	for i := range ports {
		if ports[i], err = testport.Get(k.t); err != nil {
			return nil, err
		}
	}
	userPort, adminPort := ports[0], ports[1]
	p.servingPort, p.metricsPort = ports[2], ports[3]
	userEnv["PORT"] = strconv.Itoa(userPort)
	queueEnv[queue.EnvUserPort] = strconv.Itoa(userPort)
	queueEnv[queue.EnvServingPort] = strconv.Itoa(p.servingPort)
	queueEnv[queue.EnvMetricsPort] = strconv.Itoa(p.metricsPort)
	queueEnv[queue.EnvAdminPort] = strconv.Itoa(adminPort)
	// The user container's preStop hook, aimed at the sidecar's admin port as the
	// kubelet aims it at the pod's.
	if h := userC.Lifecycle; h != nil && h.PreStop != nil && h.PreStop.HTTPGet != nil {
		if h.PreStop.HTTPGet.Port.IntValue() != kube.QueueAdminPort {
			return nil, fmt.Errorf("user container preStop port %s, want the queue admin port %d", h.PreStop.HTTPGet.Port.String(), kube.QueueAdminPort)
		}
		p.preStop = fmt.Sprintf("http://127.0.0.1:%d%s", adminPort, h.PreStop.HTTPGet.Path)
	}
	// Inside the pod its IP is its own; here the fake IP is not on any interface,
	// so the sidecar listens on loopback (its ports are the pod's own, above).
	queueEnv[queue.EnvPodIP] = "127.0.0.1"
	queueEnv["SERVEKIT_ADMIN_HOST"] = "127.0.0.1"
	// The drain's quiet period (30s, for endpoints to propagate) shortened so that a
	// stopped pod does not hold up the test's end; nothing else depends on it here.
	queueEnv[queue.EnvDrainQuietPeriod] = "1s"
	var probe corev1.Probe
	if err := json.Unmarshal([]byte(queueEnv[queue.EnvReadinessProbe]), &probe); err != nil {
		return nil, fmt.Errorf("%s: %v", queue.EnvReadinessProbe, err)
	}
	if probe.TCPSocket != nil {
		probe.TCPSocket.Port = intstr.FromInt(userPort)
	}
	if probe.HTTPGet != nil {
		probe.HTTPGet.Port = intstr.FromInt(userPort)
	}
	b, _ := json.Marshal(&probe)
	queueEnv[queue.EnvReadinessProbe] = string(b)

	app := k.app
	if bin, ok := k.apps[userC.Image]; ok {
		app = bin
	}
	p.user = k.command(app, userEnv, p.logs)
	p.queue = k.command(k.queueBin, queueEnv, p.logs)
	if err := p.user.Start(); err != nil {
		return nil, err
	}
	if err := p.queue.Start(); err != nil {
		_ = p.user.Process.Kill()
		_ = p.user.Wait()
		return nil, err
	}
	k.mu.Lock()
	k.all = append(k.all, p)
	// The sidecar's ports as the Deployment declares them (8012, or 8013 for an h2c
	// revision, and the metrics port) lead to where its process listens.
	for _, cp := range queueC.Ports {
		local := 0
		switch cp.Name {
		case kube.QueuePortName:
			local = p.servingPort
		case kube.MetricsPortName:
			local = p.metricsPort
		default:
			continue
		}
		k.routes[net.JoinHostPort(ip, strconv.Itoa(int(cp.ContainerPort)))] = net.JoinHostPort("127.0.0.1", strconv.Itoa(local))
	}
	k.mu.Unlock()
	return p, nil
}

func (k *fakeKubelet) command(bin string, env map[string]string, logs io.Writer) *exec.Cmd {
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for name, v := range env {
		cmd.Env = append(cmd.Env, name+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	return cmd
}

// env resolves c's environment: values with $(VAR) references to earlier variables,
// the pod's name and IP, and secretKeyRefs read from the API server.
func (k *fakeKubelet) env(ctx context.Context, p *fakePod, c *corev1.Container) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom == nil:
			for name, val := range out {
				v = strings.ReplaceAll(v, "$("+name+")", val)
			}
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			v = p.name
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP":
			v = p.ip
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, err := k.cs.CoreV1().Secrets(p.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("env %s: secretKeyRef %s/%s: %v", e.Name, p.namespace, ref.Name, err)
			}
			v = string(s.Data[ref.Key])
		default:
			return nil, fmt.Errorf("env %s: valueFrom the fake kubelet cannot resolve", e.Name)
		}
		out[e.Name] = v
	}
	return out, nil
}

// probe runs the sidecar's readinessProbe (an HTTP GET of its serving port with the
// probe header) once.
func (k *fakeKubelet) probe(ctx context.Context, p *fakePod) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", p.servingPort), nil)
	req.Header.Set(queue.ProbeHeaderName, queue.ProbeHeaderValue)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// writeSlice lists d's pods in the EndpointSlice of its revision's private Service,
// with the Service's ports (name and target port), as the EndpointSlice controller
// does: "http" on 8012, or "http2" on 8013 for an h2c revision.
func (k *fakeKubelet) writeSlice(ctx context.Context, d *appsv1.Deployment, pods []*fakePod) (written bool) {
	rev := d.Labels["serving.knative.dev/revision"]
	svc := kube.PrivateServiceName(rev)
	service, err := k.cs.CoreV1().Services(d.Namespace).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		if ctx.Err() == nil && !apierrors.IsNotFound(err) {
			k.t.Errorf("fake kubelet: Service %s: %v", svc, err)
		}
		return false // written at the next sync once the Service exists
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: svc + "-fake", Namespace: d.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc, "serving.knative.dev/revision": rev}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, sp := range service.Spec.Ports {
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: new(sp.Name), Port: new(sp.TargetPort.IntVal), Protocol: new(sp.Protocol)})
	}
	for _, p := range pods {
		ready := p.ready
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{p.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: d.Namespace, Name: p.name}})
	}
	slices := k.cs.DiscoveryV1().EndpointSlices(d.Namespace)
	cur, err := slices.Get(ctx, es.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = slices.Create(ctx, es, metav1.CreateOptions{})
	case err == nil:
		es.ResourceVersion = cur.ResourceVersion
		_, err = slices.Update(ctx, es, metav1.UpdateOptions{})
	}
	if err != nil && ctx.Err() == nil {
		k.t.Errorf("fake kubelet: EndpointSlice %s: %v", es.Name, err)
	}
	return err == nil
}

// stop ends a pod as the kubelet does: each container's preStop hook, then its
// SIGTERM, all containers at once; then it waits for them. The queue proxy starts
// draining at its SIGTERM; the user container's hook (/wait-for-drain) holds its
// SIGTERM until the drain is over, so requests accepted meanwhile are answered.
func (k *fakeKubelet) stop(p *fakePod) {
	var wg sync.WaitGroup
	_ = p.queue.Process.Signal(syscall.SIGTERM)
	wg.Go(func() {
		if p.preStop != "" {
			c := &http.Client{Timeout: 60 * time.Second}
			if resp, err := c.Get(p.preStop); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		_ = p.user.Process.Signal(syscall.SIGTERM)
	})
	wg.Wait()
	for _, c := range []*exec.Cmd{p.queue, p.user} {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
}

func (k *fakeKubelet) stopAll() {
	defer k.stops.Wait()
	k.mu.Lock()
	all := k.pods
	k.pods = map[string][]*fakePod{}
	k.mu.Unlock()
	for _, pods := range all {
		for _, p := range pods {
			k.stop(p)
		}
	}
}

// buildBinary builds ./examples/<name> into dir.
func buildBinary(t *testing.T, dir, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, "github.com/servekit/servekit/examples/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

// fakeCluster is a real API server, a controller replica in cluster mode watching it
// (as config/deploy's service account), and a fake kubelet running the pods of the
// Deployments it makes.
type fakeCluster struct {
	k   *fakeKubelet
	cs  kubernetes.Interface
	dyn dynamic.Interface
	r   *replica
}

// startFakeCluster starts a fakeCluster until the test ends, with configYAML (config
// maps) as the replica's --config directory and apps mapping images to binaries for
// the fake kubelet (helloworld runs any other image).
func startFakeCluster(t *testing.T, configYAML string, apps map[string]string) *fakeCluster {
	t.Helper()
	bins := t.TempDir()
	k := &fakeKubelet{t: t, queueBin: buildBinary(t, bins, "queue-proxy"), app: buildBinary(t, bins, "helloworld"), apps: apps,
		pods: map[string][]*fakePod{}, routes: map[string]string{}, unwritten: map[string]bool{}}
	cfg := kubetest.Start(t)
	ctx := context.Background()
	k.cs = kubernetes.NewForConfigOrDie(cfg)
	fc := &fakeCluster{k: k, cs: k.cs, dyn: dynamic.NewForConfigOrDie(cfg)}
	if err := kubetest.ApplyFiles(ctx, cfg, "../../config/deploy/00-namespace.yaml", "../../config/deploy/10-rbac.yaml"); err != nil {
		t.Fatal(err)
	}
	kctx, stopKubelet := context.WithCancel(ctx)
	kubeletDone := make(chan struct{})
	go func() { k.run(kctx); close(kubeletDone) }()
	t.Cleanup(func() {
		stopKubelet()
		<-kubeletDone
		if t.Failed() {
			k.mu.Lock()
			for _, p := range k.all {
				t.Logf("pod %s/%s (%s) output:\n%s", p.namespace, p.name, p.ip, p.logs.String())
			}
			if len(k.all) == 0 {
				t.Log("the fake kubelet started no pod")
			}
			k.mu.Unlock()
		}
	})
	confDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(confDir, "config.yaml"), []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	fc.r = startReplicaWith(t, kubetest.ServiceAccountConfig(cfg, "servekit", "servekit-controller"), "replica-0", fakeNet+"1", k.dial, "", confDir)
	return fc
}

// apply creates the Service of manifest (YAML) in the default namespace.
func (fc *fakeCluster) apply(t *testing.T, manifest string) {
	t.Helper()
	var svc unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(manifest), &svc.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.dyn.Resource(store.ServicesGVR).Namespace("default").Create(context.Background(), &svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// status is the replica's /status; it fails the test when it cannot be read.
func (fc *fakeCluster) status(t *testing.T) controller.Status {
	t.Helper()
	code, body := fc.r.get("/status")
	var st controller.Status
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status = %d %q: %v", code, body, err)
	}
	return st
}

// TestRealSeedThroughAFakeKubelet applies the seed, unchanged, to a real API server
// watched by the controller in cluster mode (as config/deploy's service account), runs
// the pods of the Deployment it makes with the real queue-proxy binary and helloworld
// (a fake kubelet), and sends a request through the controller's ingress. It checks
// what only a whole pod can show: the sidecar's environment, read by the real
// binary, works; the peer token reaches the sidecar through the Secret the backend
// copied, so the requests the activator forwards are counted as proxied.
func TestRealSeedThroughAFakeKubelet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and starts a real API server")
	}
	// Knative's shortest stable window (6s) and a 1s grace period, so that the
	// revision scales to zero within seconds.
	fc := startFakeCluster(t, fastConfig, nil)
	k, cs, dyn, r, ctx := fc.k, fc.cs, fc.dyn, fc.r, context.Background()

	fc.apply(t, seedManifest(t))
	waitFor(t, "the Service Ready in the API server", 60*time.Second, func() bool {
		got, err := dyn.Resource(store.ServicesGVR).Namespace("default").Get(ctx, "helloworld-go", metav1.GetOptions{})
		if err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			m := c.(map[string]any)
			if m["type"] == "Ready" && m["status"] == "True" {
				return true
			}
		}
		return false
	})
	get := func() (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+r.ingress.Addr().String()+"/", nil)
		req.Host = "helloworld-go.default.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusOK || body != "Hello World!\n" {
		t.Fatalf("GET through the ingress = %d %q, want 200 Hello World!", code, body)
	}

	// The pod's queue proxy counts the activator's requests as proxied: it got the
	// peer token from the Secret in its namespace. (The seed keeps the activator in
	// the path: target-burst-capacity 211.)
	k.mu.Lock()
	pods := k.pods["default/helloworld-go-00001-deployment"]
	k.mu.Unlock()
	if len(pods) == 0 {
		t.Fatal("no pod for helloworld-go-00001-deployment")
	}
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", pods[0].metricsPort)
	waitFor(t, "a second in which the pod counted the activator's requests as proxied", 30*time.Second, func() bool {
		if code, _ := get(); code != http.StatusOK {
			return false
		}
		st, err := autoscaler.HTTPStatsClient{}.ScrapeStat(ctx, metrics)
		return err == nil && st.ProxiedRequestCount > 0 && st.ProxiedRequestCount == st.RequestCount
	})

	// Idle, the revision scales to zero: the controller sets the Deployment's scale to
	// 0 and the kubelet stops the pod (SIGTERM: the queue proxy drains).
	waitFor(t, "the Deployment scaled to zero", 60*time.Second, func() bool {
		s, err := cs.AppsV1().Deployments("default").GetScale(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
		return err == nil && s.Spec.Replicas == 0
	})
	waitFor(t, "the pod stopped, and the controller seeing no pod", 30*time.Second, func() bool {
		k.mu.Lock()
		n := len(k.pods["default/helloworld-go-00001-deployment"])
		k.mu.Unlock()
		if n > 0 || k.ending.Load() > 0 {
			return false
		}
		_, body := r.get("/status")
		var st controller.Status
		if json.Unmarshal([]byte(body), &st) != nil || len(st.Services) != 1 || len(st.Services[0].Revisions) != 1 {
			return false
		}
		return st.Services[0].Revisions[0].ActualPods == 0
	})
	// Scale from zero on the cluster: the request waits in the activator, which
	// pokes the autoscaler; the controller scales the Deployment to 1, the kubelet
	// starts a pod, and once it is ready the request is forwarded.
	start := time.Now()
	if code, body := get(); code != http.StatusOK || body != "Hello World!\n" {
		t.Fatalf("GET after scale to zero = %d %q, want 200 Hello World!", code, body)
	}
	t.Logf("scale from zero through the API server and a new pod: %v", time.Since(start).Round(time.Millisecond))
	s2, err := cs.AppsV1().Deployments("default").GetScale(ctx, "helloworld-go-00001-deployment", metav1.GetOptions{})
	if err != nil || s2.Spec.Replicas < 1 {
		t.Errorf("after the request the Deployment's scale is %v (%v), want >= 1", s2, err)
	}
	k.mu.Lock()
	started := len(k.all)
	k.mu.Unlock()
	if started != 2 {
		t.Errorf("the kubelet started %d pods, want 2 (the first, then one for the scale from zero)", started)
	}
}
