package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBinaryRunsAnywhere: the built controller, copied into an empty directory and
// run there with no go command on PATH and an empty cache directory, serves the seed:
// the sample app runs from the controller binary itself (controller sample
// helloworld), not from a go build in the source tree.
func TestBinaryRunsAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the controller")
	}
	bin := buildBinary(t, t.TempDir(), "controller")
	dir := t.TempDir()
	exe := filepath.Join(dir, "controller")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("../manifests/helloworld-go.yaml")
	if err != nil {
		t.Fatal(err)
	}
	manifests := filepath.Join(dir, "manifests")
	if err := os.Mkdir(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(manifests, "seed.yaml"), seed, 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "--manifests", "manifests", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/nonexistent", "HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache")}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	var logs strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		re := regexp.MustCompile(`ingress=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	var ingress string
	select {
	case ingress = <-addr:
	case <-time.After(60 * time.Second):
		cancel()
		<-logDone
		t.Fatalf("no ingress address logged:\n%s", logs.String())
	}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ingress+"/", nil)
		req.Host = "helloworld-go.default.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if resp.StatusCode == http.StatusOK && last == "Hello World!\n" {
				break
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			cancel()
			<-logDone
			t.Fatalf("seed never answered Hello World! (last %q):\n%s", last, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-logDone
	// Wait reports the cancellation itself; what matters is a clean exit on SIGINT.
	if err := cmd.Wait(); err != nil && !errors.Is(err, context.Canceled) || cmd.ProcessState.ExitCode() != 0 ||
		!strings.Contains(logs.String(), "servekit: stopped") {
		t.Errorf("controller exit: %v (status %d)\n%s", err, cmd.ProcessState.ExitCode(), logs.String())
	}
	if strings.Contains(logs.String(), "go build") || strings.Contains(logs.String(), "go command") {
		t.Errorf("the controller tried to build the sample:\n%s", logs.String())
	}
}
