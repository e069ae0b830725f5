package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/servekit/servekit/serving/config"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/controller/ocmetrics"
	"github.com/servekit/servekit/serving/platform"
)

// appEnv makes the test binary act as a pod's program (see appMain).
const appEnv = "SERVEKIT_E2E_APP"

// testImage is the image the tests' image map runs as this test binary.
const testImage = "servekit.test/app:1"

// controllerEnv makes the test binary act as the controller binary (dispatch with
// its arguments), for tests that run, kill and restart it as a process.
const controllerEnv = "SERVEKIT_E2E_CONTROLLER"

func TestMain(m *testing.M) {
	switch os.Getenv(appEnv) {
	case "":
	case "grpc":
		grpcAppMain()
		return
	default:
		appMain()
		return
	}
	if os.Getenv(controllerEnv) != "" {
		os.Exit(dispatch(os.Args[1:]))
	}
	// run's default --state-dir is under XDG_STATE_HOME: never the user's own.
	stateHome, err := os.MkdirTemp("", "servekit-state-home")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", stateHome)
	code := m.Run()
	os.RemoveAll(stateHome)
	if code == 0 {
		// OpenCensus starts its worker when the binary's views are registered;
		// it lives as long as the process, as in the real binary.
		if err := goleak.Find(goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// appMain is a pod program for the tests: it answers "Hello <TARGET>!" like
// helloworld, after sleeping for the request's ?sleep= duration.
func appMain() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		os.Exit(3)
	}
	if dir := os.Getenv("PIDDIR"); dir != "" {
		// Tells a test which processes are the apps (probes_test.go stops one).
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if serveStream(w, r) { // /ws and /sse
			return
		}
		if r.URL.Path == "/forwarded-proto" { // what tls_test.go checks
			fmt.Fprintf(w, "X-Forwarded-Proto: %s\n", r.Header.Get("X-Forwarded-Proto"))
			return
		}
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d) // the app's own work: what the autoscaler measures
		}
		fmt.Fprintf(w, "Hello %s!\n", os.Getenv("TARGET"))
	})}
	// HTTP/1.1 and h2c, as an app behind a revision whose port is named h2c must.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		<-c
		_ = srv.Shutdown(context.Background())
	}()
	_ = srv.Serve(ln)
	os.Exit(0)
}

// fastConfig makes scaling visible within seconds: the shortest stable window
// Knative allows (6s) and a 1s grace period.
const fastConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  stable-window: "6s"
  scale-to-zero-grace-period: "1s"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-features
data:
  tag-header-based-routing: "enabled"
`

// testPlatform is the whole platform running in this process on loopback.
type testPlatform struct {
	p         *platform.Platform
	dir       string // the manifests directory
	ingress   string // host:port
	admin     string // host:port
	client    *http.Client
	stopped   bool
	cancelRun context.CancelFunc
	done      chan error
}

func cacheDir(t testing.TB) string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "servekit", "bin")
	}
	return t.TempDir()
}

// startPlatform runs a platform on a temp manifests dir holding files, with the
// given config maps (YAML, "" for none).
func startPlatform(t testing.TB, files map[string]string, configYAML string) *testPlatform {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgDir := ""
	if configYAML != "" {
		cfgDir = t.TempDir()
		if err := os.WriteFile(filepath.Join(cfgDir, "config.yaml"), []byte(configYAML), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "imagemap.yaml")
	if err := os.WriteFile(mapFile, []byte(fmt.Sprintf("%s: [%q]\n", testImage, self)), 0o644); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if _, ok := t.(*testing.B); ok {
		logger = slog.New(slog.DiscardHandler) // a benchmark's log is always printed
	}
	cfg, err := config.LoadDir(cfgDir, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	imageMap, err := platform.LoadImageMap(mapFile)
	if err != nil {
		t.Fatal(err)
	}
	reporter := &ocmetrics.Reporter{}
	metrics, err := metricsHandler(reporter)
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.New(platform.Options{
		Manifests:      dir,
		ImageMap:       imageMap,
		Config:         &cfg,
		Listen:         "127.0.0.1:0",
		Admin:          "127.0.0.1:0",
		PollInterval:   50 * time.Millisecond,
		CacheDir:       cacheDir(t),
		Logger:         logger,
		DrainTimeout:   10 * time.Second,
		Reporter:       reporter,
		ActivatorHooks: activatorMetrics.Hooks(),
		Metrics:        metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testPlatform{
		p: p, dir: dir, ingress: p.IngressAddr().String(), admin: p.AdminAddr().String(),
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 200, MaxIdleConnsPerHost: 200, IdleConnTimeout: 5 * time.Second,
		}},
		cancelRun: cancel, done: make(chan error, 1),
	}
	go func() { tp.done <- p.Run(ctx) }()
	t.Cleanup(tp.shutdown)
	return tp
}

// shutdown stops the platform and waits for it (every pod stopped).
func (tp *testPlatform) shutdown() {
	if tp.stopped {
		return
	}
	tp.stopped = true
	tp.client.CloseIdleConnections()
	tp.cancelRun()
	<-tp.done
	tp.client.CloseIdleConnections()
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// get sends GET path with the given Host through the ingress.
func (tp *testPlatform) get(host, path string, hdr ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+tp.ingress+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := tp.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// status reads GET /status from the admin listener, as a user would.
func (tp *testPlatform) status(t testing.TB) controller.Status {
	t.Helper()
	st, err := tp.tryStatus()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tryStatus is status for goroutines other than the test's.
func (tp *testPlatform) tryStatus() (controller.Status, error) {
	var st controller.Status
	resp, err := tp.client.Get("http://" + tp.admin + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// waitStatus polls /status until cond holds or the deadline passes.
func (tp *testPlatform) waitStatus(t testing.TB, what string, d time.Duration, cond func(controller.Status) bool) controller.Status {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := tp.status(t)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("timed out after %v waiting for %s; last status:\n%s", d, what, b)
		}
		time.Sleep(50 * time.Millisecond) // poll interval of an observed condition
	}
}

// writeManifest writes (or replaces) a manifest file atomically.
func (tp *testPlatform) writeManifest(t testing.TB, name, body string) {
	t.Helper()
	tmp := filepath.Join(tp.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(tp.dir, name)); err != nil {
		t.Fatal(err)
	}
}

func service(st controller.Status, name string) *controller.ServiceStatus {
	for i := range st.Services {
		if st.Services[i].Name == name {
			return &st.Services[i]
		}
	}
	return nil
}

func revision(st controller.Status, svc, rev string) *controller.RevisionStatus {
	s := service(st, svc)
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

// serviceReady reports that svc is Ready with latestReady rev.
func serviceReady(svc, rev string) func(controller.Status) bool {
	return func(st controller.Status) bool {
		s := service(st, svc)
		return s != nil && s.Ready && s.LatestReadyRevisionName == rev
	}
}

// podsOf reports that rev has exactly n ready and n actual pods.
func podsOf(svc, rev string, n int) func(controller.Status) bool {
	return func(st controller.Status) bool {
		r := revision(st, svc, rev)
		return r != nil && r.ReadyPods == n && r.ActualPods == n
	}
}

// seedManifest reads the project's sample manifest.
func seedManifest(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../manifests/helloworld-go.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// appService is a Service running this test binary's app with a per-pod target of
// `target` concurrent requests.
func appService(name, targetEnv, target string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/target: "%s"
    spec:
      containers:
        - image: %s
          env:
            - name: %s
              value: "1"
            - name: TARGET
              value: "%s"
`, name, target, testImage, appEnv, targetEnv)
}
