package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/servekit/servekit/serving"
	v1 "github.com/servekit/servekit/serving/v1"
)

func testRevision(name string, c corev1.Container) *v1.Revision {
	return &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{
			serving.ServiceLabelKey:       "svc",
			serving.ConfigurationLabelKey: "svc",
		}},
		Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{c}}},
	}
}

func helperContainer(mode string, env ...corev1.EnvVar) corev1.Container {
	self, _ := os.Executable()
	return corev1.Container{
		Image:   "test",
		Command: []string{self},
		Env:     append([]corev1.EnvVar{{Name: helperEnv, Value: mode}}, env...),
	}
}

// startRuntime runs a Runtime until the test ends and counts notifications.
func startRuntime(t *testing.T, opts Options) (*Runtime, func()) {
	t.Helper()
	if opts.NewFront == nil {
		opts.NewFront = newTestFront
	}
	if opts.TerminationGrace == 0 {
		opts.TerminationGrace = 5 * time.Second
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return r, stop
}

func readyPods(r *Runtime, key types.NamespacedName) []Pod {
	var out []Pod
	for _, p := range r.Pods(key) {
		if p.State == PodReady {
			out = append(out, p)
		}
	}
	return out
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestSeedImageRunsHelloworld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/helloworld")
	}
	r, _ := startRuntime(t, Options{CacheDir: t.TempDir(), NewFront: newQueueFront}) // the real queue proxy
	rev := testRevision("svc-00001", corev1.Container{
		Image: SeedImage,
		Env:   []corev1.EnvVar{{Name: "TARGET", Value: "World"}},
	})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	if err := r.Apply(rev); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ready pod", time.Minute, func() bool { return len(readyPods(r, key)) == 1 })
	if diff := cmp.Diff("Hello World!\n", get(t, "http://"+readyPods(r, key)[0].Address+"/")); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestEnvAndScale(t *testing.T) {
	r, _ := startRuntime(t, Options{})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	if err := r.Apply(testRevision(key.Name, helperContainer("serve", corev1.EnvVar{Name: "TARGET", Value: "x"}))); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 ready pods", 30*time.Second, func() bool { return len(readyPods(r, key)) == 3 })
	pods := readyPods(r, key)
	addrs := map[string]bool{}
	for _, p := range pods {
		addrs[p.Address] = true
		want := "K_SERVICE=svc K_CONFIGURATION=svc K_REVISION=svc-00001 TARGET=x\n"
		if diff := cmp.Diff(want, get(t, "http://"+p.Address+"/")); diff != "" {
			t.Errorf("pod %s env (-want +got):\n%s", p.Name, diff)
		}
	}
	if len(addrs) != 3 {
		t.Errorf("pods share addresses: %v", pods)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1 pod left", 30*time.Second, func() bool { return len(r.Pods(key)) == 1 })
	if err := r.Scale(key, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no pods", 30*time.Second, func() bool { return len(r.Pods(key)) == 0 })
}

func TestCrashRestartsWithBackoff(t *testing.T) {
	r, _ := startRuntime(t, Options{RestartBackoff: 10 * time.Millisecond, MaxRestartBackoff: 40 * time.Millisecond})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	if err := r.Apply(testRevision(key.Name, helperContainer("crash"))); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 restarts", 30*time.Second, func() bool {
		p := r.Pods(key)
		return len(p) == 1 && p[0].Restarts >= 3
	})
	p := r.Pods(key)[0]
	if p.LastExit != "exit status 3" || p.State == PodReady {
		t.Errorf("crashing pod = %+v, want LastExit \"exit status 3\" and not Ready", p)
	}
}

func TestScaleDownDrainsLeastBusy(t *testing.T) {
	r, _ := startRuntime(t, Options{})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	if err := r.Apply(testRevision(key.Name, helperContainer("serve"))); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 ready pods", 30*time.Second, func() bool { return len(readyPods(r, key)) == 2 })
	pods := readyPods(r, key)
	busy, idle := pods[1], pods[0] // the newest would go first if both were idle
	var wg sync.WaitGroup
	var body string
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.Get("http://" + busy.Address + "/slow?d=300ms")
		if err != nil {
			body = err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}()
	waitFor(t, "a request in flight", 10*time.Second, func() bool {
		for _, p := range r.Pods(key) {
			if p.Name == busy.Name && p.InFlight == 1 {
				return true
			}
		}
		return false
	})
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one pod left", 30*time.Second, func() bool { return len(r.Pods(key)) == 1 })
	if got := r.Pods(key)[0].Name; got != busy.Name {
		t.Errorf("scale-down kept %s, want the busy pod %s (idle was %s)", got, busy.Name, idle.Name)
	}
	wg.Wait()
	if !strings.HasPrefix(body, "K_SERVICE=") {
		t.Errorf("in-flight request got %q", body)
	}
	// And the other way: the busy pod, once idle, drains with its request done.
	if err := r.Scale(key, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no pods", 30*time.Second, func() bool { return len(r.Pods(key)) == 0 })
}

func TestStopKillsProcessGroups(t *testing.T) {
	r, stop := startRuntime(t, Options{TerminationGrace: 2 * time.Second, BaseEnv: []string{"PATH=" + os.Getenv("PATH")}})
	pidFile := filepath.Join(t.TempDir(), "pid")
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	if err := r.Apply(testRevision(key.Name, helperContainer("fork", corev1.EnvVar{Name: "PIDFILE", Value: pidFile}))); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ready pod", 30*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if processGone(grandchild) {
		t.Fatalf("grandchild %d not running before stop", grandchild)
	}
	stop()
	waitFor(t, "the grandchild to be gone", 10*time.Second, func() bool { return processGone(grandchild) })
}

func TestApplyErrorsNameTheField(t *testing.T) {
	r, err := New(Options{NewFront: newTestFront})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    corev1.Container
		want string
	}{
		{"unmapped image", corev1.Container{Image: "nope:1"}, `spec.containers[0].image "nope:1": not in the image map`},
		{"env from secret", corev1.Container{Command: []string{"x"}, Env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{}}}}, "spec.containers[0].env[0].valueFrom (A)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Apply(testRevision("svc-00001", tc.c))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Apply = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseImageMap(t *testing.T) {
	m, err := ParseImageMap([]byte("a/b:1: [python3, -m, http.server]\nc: [./bin/c, -v]\nd: [\"builtin:helloworld\"]\n"), "/srv")
	if err != nil {
		t.Fatal(err)
	}
	want := ImageMap{"a/b:1": {"python3", "-m", "http.server"}, "c": {"/srv/bin/c", "-v"}, "d": {"builtin:helloworld"}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("ParseImageMap (-want +got):\n%s", diff)
	}
	for _, bad := range []struct{ in, want string }{
		{"a: []\n", `image "a": want a non-empty`},
		{"a: [\"builtin:nope\"]\n", `unknown builtin "builtin:nope"`},
		{"a: 3\n", "image map:"},
	} {
		if _, err := ParseImageMap([]byte(bad.in), ""); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseImageMap(%q) = %v, want an error containing %q", bad.in, err, bad.want)
		}
	}
}

// A pod whose front cannot be built is reported and retried, not dropped: the
// revision keeps the pod it asked for.
func TestFrontFailureIsRetried(t *testing.T) {
	var calls atomic.Int64
	failing := func(cfg FrontConfig) (Front, error) {
		if calls.Add(1) <= 2 {
			return nil, errors.New("probe: bad readiness probe")
		}
		return newTestFront(cfg)
	}
	r, _ := startRuntime(t, Options{NewFront: failing, RestartBackoff: 5 * time.Millisecond})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	if err := r.Apply(testRevision(key.Name, helperContainer("serve"))); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ready pod after two failed setups", 30*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
	if p := readyPods(r, key)[0]; p.Restarts != 2 || !strings.Contains(p.LastExit, "bad readiness probe") {
		t.Errorf("pod = %+v, want 2 restarts reporting the front error", p)
	}
}

// A readiness probe written for the container's declared port (8080) probes the
// port the process really listens on ($PORT).
func TestReadinessProbeFollowsPort(t *testing.T) {
	r, _ := startRuntime(t, Options{NewFront: newQueueFront})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	c := helperContainer("serve")
	c.Ports = []corev1.ContainerPort{{Name: "http1", ContainerPort: 8080}}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)},
	}}
	if err := r.Apply(testRevision(key.Name, c)); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready through the HTTP probe", 30*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
}

// TestDrainWaitsForRequestsInFlight: with the real queue proxy in front, a request
// still running when its pod is stopped — on scale to zero and on revision removal —
// is answered before the process is stopped, not cut with a 502.
func TestDrainWaitsForRequestsInFlight(t *testing.T) {
	for _, how := range []string{"scale to zero", "delete"} {
		t.Run(how, func(t *testing.T) {
			r, _ := startRuntime(t, Options{NewFront: newQueueFront, DrainQuietPeriod: 50 * time.Millisecond})
			key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
			if err := r.Apply(testRevision(key.Name, helperContainer("serve"))); err != nil {
				t.Fatal(err)
			}
			if err := r.Scale(key, 1); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a ready pod", 30*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
			pod := readyPods(r, key)[0]
			type answer struct {
				code int
				body string
				err  error
			}
			done := make(chan answer, 1)
			go func() {
				resp, err := http.Get("http://" + pod.Address + "/slow?d=1s")
				if err != nil {
					done <- answer{err: err}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				done <- answer{code: resp.StatusCode, body: string(b)}
			}()
			waitFor(t, "the request in flight", 10*time.Second, func() bool {
				ps := r.Pods(key)
				return len(ps) == 1 && ps[0].InFlight == 1
			})
			var err error
			if how == "delete" {
				err = r.Delete(key)
			} else {
				err = r.Scale(key, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			a := <-done
			if a.err != nil || a.code != http.StatusOK || !strings.HasPrefix(a.body, "K_SERVICE=") {
				t.Errorf("request in flight at %s: %d %q %v, want 200 from the app", how, a.code, a.body, a.err)
			}
			waitFor(t, "no pods", 30*time.Second, func() bool { return len(r.Pods(key)) == 0 })
		})
	}
}

// TestBuiltinsRunWithoutBuilding: a builtin with a command in Options.Builtins runs
// that command (here the test binary in its serve mode) with the container's args
// after it, and needs neither a cache directory nor the go command.
func TestBuiltinsRunWithoutBuilding(t *testing.T) {
	self, _ := os.Executable()
	r, _ := startRuntime(t, Options{Builtins: map[string][]string{"helloworld": {self}}})
	c := helperContainer("serve")
	c.Command = []string{BuiltinPrefix + "helloworld"}
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	if err := r.Apply(testRevision(key.Name, c)); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ready pod", 30*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
	if body := get(t, "http://"+readyPods(r, key)[0].Address+"/"); !strings.HasPrefix(body, "K_SERVICE=") {
		t.Errorf("body %q, want the helper's env dump", body)
	}
}

// TestDrainBoundedByRevisionTimeout: a pod that leaves while the runtime runs (its
// revision deleted) waits for its requests up to the revision's timeoutSeconds, not
// the shorter DrainTimeout, as a Knative pod's termination grace is the revision's
// timeout; a request longer than that is cut when the pod goes.
func TestDrainBoundedByRevisionTimeout(t *testing.T) {
	r, _ := startRuntime(t, Options{NewFront: newQueueFront, DrainQuietPeriod: 10 * time.Millisecond, DrainTimeout: 100 * time.Millisecond})
	for _, tc := range []struct {
		name, d string
		want200 bool
	}{
		{"svc-00001", "1500ms", true}, // outlives DrainTimeout, within the revision's 4 s
		{"svc-00002", "120s", false},  // outlives the revision's timeout too
	} {
		key := types.NamespacedName{Namespace: "default", Name: tc.name}
		rev := testRevision(key.Name, helperContainer("serve"))
		four := int64(4)
		rev.Spec.TimeoutSeconds = &four
		if err := r.Apply(rev); err != nil {
			t.Fatal(err)
		}
		if err := r.Scale(key, 1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a ready pod", 30*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
		pod := readyPods(r, key)[0]
		done := make(chan string, 1) // how the request ended
		go func() {
			resp, err := http.Get("http://" + pod.Address + "/slow?d=" + tc.d)
			if err != nil {
				done <- err.Error()
				return
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- fmt.Sprintf("%d %v", resp.StatusCode, err)
		}()
		waitFor(t, "the request in flight", 10*time.Second, func() bool {
			ps := r.Pods(key)
			return len(ps) == 1 && ps[0].InFlight == 1
		})
		if err := r.Delete(key); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the pod gone", 30*time.Second, func() bool { return len(r.Pods(key)) == 0 })
		select {
		case how := <-done:
			if got := how == "200 <nil>"; got != tc.want200 {
				t.Errorf("%s: request of %s ended %q; want answered 200: %v", tc.name, tc.d, how, tc.want200)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s: the request is still open after its pod stopped", tc.name)
		}
	}
}
