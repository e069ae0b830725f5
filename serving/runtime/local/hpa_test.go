package local

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
)

// hpaRevision is a revision of the HPA class running the "burn" helper with the
// given CPU request, target 50 %, max-scale 3 and a 6 s window (the HPA's
// stabilisation window both ways, as Knative's MakeHPA sets it).
func hpaRevision(t *testing.T, name, burnFile string, request string) (*corev1.Container, autoscaler.Spec) {
	t.Helper()
	c := helperContainer("burn", corev1.EnvVar{Name: "BURN", Value: burnFile})
	if request != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(request)}
	}
	spec, err := autoscaler.SpecFromAnnotations(autoscaler.DefaultConfig(), map[string]string{
		autoscaler.AnnotationClass:    autoscaler.ClassHPA,
		autoscaler.AnnotationMetric:   autoscaler.MetricCPU,
		autoscaler.AnnotationTarget:   "50",
		autoscaler.AnnotationMaxScale: "3",
		autoscaler.AnnotationWindow:   "6s",
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &c, spec
}

// TestHPAScalesOnCPU is the local HPA end to end (issue 15 item 7): one pod of a
// program that burns a CPU is scaled up (its request is 100m and the target 50 %:
// a 6 % share of a loaded machine's core is enough, while the idle helper uses
// well under 25m),
// and once it stops burning back to one pod after the 6 s window — never to zero,
// never above max-scale 3.
func TestHPAScalesOnCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the local HPA measures CPU through Linux's /proc")
	}
	burn := filepath.Join(t.TempDir(), "burn")
	if err := os.WriteFile(burn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A 1 s period: /proc counts CPU in 10 ms ticks, so one tick of an idle pod
	// is 10 % of its 100m request; over 300 ms it would be 33 %.
	r, _ := startRuntime(t, Options{HPASyncPeriod: time.Second})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	c, spec := hpaRevision(t, key.Name, burn, "100m")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("HPAStatus %+v, pods %+v", r.HPAStatus(key), r.Pods(key))
		}
	})
	if err := r.Apply(testRevision(key.Name, *c)); err != nil {
		t.Fatal(err)
	}
	if err := r.SetHPA(key, spec); err != nil {
		t.Fatal(err)
	}
	// Watch the live pods the whole time: never zero once started.
	var mu sync.Mutex
	minLive, maxLive := 1<<30, 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond): // sampling interval
			}
			live := 0
			for _, p := range r.Pods(key) {
				if p.State != PodTerminating {
					live++
				}
			}
			mu.Lock()
			minLive, maxLive = min(minLive, live), max(maxLive, live)
			mu.Unlock()
		}
	})
	defer func() { close(stop); wg.Wait() }()

	start := time.Now()
	waitFor(t, "scale-up to 2 or more ready pods while the pod burns CPU", 60*time.Second, func() bool {
		return len(readyPods(r, key)) >= 2
	})
	t.Logf("%d ready pods after %v", len(readyPods(r, key)), time.Since(start))
	if st := r.HPAStatus(key); st.DesiredReplicas < 2 || st.Message != "" {
		t.Errorf("HPAStatus %+v, want desired 2 or more and no message", st)
	}
	if err := os.Remove(burn); err != nil {
		t.Fatal(err)
	}
	idleSince := time.Now()
	waitFor(t, "scale-down to one pod once idle", 60*time.Second, func() bool {
		return len(r.Pods(key)) == 1
	})
	t.Logf("1 pod %v after the load stopped", time.Since(idleSince))
	if d := time.Since(idleSince); d < 6*time.Second {
		t.Errorf("scaled down %v after the load stopped, before the 6 s window", d)
	}
	// A few more periods at rest: still one pod.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if n := len(r.Pods(key)); n != 1 {
			t.Fatalf("%d pods at rest, want 1", n)
		}
		time.Sleep(50 * time.Millisecond) // sampling interval
	}
	mu.Lock()
	defer mu.Unlock()
	if minLive < 1 {
		t.Errorf("the revision had %d live pods at some point: the HPA class never scales to zero", minLive)
	}
	if maxLive > 3 {
		t.Errorf("%d live pods at some point, above max-scale 3", maxLive)
	}
}

// TestHPANeedsCPURequest: the cpu metric without resources.requests.cpu is an
// error naming the field, and starts nothing.
func TestHPANeedsCPURequest(t *testing.T) {
	r, _ := startRuntime(t, Options{})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	c, spec := hpaRevision(t, key.Name, "/nonexistent", "")
	if err := r.Apply(testRevision(key.Name, *c)); err != nil {
		t.Fatal(err)
	}
	err := r.SetHPA(key, spec)
	if err == nil || !strings.Contains(err.Error(), "spec.containers[0].resources.requests.cpu") {
		t.Fatalf("SetHPA without a CPU request = %v, want an error naming spec.containers[0].resources.requests.cpu", err)
	}
	if n := len(r.Pods(key)); n != 0 {
		t.Errorf("%d pods started", n)
	}
}

// TestReadGroupUsage: this process's own CPU time, read the HPA's way, grows
// while it burns, and its resident memory is not zero.
func TestReadGroupUsage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux's /proc only")
	}
	self := os.Getpid()
	before, err := readGroupUsage([]int{self})
	if err != nil {
		t.Fatal(err)
	}
	// Burn until the reading has grown by 50 ms of CPU (a loaded machine may
	// give this process little of a core), within a deadline.
	var after map[int]groupUsage
	for deadline := time.Now().Add(20 * time.Second); ; {
		for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
		}
		if after, err = readGroupUsage([]int{self, 1 << 30}); err != nil {
			t.Fatal(err)
		}
		if after[self].cpu-before[self].cpu >= 0.05 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU seconds grew by %v in 20 s of burning, want 0.05", after[self].cpu-before[self].cpu)
		}
	}
	if after[self].rss <= 0 {
		t.Errorf("rss %d, want > 0", after[self].rss)
	}
	if _, ok := after[1<<30]; ok {
		t.Error("a pid with no process has a usage")
	}
}
