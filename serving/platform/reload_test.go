package platform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/platform"
)

// appEnv makes the test binary act as a pod's program (see appMain): its value is
// the mode, the program's arguments (from the image map) its answer.
const appEnv = "SERVEKIT_PLATFORM_TEST_APP"

// appMain is the pod program of TestReloadWhileRunning: in mode "serve" it answers
// every request with its arguments; in mode "hang" it never listens (never ready).
func appMain(mode string, args []string) {
	if mode == "hang" {
		for {
			time.Sleep(time.Hour)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		os.Exit(6)
	}
	answer := strings.Join(args, " ") + "\n"
	srv := &http.Server{ReadHeaderTimeout: time.Second, IdleTimeout: time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, answer) })}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		_ = srv.Shutdown(context.Background())
	}()
	_ = srv.Serve(ln)
	os.Exit(0)
}

// service is a Service manifest of the test app: mode is its appEnv, version an
// env var that makes a new revision, traffic its spec.traffic YAML ("" for none).
func service(name, mode, version, traffic string) string {
	return serviceOf(name, "example.test/app", mode, version, traffic)
}

// serviceOf is service with another image.
func serviceOf(name, image, mode, version, traffic string) string {
	s := fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
spec:
  template:
    spec:
      containers:
      - image: %s
        env:
        - name: %s
          value: %s
        - name: VERSION
          value: "%s"
`, name, image, appEnv, mode, version)
	if traffic != "" {
		s += "  traffic:\n" + traffic
	}
	return s
}

// configMap returns a ConfigMap document.
func configMap(name string, kv ...string) string {
	s := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n"
	for i := 0; i+1 < len(kv); i += 2 {
		s += "  " + kv[i] + ": \"" + kv[i+1] + "\"\n"
	}
	return s
}

// reloadClient drives a running platform through its public API.
type reloadClient struct {
	t *testing.T
	p *platform.Platform
	c *http.Client
}

func (c reloadClient) write(path, content string) {
	c.t.Helper()
	// Written aside and renamed, as an editor's atomic save: the watchers never
	// see half a file here (TestWatcherKeepsLastGood covers that case).
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		c.t.Fatal(err)
	}
}

// get returns the status code and body of GET / on the ingress with host and, if
// not "", the tag header.
func (c reloadClient) get(host, tag string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.p.IngressAddr().String()+"/", nil)
	req.Host = host
	if tag != "" {
		req.Header.Set("Knative-Serving-Tag", tag)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (c reloadClient) status() controller.Status {
	c.t.Helper()
	resp, err := c.c.Get("http://" + c.p.AdminAddr().String() + "/status")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st controller.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		c.t.Fatal(err)
	}
	return st
}

// waitFor polls cond until it holds, failing the test after 30 s.
func (c reloadClient) waitFor(what string, cond func() bool) {
	c.t.Helper()
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s; last /status: %+v", what, c.status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond)) // the reload latency, poll 20 ms
}

func findService(st controller.Status, name string) *controller.ServiceStatus {
	for i := range st.Services {
		if st.Services[i].Name == name {
			return &st.Services[i]
		}
	}
	return nil
}

func findRevision(st controller.Status, svc, rev string) *controller.RevisionStatus {
	s := findService(st, svc)
	if s == nil {
		return nil
	}
	for i := range s.Revisions {
		if s.Revisions[i].Name == rev {
			return &s.Revisions[i]
		}
	}
	return nil
}

// sourceError returns the error /status lists for the file named base, or "".
func sourceError(st controller.Status, base string) string {
	for _, e := range st.Errors {
		if filepath.Base(e.Source) == base {
			return e.Error
		}
	}
	return ""
}

// TestReloadWhileRunning changes each config map, and the image map, while the
// platform runs and observes the effect through the ingress and /status: no
// restart, the last good config kept while a file is bad, the error listed until
// it is fixed.
func TestReloadWhileRunning(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	cfgDir, manDir := filepath.Join(base, "config"), filepath.Join(base, "manifests")
	for _, d := range []string{cfgDir, manDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	imageMap := filepath.Join(base, "imagemap.yaml")
	c := reloadClient{t: t, c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}}
	defer c.c.CloseIdleConnections()
	c.write(imageMap, fmt.Sprintf("example.test/app: [%q, one]\n", exe))
	autoscalerFile := filepath.Join(cfgDir, "autoscaler.yaml")
	c.write(autoscalerFile, configMap("config-autoscaler", "stable-window", "60s"))
	helloFile := filepath.Join(manDir, "hello.yaml")
	c.write(helloFile, service("hello", "serve", "1", ""))
	c.write(filepath.Join(manDir, "stuck.yaml"), service("stuck", "hang", "1", ""))
	c.write(filepath.Join(manDir, "later.yaml"), serviceOf("later", "example.test/later", "serve", "1", ""))

	p, err := platform.New(platform.Options{
		Manifests: manDir, ConfigDir: cfgDir, ImageMapFile: imageMap, PollInterval: 20 * time.Millisecond,
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", MaxPods: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.p = p
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	c.waitFor("hello to answer one", func() bool {
		code, body := c.get("hello.default.example.com", "")
		return code == http.StatusOK && body == "one\n"
	})

	// config-autoscaler: min-scale applies to the running revision.
	c.write(autoscalerFile, configMap("config-autoscaler", "stable-window", "60s", "min-scale", "2"))
	c.waitFor("hello-00001 at min-scale 2", func() bool {
		r := findRevision(c.status(), "hello", "hello-00001")
		return r != nil && r.DesiredScale == 2 && r.ReadyPods == 2
	})
	// A bad value: the error names the file and the key; fixed, it goes.
	c.write(autoscalerFile, configMap("config-autoscaler", "stable-window", "2s", "min-scale", "3"))
	c.waitFor("the autoscaler file's error in /status", func() bool {
		return strings.Contains(sourceError(c.status(), "autoscaler.yaml"), "stable-window")
	})
	c.write(autoscalerFile, configMap("config-autoscaler", "stable-window", "60s", "min-scale", "2"))
	c.waitFor("the autoscaler file's error to clear", func() bool { return sourceError(c.status(), "autoscaler.yaml") == "" })
	if r := findRevision(c.status(), "hello", "hello-00001"); r == nil || r.DesiredScale != 2 {
		t.Errorf("hello-00001 after the bad file and its fix: %+v, want desiredScale 2", r)
	}

	// The image map: a bad version is listed and keeps the last good map; the new
	// one applies to new revisions only, the running pods are not restarted.
	c.write(imageMap, "")
	c.waitFor("the emptied image map's error in /status", func() bool {
		return strings.Contains(sourceError(c.status(), "imagemap.yaml"), "empty")
	})
	c.write(imageMap, "example.test/app: []\n")
	c.waitFor("the image map's error in /status", func() bool {
		return strings.Contains(sourceError(c.status(), "imagemap.yaml"), `"example.test/app"`)
	})
	if r := findRevision(c.status(), "later", "later-00001"); r == nil || !strings.Contains(r.Message, "not in the image map") {
		t.Errorf("later-00001 before its image is mapped: %+v, want its message to say so", r)
	}
	c.write(imageMap, fmt.Sprintf("example.test/app: [%q, two]\nexample.test/later: [%q, three]\n", exe, exe))
	c.waitFor("the image map's error to clear", func() bool { return sourceError(c.status(), "imagemap.yaml") == "" })
	// The revision refused for want of a mapping runs now, as a pod whose image
	// pull failed starts once the image is there.
	c.waitFor("later to answer three", func() bool {
		code, body := c.get("later.default.example.com", "")
		return code == http.StatusOK && body == "three\n"
	})
	if code, body := c.get("hello.default.example.com", ""); code != http.StatusOK || body != "one\n" {
		t.Errorf("hello after the image map changed = %d %q, want the running revision's one", code, body)
	}
	if r := findRevision(c.status(), "hello", "hello-00001"); r == nil || r.Restarts != 0 || r.ActualPods != 2 {
		t.Errorf("hello-00001 after the image map changed: %+v, want its 2 pods, not restarted", r)
	}
	c.write(helloFile, service("hello", "serve", "2", `  - latestRevision: true
    percent: 100
  - revisionName: hello-00001
    percent: 0
    tag: old
`))
	c.waitFor("hello-00002 (new mapping) to answer two", func() bool {
		code, body := c.get("hello.default.example.com", "")
		return code == http.StatusOK && body == "two\n"
	})

	// config-features: the tag header picks the tagged revision once enabled.
	if _, body := c.get("hello.default.example.com", "old"); body != "two\n" {
		t.Errorf("tag header before tag-header-based-routing = %q, want two (ignored)", body)
	}
	c.write(filepath.Join(cfgDir, "features.yaml"), configMap("config-features", "tag-header-based-routing", "enabled"))
	c.waitFor("the tag header to pick hello-00001", func() bool {
		_, body := c.get("hello.default.example.com", "old")
		return body == "one\n"
	})

	// config-gc: hello-00001, no longer routed, is kept by the defaults (48 h),
	// collected once config-gc keeps no non-active revision.
	c.write(helloFile, service("hello", "serve", "2", ""))
	c.waitFor("hello's traffic without hello-00001", func() bool {
		s := findService(c.status(), "hello")
		return s != nil && len(s.Traffic) == 1 && s.Traffic[0].RevisionName == "hello-00002"
	})
	if findRevision(c.status(), "hello", "hello-00001") == nil {
		t.Fatal("hello-00001 collected under the default config-gc")
	}
	c.write(filepath.Join(cfgDir, "gc.yaml"), configMap("config-gc", "retain-since-create-time", "0s",
		"retain-since-last-active-time", "0s", "min-non-active-revisions", "0", "max-non-active-revisions", "0"))
	c.waitFor("hello-00001 collected", func() bool { return findRevision(c.status(), "hello", "hello-00001") == nil })

	// config-domain and config-network: the URL and the host the ingress answers.
	c.write(filepath.Join(cfgDir, "network.yaml"), configMap("config-domain", "example.org", "")+"---\n"+
		configMap("config-network", "domain-template", "{{.Name}}-{{.Namespace}}.{{.Domain}}"))
	c.waitFor("hello's URL on example.org", func() bool {
		s := findService(c.status(), "hello")
		return s != nil && s.URL == "http://hello-default.example.org"
	})
	if code, body := c.get("hello-default.example.org", ""); code != http.StatusOK || body != "two\n" {
		t.Errorf("the new host = %d %q, want 200 two", code, body)
	}
	if code, _ := c.get("hello.default.example.com", ""); code != http.StatusNotFound {
		t.Errorf("the old host = %d, want 404", code)
	}

	// config-deployment: a shorter progress deadline fails the revision that never
	// became ready (600 s by default).
	if r := findRevision(c.status(), "stuck", "stuck-00001"); r == nil || r.Reason == "ProgressDeadlineExceeded" {
		t.Fatalf("stuck-00001 before config-deployment: %+v, want it still deploying", r)
	}
	c.write(filepath.Join(cfgDir, "deployment.yaml"), configMap("config-deployment", "progress-deadline", "1s"))
	c.waitFor("stuck-00001 to fail its progress deadline", func() bool {
		r := findRevision(c.status(), "stuck", "stuck-00001")
		return r != nil && r.Reason == "ProgressDeadlineExceeded"
	})
}
