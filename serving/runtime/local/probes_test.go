package local

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// httpGetProbe is an httpGet probe of path on the container's port, checked every
// second (the tests' periodSeconds, to stay fast) with a one-second timeout.
func httpGetProbe(path string, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path}},
		PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: failures,
	}
}

func execProbe(failures int32, script string) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", script}}},
		PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: failures,
	}
}

// podNamed returns the pod called name, if it is still there.
func podNamed(r *Runtime, key types.NamespacedName, name string) (Pod, bool) {
	for _, p := range r.Pods(key) {
		if p.Name == name {
			return p, true
		}
	}
	return Pod{}, false
}

func runPods(t *testing.T, r *Runtime, key types.NamespacedName, c corev1.Container, n int) {
	t.Helper()
	if err := r.Apply(testRevision(key.Name, c)); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, n); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("%d ready pods", n), 30*time.Second, func() bool { return len(readyPods(r, key)) == n })
}

func TestThresholds(t *testing.T) {
	// Readiness with successThreshold 2, failureThreshold 3, from not ready.
	tr := thresholds{successes: 2, failures: 3}
	steps := []struct {
		ok                 bool
		passed, failed     bool
		wantOKRun, wantBad int
	}{
		{ok: true, wantOKRun: 1},
		{ok: true, passed: true, wantOKRun: 2},
		{ok: true, passed: true, wantOKRun: 3},
		{ok: false, wantBad: 1},
		{ok: false, wantBad: 2},
		{ok: true, wantOKRun: 1}, // a pass in between starts the count again
		{ok: false, wantBad: 1},
		{ok: false, wantBad: 2},
		{ok: false, failed: true, wantBad: 3},
		{ok: false, failed: true, wantBad: 4},
	}
	for i, s := range steps {
		passed, failed := tr.record(s.ok)
		if passed != s.passed || failed != s.failed || tr.okRun != s.wantOKRun || tr.failRun != s.wantBad {
			t.Fatalf("step %d (ok=%v): passed %v failed %v runs %d/%d, want %v %v %d/%d",
				i, s.ok, passed, failed, tr.okRun, tr.failRun, s.passed, s.failed, s.wantOKRun, s.wantBad)
		}
	}
}

// The kubelet's defaults fill what a probe leaves out, and what the local runtime
// cannot honour is refused, naming the field.
func TestProbeDefaultsAndErrors(t *testing.T) {
	c := corev1.Container{Ports: []corev1.ContainerPort{{Name: "http1", ContainerPort: 8080}}}
	c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "healthz", Port: intstr.FromString("http1")}}}
	ps, err := probesFor(c)
	if err != nil {
		t.Fatal(err)
	}
	type timings struct {
		InitialDelay, Period, Timeout time.Duration
		Successes, Failures           int
	}
	got := func(s *probeSpec) timings {
		return timings{s.initialDelay, s.period, s.timeout, s.successes, s.failures}
	}
	want := timings{Period: 10 * time.Second, Timeout: time.Second, Successes: 1, Failures: 3}
	if diff := cmp.Diff(want, got(ps.liveness)); diff != "" {
		t.Errorf("liveness timings (-want +got):\n%s", diff)
	}
	if ps.liveness.http == nil || ps.liveness.http.path != "/healthz" || ps.liveness.http.port != 0 {
		t.Errorf("liveness handler = %+v, want GET /healthz on the user port", ps.liveness.http)
	}
	// No readiness probe: Knative's TCP check of the port, with the same defaults.
	if ps.readiness == nil || ps.readiness.tcp == nil || *ps.readiness.tcp != 0 {
		t.Fatalf("default readiness = %+v, want tcpSocket on the user port", ps.readiness)
	}
	if diff := cmp.Diff(want, got(ps.readiness)); diff != "" {
		t.Errorf("default readiness timings (-want +got):\n%s", diff)
	}
	if ps.startup != nil {
		t.Errorf("startup = %+v, want none", ps.startup)
	}

	for _, tc := range []struct {
		name  string
		edit  func(c *corev1.Container)
		field string
	}{
		{"https", func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Scheme: corev1.URISchemeHTTPS}}}
		}, "spec.containers[0].readinessProbe.httpGet.scheme"},
		{"other named port", func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("admin")}}}
		}, "spec.containers[0].livenessProbe.tcpSocket.port"},
		{"liveness successThreshold", func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, SuccessThreshold: 2}
		}, "spec.containers[0].livenessProbe.successThreshold"},
		{"negative period", func(c *corev1.Container) {
			c.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, PeriodSeconds: -1}
		}, "spec.containers[0].startupProbe.periodSeconds"},
		{"empty exec", func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}}
		}, "spec.containers[0].livenessProbe.exec.command"},
		{"no handler", func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{PeriodSeconds: 1}
		}, "spec.containers[0].livenessProbe: must have exactly one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := helperContainer("serve")
			tc.edit(&c)
			r, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = r.Apply(testRevision("svc-00001", c))
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Apply = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

// TestHungAppLeavesRotationAndIsRestarted: an app stopped with SIGSTOP (it still
// accepts connections, but answers nothing) is out of rotation within
// failureThreshold × periodSeconds + one period, the revision's other pod serves
// every new request meanwhile, and liveness restarts the hung one.
func TestHungAppLeavesRotationAndIsRestarted(t *testing.T) {
	t.Parallel()
	r, _ := startRuntime(t, Options{NewFront: newQueueFront, RestartBackoff: 10 * time.Millisecond})
	key := types.NamespacedName{Namespace: "default", Name: "hung-00001"}
	c := helperContainer("serve")
	const period, readinessFailures = time.Second, 3
	c.ReadinessProbe = httpGetProbe("/healthz", readinessFailures)
	c.LivenessProbe = httpGetProbe("/healthz", 6)
	grace := int64(1)
	c.LivenessProbe.TerminationGracePeriodSeconds = &grace
	runPods(t, r, key, c, 2)

	victim := readyPods(r, key)[0]
	if err := syscall.Kill(-victim.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	hungAt := time.Now()
	t.Cleanup(func() { _ = syscall.Kill(-victim.PID, syscall.SIGCONT) })

	waitFor(t, "the hung pod out of rotation", 20*time.Second, func() bool {
		p, ok := podNamed(r, key, victim.Name)
		return ok && p.State != PodReady
	})
	out := time.Since(hungAt)
	t.Logf("hung app out of rotation after %v (failureThreshold %d × periodSeconds %v)", out, readinessFailures, period)
	// The bound of issue 12, with a second for a loaded machine: the app is stopped
	// just after a check passed, so this is the bound's worst case (4.0 s measured).
	if limit := readinessFailures*period + period + time.Second; out > limit {
		t.Errorf("out of rotation after %v, want within %v", out, limit)
	}
	p, _ := podNamed(r, key, victim.Name)
	if p.LastProbeFailure.Probe != "readiness" && p.LastProbeFailure.Probe != "liveness" {
		t.Errorf("last probe failure = %+v, want a readiness or liveness failure", p.LastProbeFailure)
	}
	if p.State == PodNotReady && !strings.Contains(p.Reason, "probe failed") {
		t.Errorf("reason = %q, want the failed probe", p.Reason)
	}

	// New requests go to the pods in rotation: every one is answered.
	client := &http.Client{Timeout: 5 * time.Second}
	errs := 0
	for range 40 {
		ready := readyPods(r, key)
		if len(ready) == 0 {
			t.Fatal("no pod in rotation")
		}
		res, err := client.Get("http://" + ready[0].Address + "/")
		if err != nil {
			errs++
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			errs++
		}
	}
	if errs != 0 {
		t.Errorf("%d of 40 requests to the pods in rotation failed while one app hung", errs)
	}

	waitFor(t, "the hung app restarted by liveness and back in rotation", 30*time.Second, func() bool {
		p, ok := podNamed(r, key, victim.Name)
		return ok && p.Restarts == 1 && p.State == PodReady
	})
	p, _ = podNamed(r, key, victim.Name)
	if !strings.Contains(p.LastExit, "liveness probe failed") || p.PID == victim.PID {
		t.Errorf("restarted pod = %+v, want LastExit naming the liveness probe and a new process", p)
	}
}

// An app whose /healthz turns to 500 leaves the rotation and comes back when it
// answers 200 again, without a restart.
func TestReadinessFlipLeavesAndRejoins(t *testing.T) {
	t.Parallel()
	r, _ := startRuntime(t, Options{NewFront: newQueueFront})
	key := types.NamespacedName{Namespace: "default", Name: "flip-00001"}
	flag := filepath.Join(t.TempDir(), "unhealthy")
	c := helperContainer("serve", corev1.EnvVar{Name: "UNHEALTHY", Value: flag})
	c.ReadinessProbe = httpGetProbe("/healthz", 2)
	c.ReadinessProbe.SuccessThreshold = 2
	runPods(t, r, key, c, 1)
	before := readyPods(r, key)[0]

	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "out of rotation", 15*time.Second, func() bool {
		p, _ := podNamed(r, key, before.Name)
		return p.State == PodNotReady
	})
	p, _ := podNamed(r, key, before.Name)
	if f := p.LastProbeFailure; f.Probe != "readiness" || !strings.Contains(f.Message, "HTTP probe failed with statuscode: 500") || f.Time.IsZero() {
		t.Errorf("last probe failure = %+v, want readiness, statuscode 500", f)
	}
	if !strings.Contains(p.Reason, "statuscode: 500") {
		t.Errorf("reason = %q, want the failure", p.Reason)
	}

	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "back in rotation", 15*time.Second, func() bool {
		p, _ := podNamed(r, key, before.Name)
		return p.State == PodReady
	})
	p, _ = podNamed(r, key, before.Name)
	if p.Restarts != 0 || p.PID != before.PID || p.Reason != "" {
		t.Errorf("pod = %+v, want the same process (no restart) and no reason", p)
	}
}

// exec probes run in the pod's environment and working directory: exit 0 passes,
// anything else fails, and a command still running at timeoutSeconds is killed
// (with what it forked) and counts as a failure.
func TestExecProbe(t *testing.T) {
	t.Parallel()
	r, _ := startRuntime(t, Options{RestartBackoff: 10 * time.Millisecond})
	key := types.NamespacedName{Namespace: "default", Name: "exec-00001"}
	dir := t.TempDir()
	c := helperContainer("serve", corev1.EnvVar{Name: "TARGET", Value: "x"})
	c.WorkingDir = dir
	// Relative paths: the probe runs in the working directory.
	c.ReadinessProbe = execProbe(1, `test -f ready && test "$TARGET" = x && test -n "$PORT" && test "$K_REVISION" = exec-00001`)
	c.LivenessProbe = execProbe(1, `echo $$ > probe.pid; if [ -f hang ]; then sleep 30; fi`)
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	runPods(t, r, key, c, 1)
	name := readyPods(r, key)[0].Name

	if err := os.Remove(filepath.Join(dir, "ready")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "out of rotation when the command fails", 15*time.Second, func() bool {
		p, _ := podNamed(r, key, name)
		return p.State == PodNotReady
	})
	if p, _ := podNamed(r, key, name); !strings.Contains(p.Reason, "exit status 1") {
		t.Errorf("reason = %q, want the command's exit status", p.Reason)
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "back in rotation", 15*time.Second, func() bool {
		p, _ := podNamed(r, key, name)
		return p.State == PodReady
	})

	// A liveness command that hangs is killed at timeoutSeconds; the app is restarted.
	if err := os.WriteFile(filepath.Join(dir, "hang"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a restart after the hanging liveness command", 15*time.Second, func() bool {
		p, _ := podNamed(r, key, name)
		return p.Restarts >= 1
	})
	if p, _ := podNamed(r, key, name); !strings.Contains(p.LastExit, "liveness probe failed") || !strings.Contains(p.LastExit, "timed out") {
		t.Errorf("last exit = %q, want the liveness command's timeout", p.LastExit)
	}
	if err := os.Remove(filepath.Join(dir, "hang")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "probe.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The last probe to write its pid may be a newer, passing one: either way no
	// probe command is left running.
	waitFor(t, "the timed-out probe command gone", 10*time.Second, func() bool { return processGone(pid) })
}

// A startup probe holds readiness until it passes (the app listens at once, so
// the default TCP readiness check alone would pass).
func TestStartupProbeHoldsReadiness(t *testing.T) {
	t.Parallel()
	r, _ := startRuntime(t, Options{})
	key := types.NamespacedName{Namespace: "default", Name: "startup-00001"}
	started := filepath.Join(t.TempDir(), "started")
	c := helperContainer("serve", corev1.EnvVar{Name: "STARTED", Value: started})
	c.StartupProbe = httpGetProbe("/startz", 30)
	if err := r.Apply(testRevision(key.Name, c)); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the startup probe failing on the listening app", 15*time.Second, func() bool {
		p := r.Pods(key)
		return len(p) == 1 && strings.Contains(p[0].LastProbeFailure.Message, "statuscode: 503")
	})
	if p := r.Pods(key)[0]; p.State != PodStarting || p.LastProbeFailure.Probe != "startup" {
		t.Errorf("pod = %+v, want Starting with a startup probe failure", p)
	}
	if err := os.WriteFile(started, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready once started", 15*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
}

// initialDelaySeconds holds the first readiness check.
func TestReadinessInitialDelay(t *testing.T) {
	t.Parallel()
	r, _ := startRuntime(t, Options{})
	key := types.NamespacedName{Namespace: "default", Name: "delay-00001"}
	c := helperContainer("serve")
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, InitialDelaySeconds: 2}
	if err := r.Apply(testRevision(key.Name, c)); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(key, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process started", 15*time.Second, func() bool {
		p := r.Pods(key)
		return len(p) == 1 && p[0].PID != 0
	})
	start := time.Now()
	waitFor(t, "ready", 15*time.Second, func() bool { return len(readyPods(r, key)) == 1 })
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("ready %v after the process started, want no sooner than initialDelaySeconds (2s)", d)
	}
}

// The gRPC probe speaks grpc.health.v1 over cleartext HTTP/2: SERVING passes;
// NOT_SERVING, an unknown service and a server that does not answer in time fail,
// saying why.
func TestGRPCProbeAttempt(t *testing.T) {
	var serving, hanging atomic.Bool
	serving.Store(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hang := make(chan struct{})
	srv := &http.Server{ReadHeaderTimeout: time.Second, Protocols: new(http.Protocols),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Te") != "trailers" || r.ProtoMajor != 2 {
				http.Error(w, "want HTTP/2 with TE: trailers", http.StatusBadRequest)
				return
			}
			if hanging.Load() {
				<-hang
			}
			grpcHealthHandler(serving.Load).ServeHTTP(w, r)
		})}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		close(hang)
		_ = srv.Close()
	})
	port := ln.Addr().(*net.TCPAddr).Port
	pb := newProber(nil, "")
	defer pb.close()
	probe := func(service string) error {
		c := corev1.Container{}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(port), Service: &service}}}
		ps, err := probesFor(c)
		if err != nil {
			t.Fatal(err)
		}
		return pb.attempt(t.Context(), ps.liveness, 1) // the user port is not the probe's
	}
	for _, service := range []string{"", "svc"} {
		if err := probe(service); err != nil {
			t.Errorf("service %q SERVING: %v", service, err)
		}
	}
	serving.Store(false)
	if err := probe("svc"); err == nil || !strings.Contains(err.Error(), `"NOT_SERVING"`) {
		t.Errorf("NOT_SERVING: %v, want a failure naming it", err)
	}
	if err := probe("other"); err == nil || !strings.Contains(err.Error(), "code = 5") {
		t.Errorf("unknown service: %v, want NOT_FOUND (code 5)", err)
	}
	// A server that does not answer fails at timeoutSeconds (1 s).
	hanging.Store(true)
	start := time.Now()
	err = probe("")
	if took := time.Since(start); err == nil || took > 5*time.Second {
		t.Errorf("hanging server: %v after %v, want a failure at the 1s timeout", err, took)
	}
}

// A pod whose gRPC health service turns NOT_SERVING leaves the rotation and comes
// back when it serves again.
func TestGRPCProbeLeavesAndRejoins(t *testing.T) {
	t.Parallel()
	r, _ := startRuntime(t, Options{})
	key := types.NamespacedName{Namespace: "default", Name: "grpc-00001"}
	flag := filepath.Join(t.TempDir(), "unhealthy")
	c := helperContainer("grpc", corev1.EnvVar{Name: "UNHEALTHY", Value: flag})
	svc := "svc"
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Service: &svc}},
		PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: 1}
	runPods(t, r, key, c, 1)
	name := readyPods(r, key)[0].Name
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "out of rotation", 15*time.Second, func() bool {
		p, _ := podNamed(r, key, name)
		return p.State == PodNotReady
	})
	if p, _ := podNamed(r, key, name); !strings.Contains(p.LastProbeFailure.Message, "NOT_SERVING") {
		t.Errorf("last probe failure = %+v, want NOT_SERVING", p.LastProbeFailure)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "back in rotation", 15*time.Second, func() bool {
		p, _ := podNamed(r, key, name)
		return p.State == PodReady
	})
}
