//go:build unix

package manifests

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/servekit/servekit/serving/v1"
)

// within fails the test unless f returns within d; it returns f's result.
func within[T any](t *testing.T, what string, d time.Duration, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		panic("unreachable")
	}
}

// waitFor waits until cond holds, failing the test after d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A FIFO, a socket or a device in the manifests directory (or a symbolic link to
// one) is rejected once and skipped, without blocking the scan: the other files
// keep being applied, and Run stops when its context is done (issue 17, case 3).
func TestWatcherSkipsNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("good.yaml", route)
	symlink("good.yaml", "link.yaml") // a link to a regular file is read
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlink("pipe.yaml", "pipe-link.yaml")
	symlink("/dev/null", "null.yaml")
	ln, err := net.Listen("unix", filepath.Join(dir, "sock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	f := &fakeApplier{}
	w := NewWatcher(dir, f, nil, time.Millisecond)
	within(t, "the first Scan", 10*time.Second, func() bool { w.Scan(); return true })
	within(t, "the second Scan", 10*time.Second, func() bool { w.Scan(); return true })
	p := func(name string) string { return filepath.Join(dir, name) }
	want := []string{
		"apply good.yaml r",
		"apply link.yaml r",
		"reject null.yaml: " + p("null.yaml") + ": not a regular file: a character device",
		"reject pipe-link.yaml: " + p("pipe-link.yaml") + ": not a regular file: a named pipe (FIFO)",
		"reject pipe.yaml: " + p("pipe.yaml") + ": not a regular file: a named pipe (FIFO)",
		"reject sock.yaml: " + p("sock.yaml") + ": not a regular file: a socket",
	}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("calls of two scans (-want +got):\n%s", diff)
	}

	// Run keeps applying the other files' changes, and stops on cancel.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	write("good.yaml", strings.Replace(route, "name: r", "name: r2", 1))
	waitFor(t, "the change of good.yaml applied", 10*time.Second, func() bool { return f.held("good.yaml") == "r2" })
	cancel()
	if err := within(t, "Run after cancel", 10*time.Second, func() error { return <-done }); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	for _, c := range f.takeCalls() {
		if strings.HasPrefix(c, "reject") {
			t.Errorf("rejected again: %s", c)
		}
	}
}

// ValidateFile refuses a FIFO at once instead of waiting for a writer.
func TestValidateFileFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	problems := within(t, "ValidateFile", 10*time.Second, func() []string {
		_, problems := ValidateFile(fifo, v1.StockDefaults())
		return problems
	})
	if diff := cmp.Diff([]string{fifo + ": not a regular file: a named pipe (FIFO)"}, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// A file that cannot be read is reported once per change of its error, not at
// every scan (issue 17, case 10); when it is readable again with the content it
// had, it is applied again (which clears the error in the applier's status).
func TestWatcherReportsUnreadableOnce(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.data")
	if err := os.WriteFile(good, []byte(route), 0o644); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(dir, "a.yaml")
	relink := func(target string) {
		t.Helper()
		_ = os.Remove(a)
		if err := os.Symlink(target, a); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeApplier{}
	w := NewWatcher(dir, f, nil, 0)
	scan := func(want ...string) {
		t.Helper()
		for range 3 {
			w.Scan()
		}
		if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
			t.Errorf("calls of three scans (-want +got):\n%s", diff)
		}
	}
	relink(good)
	scan("apply a.yaml r")
	relink(filepath.Join(dir, "gone"))
	scan("reject a.yaml: open " + a + ": no such file or directory")
	relink("a.yaml") // a loop: another error
	scan("reject a.yaml: open " + a + ": too many levels of symbolic links")
	if got := f.held("a.yaml"); got != "r" {
		t.Errorf("objects of a.yaml = %q, want r (kept)", got)
	}
	relink(good) // the same content as applied: applied again, to clear the error
	scan("apply a.yaml r")
}
