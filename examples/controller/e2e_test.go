package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
)

const seedHost = "helloworld-go.default.example.com"

// The seed: apply helloworld-go.yaml, get "Hello World!" through the ingress, see it
// in /status, `get` and /metrics.
func TestSeed(t *testing.T) {
	tp := startPlatform(t, map[string]string{"helloworld-go.yaml": seedManifest(t)}, "")
	st := tp.waitStatus(t, "helloworld-go Ready", time.Minute, serviceReady("helloworld-go", "helloworld-go-00001"))

	code, body, err := tp.get(seedHost, "/")
	if err != nil || code != http.StatusOK || body != "Hello World!\n" {
		t.Fatalf("GET / (Host %s) = %d %q %v, want 200 \"Hello World!\\n\"", seedHost, code, body, err)
	}
	s := service(st, "helloworld-go")
	got := controller.ServiceStatus{
		Name: s.Name, Namespace: s.Namespace, URL: s.URL, Ready: s.Ready,
		LatestCreatedRevisionName: s.LatestCreatedRevisionName, LatestReadyRevisionName: s.LatestReadyRevisionName,
		Traffic: s.Traffic,
	}
	want := controller.ServiceStatus{
		Name: "helloworld-go", Namespace: "default", URL: "http://helloworld-go.default.example.com", Ready: true,
		LatestCreatedRevisionName: "helloworld-go-00001", LatestReadyRevisionName: "helloworld-go-00001",
		Traffic: []controller.TrafficStatus{{RevisionName: "helloworld-go-00001", Percent: 100, LatestRevision: true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("/status service (-want +got):\n%s", diff)
	}
	if len(s.Revisions) != 1 || s.Revisions[0].Name != "helloworld-go-00001" {
		t.Errorf("/status revisions = %+v, want helloworld-go-00001", s.Revisions)
	}

	var out, errOut bytes.Buffer
	if code := runGet(t.Context(), []string{"--admin", tp.admin}, &out, &errOut); code != 0 {
		t.Fatalf("get: exit %d: %s", code, errOut.String())
	}
	for _, wantLine := range []string{"helloworld-go   http://helloworld-go.default.example.com   helloworld-go-00001   helloworld-go-00001   True", "helloworld-go-00001"} {
		if !strings.Contains(out.String(), wantLine) {
			t.Errorf("get output lacks %q:\n%s", wantLine, out.String())
		}
	}

	resp, err := tp.client.Get("http://" + tp.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"servekit_requests_total{", "servekit_activator_queue_wait_ms_bucket{", "servekit_request_latencies_ms_bucket{", "servekit_ready_pods{", "servekit_desired_pods{", "servekit_panic_mode{", "servekit_activator_queue_depth{"} {
		if !bytes.Contains(metrics, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if code, _, _ := tp.get("nope.default.example.com", "/"); code != http.StatusNotFound {
		t.Errorf("unknown host: status %d, want 404", code)
	}

	// Clean shutdown: every pod process is gone once Run returns.
	var pids []int
	for _, p := range tp.p.Runtime().Pods(types.NamespacedName{Namespace: "default", Name: "helloworld-go-00001"}) {
		if p.PID > 0 {
			pids = append(pids, p.PID)
		}
	}
	if len(pids) == 0 {
		t.Fatal("no running pod process found")
	}
	tp.shutdown()
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("pod process %d still running after shutdown", pid)
		}
	}
}

// processAlive reports whether pid runs (a zombie nobody reaped does not count).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// Scale from zero: after the revision reached 0 pods, 50 concurrent requests all get
// 200 (the activator holds them while a pod starts).
func TestScaleFromZero(t *testing.T) {
	tp := startPlatform(t, map[string]string{"helloworld-go.yaml": seedManifest(t)}, fastConfig)
	tp.waitStatus(t, "helloworld-go Ready", time.Minute, serviceReady("helloworld-go", "helloworld-go-00001"))
	tp.waitStatus(t, "scale to zero", time.Minute, podsOf("helloworld-go", "helloworld-go-00001", 0))

	var wg sync.WaitGroup
	var bad atomic.Int64
	var firstErr atomic.Value
	for range 50 {
		wg.Go(func() {
			code, body, err := tp.get(seedHost, "/")
			if err != nil || code != http.StatusOK || body != "Hello World!\n" {
				bad.Add(1)
				firstErr.CompareAndSwap(nil, []any{code, body, err})
			}
		})
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d of 50 requests failed after scale to zero; first: %v", n, firstErr.Load())
	}
	st := tp.status(t)
	if r := revision(st, "helloworld-go", "helloworld-go-00001"); r == nil || r.ReadyPods < 1 {
		t.Errorf("after the burst: %+v, want at least one ready pod", r)
	}
}

// load keeps n clients sending requests until stop is closed; it counts non-200s.
type load struct {
	wg       sync.WaitGroup
	stop     chan struct{}
	ok, bad  atomic.Int64
	firstBad atomic.Value
}

func startLoad(tp *testPlatform, n int, host, path string) *load {
	l := &load{stop: make(chan struct{})}
	for range n {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body, err := tp.get(host, path)
				if err != nil || code != http.StatusOK {
					l.bad.Add(1)
					l.firstBad.CompareAndSwap(nil, []any{code, body, err})
				} else {
					l.ok.Add(1)
				}
			}
		})
	}
	return l
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

// Scale up: sustained concurrency of ~40 against a target of 10 gives at least 4 ready
// pods; back to zero once the load stops.
func TestScaleUp(t *testing.T) {
	tp := startPlatform(t, map[string]string{"app.yaml": appService("app", "App", "10")}, fastConfig)
	tp.waitStatus(t, "app Ready", time.Minute, serviceReady("app", "app-00001"))
	l := startLoad(tp, 40, "app.default.example.com", "/?sleep=100ms")
	tp.waitStatus(t, ">= 4 ready pods under load", time.Minute, func(st controller.Status) bool {
		r := revision(st, "app", "app-00001")
		return r != nil && r.ReadyPods >= 4
	})
	l.finish()
	if n := l.bad.Load(); n != 0 {
		t.Errorf("%d requests failed under load (%d ok); first: %v", n, l.ok.Load(), l.firstBad.Load())
	}
	tp.waitStatus(t, "back to zero", time.Minute, podsOf("app", "app-00001", 0))
}

// New revision: changing TARGET makes helloworld-go-00002, which takes the traffic;
// a steady request stream sees no error during the switch.
func TestNewRevision(t *testing.T) {
	tp := startPlatform(t, map[string]string{"helloworld-go.yaml": seedManifest(t)}, "")
	tp.waitStatus(t, "helloworld-go Ready", time.Minute, serviceReady("helloworld-go", "helloworld-go-00001"))
	l := startLoad(tp, 4, seedHost, "/")
	tp.writeManifest(t, "helloworld-go.yaml", strings.Replace(seedManifest(t), `value: "World"`, `value: "Servekit"`, 1))
	tp.waitStatus(t, "helloworld-go-00002 ready", time.Minute, serviceReady("helloworld-go", "helloworld-go-00002"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body, _ := tp.get(seedHost, "/")
		if body == "Hello Servekit!\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still answering %q after the new revision became ready", body)
		}
	}
	l.finish()
	if n := l.bad.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during the switch; first: %v", n, n+l.ok.Load(), l.firstBad.Load())
	}
	if l.ok.Load() == 0 {
		t.Error("the request stream sent nothing")
	}
}

const splitV1 = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: split
spec:
  template:
    spec:
      containers:
        - image: registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go:160e4dc8
          env:
            - name: TARGET
              value: "Blue"
`

const splitV2 = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: split
spec:
  template:
    spec:
      containers:
        - image: registry.cn-hangzhou.aliyuncs.com/knative-sample/helloworld-go:160e4dc8
          env:
            - name: TARGET
              value: "Green"
  traffic:
    - revisionName: split-00001
      percent: 80
    - latestRevision: true
      percent: 20
      tag: candidate
`

// Split: 80/20 between two revisions over 1,000 requests (within ±2 points), and the
// tagged revision on its own host and through the tag header.
func TestSplit(t *testing.T) {
	tp := startPlatform(t, map[string]string{"split.yaml": splitV1}, fastConfig)
	tp.waitStatus(t, "split Ready", time.Minute, serviceReady("split", "split-00001"))
	tp.writeManifest(t, "split.yaml", splitV2)
	st := tp.waitStatus(t, "split-00002 ready with 80/20 traffic", time.Minute, func(st controller.Status) bool {
		s := service(st, "split")
		return serviceReady("split", "split-00002")(st) && len(s.Traffic) == 2
	})
	wantTraffic := []controller.TrafficStatus{
		{RevisionName: "split-00001", Percent: 80},
		{RevisionName: "split-00002", Percent: 20, Tag: "candidate", URL: "http://candidate-split.default.example.com", LatestRevision: true},
	}
	if diff := cmp.Diff(wantTraffic, service(st, "split").Traffic); diff != "" {
		t.Errorf("traffic (-want +got):\n%s", diff)
	}
	counts := map[string]int{}
	for range 1000 {
		code, body, err := tp.get("split.default.example.com", "/")
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET = %d %q %v", code, body, err)
		}
		counts[body]++
	}
	if blue := counts["Hello Blue!\n"]; blue < 780 || blue > 820 || counts["Hello Green!\n"] != 1000-blue {
		t.Errorf("1,000 requests split %v, want 800±20 Blue and the rest Green", counts)
	}
	for _, tc := range []struct {
		name string
		host string
		hdr  []string
	}{
		{"tag host", "candidate-split.default.example.com", nil},
		{"tag header", "split.default.example.com", []string{"Knative-Serving-Tag", "candidate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 10 {
				code, body, err := tp.get(tc.host, "/", tc.hdr...)
				if err != nil || code != http.StatusOK || body != "Hello Green!\n" {
					t.Fatalf("GET = %d %q %v, want the candidate's Hello Green!", code, body, err)
				}
			}
		})
	}
}

// A broken manifest is reported with its field path and changes nothing else: the
// other services keep serving, and a valid file that turns invalid keeps its objects.
func TestBrokenManifest(t *testing.T) {
	broken := strings.Replace(appService("broken", "X", "10"), "    spec:\n      containers:", "    spec:\n      containerConcurrency: -1\n      containers:", 1)
	tp := startPlatform(t, map[string]string{"helloworld-go.yaml": seedManifest(t), "broken.yaml": broken}, "")
	st := tp.waitStatus(t, "helloworld-go Ready", time.Minute, serviceReady("helloworld-go", "helloworld-go-00001"))
	if service(st, "broken") != nil {
		t.Errorf("the broken service was applied: %+v", service(st, "broken"))
	}
	if len(st.Errors) != 1 || !strings.HasSuffix(st.Errors[0].Source, "broken.yaml") ||
		!strings.Contains(st.Errors[0].Error, "spec.template.spec.containerConcurrency") {
		t.Fatalf("status errors = %+v, want broken.yaml with the path spec.template.spec.containerConcurrency", st.Errors)
	}
	if code, body, err := tp.get(seedHost, "/"); code != http.StatusOK || body != "Hello World!\n" {
		t.Errorf("helloworld-go with a broken neighbour: %d %q %v", code, body, err)
	}

	// The seed file breaks (an unknown field): it is reported, and the seed keeps serving.
	tp.writeManifest(t, "helloworld-go.yaml", strings.Replace(seedManifest(t), "  name: helloworld-go\n", "  name: helloworld-go\n  colour: blue\n", 1))
	st = tp.waitStatus(t, "the seed file reported", time.Minute, func(st controller.Status) bool { return len(st.Errors) == 2 })
	if !strings.Contains(st.Errors[1].Error, "metadata.colour") {
		t.Errorf("error for the unknown field = %q, want its path metadata.colour", st.Errors[1].Error)
	}
	if code, body, err := tp.get(seedHost, "/"); code != http.StatusOK || body != "Hello World!\n" {
		t.Errorf("helloworld-go after its file broke: %d %q %v", code, body, err)
	}
}

// Removing a manifest file deletes its objects: the service leaves the status, its
// host answers 404 and its pods stop.
func TestRemoveManifest(t *testing.T) {
	tp := startPlatform(t, map[string]string{"helloworld-go.yaml": seedManifest(t), "app.yaml": appService("app", "App", "10")}, "")
	tp.waitStatus(t, "both Ready", time.Minute, func(st controller.Status) bool {
		return serviceReady("helloworld-go", "helloworld-go-00001")(st) && serviceReady("app", "app-00001")(st)
	})
	if err := os.Remove(filepath.Join(tp.dir, "app.yaml")); err != nil {
		t.Fatal(err)
	}
	tp.waitStatus(t, "app gone", time.Minute, func(st controller.Status) bool { return service(st, "app") == nil })
	waitFor(t, "app's pods stopped", time.Minute, func() bool {
		return len(tp.p.Runtime().Pods(types.NamespacedName{Namespace: "default", Name: "app-00001"})) == 0
	})
	if code, _, _ := tp.get("app.default.example.com", "/"); code != http.StatusNotFound {
		t.Errorf("removed service's host: %d, want 404", code)
	}
	if code, body, err := tp.get(seedHost, "/"); code != http.StatusOK || body != "Hello World!\n" {
		t.Errorf("the other service: %d %q %v", code, body, err)
	}
}
