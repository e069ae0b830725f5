package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/servekit/servekit/serving/controller"
)

// TestHungPodLeavesRotation: of a revision's two pods, one app hangs (SIGSTOP): its
// readiness probe takes it out of the ingress's and the activator's rotation within
// failureThreshold × periodSeconds + one period, /status shows why, every new
// request through the ingress is answered by the other pod, and its liveness probe
// restarts it (issue 12).
func TestHungPodLeavesRotation(t *testing.T) {
	pids := t.TempDir()
	manifest := fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hang
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "2"
    spec:
      containers:
        - image: %s
          env:
            - name: %s
              value: "1"
            - name: TARGET
              value: "Hang"
            - name: PIDDIR
              value: %q
          readinessProbe:
            httpGet: {path: /healthz}
            periodSeconds: 1
            failureThreshold: 3
          livenessProbe:
            httpGet: {path: /healthz}
            periodSeconds: 1
            failureThreshold: 5
            terminationGracePeriodSeconds: 1
`, testImage, appEnv, pids)
	tp := startPlatform(t, map[string]string{"hang.yaml": manifest}, "")
	tp.waitStatus(t, "2 ready pods", time.Minute, podsOf("hang", "hang-00001", 2))
	entries, err := os.ReadDir(pids)
	if err != nil || len(entries) != 2 {
		t.Fatalf("app pid files: %v %v, want 2", entries, err)
	}
	pid, err := strconv.Atoi(entries[0].Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	hungAt := time.Now()
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })

	st := tp.waitStatus(t, "the hung pod out of rotation", 30*time.Second, func(st controller.Status) bool {
		r := revision(st, "hang", "hang-00001")
		return r != nil && r.ReadyPods == 1
	})
	out := time.Since(hungAt)
	t.Logf("hung app out of rotation (in /status) after %v", out)
	if limit := 3*time.Second + time.Second + time.Second; out > limit {
		t.Errorf("out of rotation after %v, want within 3 × 1s + 1s (+1s for the status poll and a loaded machine)", out)
	}
	var notReady *controller.PodStatus
	for _, p := range revision(st, "hang", "hang-00001").Pods {
		if !p.Ready {
			notReady = &p
		}
	}
	if notReady == nil || notReady.LastProbeFailure == nil || notReady.Reason == "" {
		t.Errorf("pods = %+v, want the hung one with a reason and its last probe failure", revision(st, "hang", "hang-00001").Pods)
	}

	// New requests: all answered, by the pod in rotation.
	var bad atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				code, body, err := tp.get("hang.default.example.com", "/")
				if err != nil || code != http.StatusOK || body != "Hello Hang!\n" {
					bad.Add(1)
					first.CompareAndSwap(nil, []any{code, body, err})
				}
			}
		})
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Errorf("%d of 100 new requests failed while one app hung; first: %v", n, first.Load())
	}

	st = tp.waitStatus(t, "the hung app restarted by liveness, both pods ready", time.Minute, func(st controller.Status) bool {
		r := revision(st, "hang", "hang-00001")
		return r != nil && r.ReadyPods == 2 && r.Restarts == 1
	})
	if r := revision(st, "hang", "hang-00001"); !strings.Contains(r.LastExit, "liveness probe failed") {
		t.Errorf("last exit = %q, want the liveness probe's", r.LastExit)
	}
}
