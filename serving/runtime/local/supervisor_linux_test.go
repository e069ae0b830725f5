//go:build linux

package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// controllerEnv makes the test binary act as a controller (see controllerMain):
// a process the test can kill with SIGKILL.
const controllerEnv = "SERVEKIT_LOCAL_TEST_CONTROLLER"

func init() {
	if pidFile, ok := os.LookupEnv(controllerEnv); ok {
		controllerMain(pidFile)
		os.Exit(0)
	}
}

// wrappedSleep is a pod started through a shell wrapper: the shell forks sleep,
// writes its pid to $PIDFILE and waits, as `sh -c "app ..."` does.
const wrappedSleep = `sleep 300 & echo $! > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; wait`

// controllerMain runs a Runtime with one wrappedSleep pod until it is killed.
func controllerMain(pidFile string) {
	r, err := New(Options{NewFront: newTestFront, BaseEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		os.Exit(7)
	}
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	c := corev1.Container{Image: "test", Command: []string{"/bin/sh", "-c", wrappedSleep},
		Env: []corev1.EnvVar{{Name: "PIDFILE", Value: pidFile}}}
	if err := r.Apply(testRevision(key.Name, c)); err != nil {
		os.Exit(8)
	}
	if err := r.Scale(key, 1); err != nil {
		os.Exit(9)
	}
	_ = r.Run(context.Background(), nil) // until killed
}

// readPid waits for a pid file and returns its pid.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, "the pod's pid file", 30*time.Second, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// kill -9 of the controller kills what its pods' wrappers started (issue 17): before,
// the parent-death signal killed only the shell and sleep lived on under PID 1.
func TestControllerKillKillsWrappedApp(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctl := exec.Command(self, "-test.run=^$")
	ctl.Env = append(os.Environ(), controllerEnv+"="+pidFile)
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	sleepPid := readPid(t, pidFile)
	t.Cleanup(func() { _ = syscall.Kill(sleepPid, syscall.SIGKILL) }) // on failure
	if processGone(sleepPid) {
		t.Fatalf("sleep %d not running while the controller runs", sleepPid)
	}
	if err := ctl.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = ctl.Wait()
	waitFor(t, "the wrapped app to be gone", 10*time.Second, func() bool { return processGone(sleepPid) })
}
