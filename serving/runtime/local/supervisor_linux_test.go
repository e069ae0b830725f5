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
// a process the test can kill with SIGKILL. wrapperEnv, if set, is the pod's shell
// script instead of wrappedSleep.
const (
	controllerEnv = "SERVEKIT_LOCAL_TEST_CONTROLLER"
	wrapperEnv    = "SERVEKIT_LOCAL_TEST_WRAPPER"
)

func init() {
	if pidFile, ok := os.LookupEnv(controllerEnv); ok {
		controllerMain(pidFile)
		os.Exit(0)
	}
}

// wrappedSleep is a pod started through a shell wrapper: the shell forks sleep,
// writes its pid to $PIDFILE and waits, as `sh -c "app ..."` does.
const wrappedSleep = `sleep 300 & echo $! > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; wait`

// setsidSleep is wrappedSleep whose sleep leaves the pod's process group and
// session (setsid), as a daemon does: group signals no longer reach it.
const setsidSleep = `setsid sleep 300 & echo $! > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; wait`

// controllerMain runs a Runtime with one wrappedSleep pod until it is killed.
func controllerMain(pidFile string) {
	r, err := New(Options{NewFront: newTestFront, BaseEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		os.Exit(7)
	}
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	script := wrappedSleep
	if s := os.Getenv(wrapperEnv); s != "" {
		script = s
	}
	c := corev1.Container{Image: "test", Command: []string{"/bin/sh", "-c", script},
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
// the parent-death signal killed only the shell and sleep lived on under PID 1. An
// app that left the pod's process group and session (setsid) goes too: the
// supervisor is its subreaper and kills every descendant.
func TestControllerKillKillsWrappedApp(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, script string }{{"in the group", wrappedSleep}, {"setsid", setsidSleep}} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			ctl := exec.Command(self, "-test.run=^$")
			ctl.Env = append(os.Environ(), controllerEnv+"="+pidFile, wrapperEnv+"="+tc.script, "XDG_CACHE_HOME="+t.TempDir())
			if err := ctl.Start(); err != nil {
				t.Fatal(err)
			}
			sleepPid := readPid(t, pidFile)
			t.Cleanup(func() { _ = syscall.Kill(sleepPid, syscall.SIGKILL) }) // on failure
			if processGone(sleepPid) {
				t.Fatalf("sleep %d not running while the controller runs", sleepPid)
			}
			if tc.script == setsidSleep {
				waitFor(t, "sleep in its own session", 10*time.Second, func() bool {
					return sessionOf(sleepPid) == sleepPid
				})
			}
			if err := ctl.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = ctl.Wait()
			waitFor(t, "the wrapped app to be gone", 10*time.Second, func() bool { return processGone(sleepPid) })
		})
	}
}

// A pod that stops (scale to zero, here) takes with it what its program started,
// even what left its process group (setsid): before, sleep lived on under PID 1.
func TestPodStopKillsSetsidApp(t *testing.T) {
	r, _ := startRuntime(t, Options{NewFront: newTestFront, BaseEnv: []string{"PATH=" + os.Getenv("PATH")}, TerminationGrace: time.Second})
	key := types.NamespacedName{Namespace: "default", Name: "svc-00001"}
	for _, tc := range []struct {
		name, script string
	}{
		// The shell dies of the group's SIGTERM; sleep gets it from the supervisor.
		{"sigterm", setsidSleep},
		// The shell ignores SIGTERM: the runtime kills everything after the grace.
		{"ignores sigterm", `trap "" TERM; ` + setsidSleep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			c := corev1.Container{Image: "test", Command: []string{"/bin/sh", "-c", tc.script},
				Env: []corev1.EnvVar{{Name: "PIDFILE", Value: pidFile}}}
			if err := r.Apply(testRevision(key.Name, c)); err != nil {
				t.Fatal(err)
			}
			if err := r.Scale(key, 1); err != nil {
				t.Fatal(err)
			}
			sleepPid := readPid(t, pidFile)
			t.Cleanup(func() { _ = syscall.Kill(sleepPid, syscall.SIGKILL) }) // on failure
			waitFor(t, "sleep in its own session", 10*time.Second, func() bool {
				return sessionOf(sleepPid) == sleepPid
			})
			if err := r.Delete(key); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the pod gone", 30*time.Second, func() bool { return len(r.Pods(key)) == 0 })
			waitFor(t, "sleep gone with its pod", 10*time.Second, func() bool { return processGone(sleepPid) })
		})
	}
}

// processGroup returns the process group of pid.
func processGroup(t *testing.T, pid int) int {
	t.Helper()
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	return pgid
}

// A runtime that starts after one that died with its pod supervisors (so nothing
// killed their groups) stops what they left running (issue 17).
func TestRestartedRuntimeStopsSurvivors(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctl := exec.Command(self, "-test.run=^$")
	ctl.Env = append(os.Environ(), controllerEnv+"="+pidFile, "XDG_CACHE_HOME="+state)
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	sleepPid := readPid(t, pidFile)
	t.Cleanup(func() { _ = syscall.Kill(sleepPid, syscall.SIGKILL) }) // on failure
	supervisor := processGroup(t, sleepPid)
	if supervisor == ctl.Process.Pid || supervisor == sleepPid {
		t.Fatalf("sleep %d is in group %d, want its pod's own group", sleepPid, supervisor)
	}
	// Freeze the controller so it cannot stop the pod, kill the pod's supervisor
	// (the shell dies with it), then the controller: sleep is left behind.
	if err := ctl.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(supervisor, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = ctl.Wait()
	if processGone(sleepPid) {
		t.Fatalf("sleep %d gone before the restart: nothing left to clean up", sleepPid)
	}

	t.Setenv("XDG_CACHE_HOME", state)
	startRuntime(t, Options{})
	waitFor(t, "the survivor to be stopped", 10*time.Second, func() bool { return processGone(sleepPid) })
	waitFor(t, "its record to be removed", 10*time.Second, func() bool {
		left, err := os.ReadDir(filepath.Join(state, "servekit", "pods"))
		return err == nil && len(left) == 0
	})
}

// Records of a runtime that still runs, and of a group whose leader's pid now
// belongs to another process, are not acted on.
func TestStopSurvivorsSparesLiveOwnersAndReusedPids(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", state)
	dir := filepath.Join(state, "servekit", "pods")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		c := exec.Command("sleep", "300")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		return c
	}
	owned, reused, orphan := start(), start(), start()
	write := func(name string, rec podRecord) {
		if err := os.WriteFile(filepath.Join(dir, name), rec.marshal(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	deadOwner := podRecord{boot: bootID(), owner: os.Getpid(), ownerStart: "1", pod: "p"}
	live := podRecord{boot: bootID(), owner: os.Getpid(), ownerStart: selfStart(), leader: owned.Process.Pid, leaderStart: startTime(owned.Process.Pid), pod: "p"}
	write("owned", live)
	rec := deadOwner
	rec.leader, rec.leaderStart = reused.Process.Pid, "1" // not the recorded process
	write("reused", rec)
	rec.leader, rec.leaderStart = orphan.Process.Pid, startTime(orphan.Process.Pid)
	write("orphan", rec)

	r, err := New(Options{NewFront: newTestFront})
	if err != nil {
		t.Fatal(err)
	}
	r.stopSurvivors()
	waitFor(t, "the orphan to be stopped", 10*time.Second, func() bool {
		return orphan.ProcessState != nil || processGone(orphan.Process.Pid)
	})
	if processGone(owned.Process.Pid) || processGone(reused.Process.Pid) {
		t.Errorf("stopped a group it does not own: owned gone %v, reused gone %v",
			processGone(owned.Process.Pid), processGone(reused.Process.Pid))
	}
	var names []string
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "owned" {
		t.Errorf("records left = %v, want only the live runtime's [owned]", names)
	}
}

// The supervisor is transparent: a pod's process ends as its program did, so the
// pod reports the same last exit as the program run directly, and the supervisor
// adds nothing to the pod's log.
func TestSupervisorExitsAsTheProgram(t *testing.T) {
	tests := []struct{ name, script string }{
		{"status", "exit 3"},
		{"SIGTERM", "kill -TERM $$"},
		{"SIGQUIT", "kill -QUIT $$"},
		{"SIGSEGV", "kill -SEGV $$"},
		{"SIGPIPE", "kill -PIPE $$"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			direct := exec.Command("/bin/sh", "-c", tc.script).Run()
			if direct == nil {
				t.Fatal("the program exited with status 0")
			}
			want := strings.TrimSuffix(direct.Error(), " (core dumped)")
			var log syncBuffer
			r, _ := startRuntime(t, Options{Output: &log, RestartBackoff: time.Hour})
			key := types.NamespacedName{Namespace: "default", Name: "svc-0000" + strconv.Itoa(i+1)}
			c := corev1.Container{Image: "test", Command: []string{"/bin/sh", "-c", tc.script}}
			if err := r.Apply(testRevision(key.Name, c)); err != nil {
				t.Fatal(err)
			}
			if err := r.Scale(key, 1); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the exit", 10*time.Second, func() bool {
				p := r.Pods(key)
				return len(p) == 1 && p[0].LastExit != ""
			})
			if got := strings.TrimSuffix(r.Pods(key)[0].LastExit, " (core dumped)"); got != want {
				t.Errorf("LastExit = %q, want %q as run directly", got, want)
			}
			if s := log.String(); s != "" {
				t.Errorf("pod log = %q, want empty", s)
			}
		})
	}
}

// sessionOf returns pid's session (field 6 of /proc/<pid>/stat), or 0.
func sessionOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 {
		return 0
	}
	sid, _ := strconv.Atoi(f[3])
	return sid
}
