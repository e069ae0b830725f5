// Command bench measures servekit's data path against its baselines, side by side
// and alternating, on loopback, and prints a markdown table with ratios:
//
//   - the queue proxy: a trivial app reached directly, through a bare
//     httputil.ReverseProxy, through servekit's queue proxy (examples/queue-proxy) and,
//     when KNATIVE_QUEUE_PROXY names a binary of Knative's queue-proxy, through
//     Knative's, at each concurrency and containerConcurrency asked for;
//   - the platform: examples/controller on the local runtime, ingress → queue proxy →
//     app (the activator out of the path) and ingress → activator → queue proxy → app
//     (target-burst-capacity -1), each next to a chain of bare reverse proxies with the
//     same number of hops.
//
// Every round runs each target once, in an order that rotates from round to round, so
// that drifts in a shared machine's load hit all targets alike; the table reports the
// median of the rounds. Load comes from wrk, installed with apt-get when it is missing
// and bench runs as root. Only loopback addresses are used.
//
// Usage:
//
//	go run ./hack/bench [-d 5s] [-rounds 3] [-c 10,100] [-cc 0,10] [-only queue|platform]
//
// The same binary is the app (`bench app`, on $PORT) and the bare proxy (`bench proxy
// -addr A -target URL`), so a run needs nothing but Go and wrk. See docs/performance.md.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "app":
			serveApp()
			return
		case "proxy":
			serveProxy(os.Args[2:])
			return
		}
	}
	dur := flag.Duration("d", 5*time.Second, "duration of each wrk run")
	rounds := flag.Int("rounds", 3, "alternating rounds per row (the table shows medians)")
	concs := flag.String("c", "10,100", "client concurrencies (wrk connections), comma-separated")
	ccs := flag.String("cc", "0,10", "containerConcurrency values for the queue proxy section")
	only := flag.String("only", "", `run one section: "queue" or "platform"`)
	flag.Parse()

	cs, err := parseInts(*concs)
	if err != nil {
		log.Fatalf("-c: %v", err)
	}
	ccv, err := parseInts(*ccs)
	if err != nil {
		log.Fatalf("-cc: %v", err)
	}
	if *rounds < 1 {
		log.Fatal("-rounds: must be at least 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBench(ctx, *dur, *rounds)
	if err != nil {
		log.Fatal(err)
	}
	defer b.close()

	fmt.Printf("# hack/bench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Printf("%s, %d CPUs, %s; wrk runs of %s, %d alternating rounds, medians.\n\n",
		machine(), runtime.NumCPU(), runtime.Version(), *dur, *rounds)
	if *only == "" || *only == "queue" {
		for _, cc := range ccv {
			if err := b.queueSection(cc, cs); err != nil {
				log.Fatal(err)
			}
		}
	}
	if *only == "" || *only == "platform" {
		if err := b.platformSection(cs); err != nil {
			log.Fatal(err)
		}
	}
}

// serveApp is the user container: a short body for every request, on $PORT (the
// local runtime's contract) or 127.0.0.1:8080.
func serveApp() {
	port := cmp.Or(os.Getenv("PORT"), "8080")
	srv := &http.Server{
		Addr:              "127.0.0.1:" + port,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "hello from the app\n")
		}),
	}
	log.Fatal(srv.ListenAndServe())
}

// serveProxy is the bare baseline: httputil.ReverseProxy with a transport whose idle
// pool holds as many connections as wrk opens (the default of 2 per host would
// measure connection churn, not proxying).
func serveProxy(args []string) {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	target := fs.String("target", "", "upstream URL")
	fs.Parse(args)
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		log.Fatalf("proxy: -target %q: not a URL", *target)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = 1000
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = tr
	srv := &http.Server{Addr: *addr, Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	log.Fatal(srv.ListenAndServe())
}

type bench struct {
	ctx    context.Context
	dur    time.Duration
	rounds int
	tmp    string
	self   string
	procs  []*exec.Cmd
}

func newBench(ctx context.Context, dur time.Duration, rounds int) (*bench, error) {
	if err := ensureWrk(); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "servekit-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{ctx: ctx, dur: dur, rounds: rounds, tmp: tmp, self: self}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	for _, pkg := range []string{"queue-proxy", "controller"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(tmp, pkg), "./examples/"+pkg)
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			b.close()
			return nil, fmt.Errorf("go build ./examples/%s: %w", pkg, err)
		}
	}
	return b, nil
}

func (b *bench) close() {
	b.stopAll()
	os.RemoveAll(b.tmp)
}

func (b *bench) stopAll() {
	for _, c := range b.procs {
		c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range b.procs {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
	b.procs = nil
}

// start runs a child process with the given environment (added to a minimal one)
// and returns it; its output goes to a log file in the temporary directory.
func (b *bench) start(name string, env []string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(filepath.Join(b.tmp, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	f.Close()
	b.procs = append(b.procs, cmd)
	return cmd, nil
}

// target is one thing wrk loads.
type target struct {
	name string
	url  string
	host string // Host header, for the platform's ingress
	proc *exec.Cmd
}

// result is one wrk run.
type result struct{ rps, p50, p99 float64 }

func (b *bench) queueSection(cc int, concs []int) error {
	defer b.stopAll()
	app, appPort, err := b.startApp("app-cc" + strconv.Itoa(cc))
	if err != nil {
		return err
	}
	bare, barePort, err := b.startProxy("bare-cc"+strconv.Itoa(cc), appPort)
	if err != nil {
		return err
	}
	qpPort, admin, metricsPort := freePort(), freePort(), freePort()
	qp, err := b.start("queue-proxy-cc"+strconv.Itoa(cc), []string{
		"CONTAINER_CONCURRENCY=" + strconv.Itoa(cc), "QUEUE_SERVING_PORT=" + qpPort, "USER_PORT=" + appPort,
		"REVISION_TIMEOUT_SECONDS=300", "QUEUE_ADMIN_PORT=" + admin, "QUEUE_METRICS_PORT=" + metricsPort,
		"SERVEKIT_SERVING_HOST=127.0.0.1", "SERVING_POD=bench",
	}, filepath.Join(b.tmp, "queue-proxy"))
	if err != nil {
		return err
	}
	targets := []target{
		{name: "app direct", url: "http://127.0.0.1:" + appPort + "/", proc: app},
		{name: "bare ReverseProxy", url: "http://127.0.0.1:" + barePort + "/", proc: bare},
		{name: "servekit queue-proxy", url: "http://127.0.0.1:" + qpPort + "/", proc: qp},
	}
	if kq := os.Getenv("KNATIVE_QUEUE_PROXY"); kq != "" {
		p, port, err := b.startKnative(kq, cc, appPort)
		if err != nil {
			return err
		}
		targets = append(targets, target{name: "Knative queue-proxy", url: "http://127.0.0.1:" + port + "/", proc: p})
	}
	for _, t := range targets {
		if err := waitOK(b.ctx, t.url, t.host); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	fmt.Printf("## Queue proxy, containerConcurrency %d\n\n", cc)
	rows, err := b.measure(targets, concs)
	if err != nil {
		return err
	}
	printTable(rows, concs, targets, [][2]string{
		{"servekit queue-proxy", "bare ReverseProxy"},
		{"servekit queue-proxy", "Knative queue-proxy"},
		{"servekit queue-proxy", "app direct"},
	})
	printRSS(targets[1:])
	return nil
}

func (b *bench) platformSection(concs []int) error {
	defer b.stopAll()
	dir := filepath.Join(b.tmp, "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	manifest := func(name, tbc string) string {
		return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
  namespace: default
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "1"
        autoscaling.knative.dev/max-scale: "1"
        autoscaling.knative.dev/target-burst-capacity: "%s"
    spec:
      containers:
        - image: servekit.dev/bench-app
`, name, tbc)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.yaml"),
		[]byte(manifest("bench-direct", "0")+"---\n"+manifest("bench-activator", "-1")), 0o644); err != nil {
		return err
	}
	imageMap := filepath.Join(b.tmp, "imagemap.yaml")
	if err := os.WriteFile(imageMap, []byte(fmt.Sprintf("servekit.dev/bench-app: [%q, app]\n", b.self)), 0o644); err != nil {
		return err
	}
	listen, admin := freePort(), freePort()
	bin := filepath.Join(b.tmp, "controller")
	args := []string{bin, "--manifests", dir, "--image-map", imageMap,
		"--listen", "127.0.0.1:" + listen, "--admin", "127.0.0.1:" + admin}
	// A controller that keeps state gets its own directory, so that a run neither
	// reads nor locks the user's.
	if help, _ := exec.Command(bin, "-h").CombinedOutput(); strings.Contains(string(help), "-state-dir") {
		args = append(args, "--state-dir", filepath.Join(b.tmp, "state"))
	}
	ctrl, err := b.start("controller", nil, args...)
	if err != nil {
		return err
	}
	app, appPort, err := b.startApp("platform-app")
	if err != nil {
		return err
	}
	chain := func(name string, hops int) (target, error) {
		port := appPort
		var p *exec.Cmd
		for i := range hops {
			var err error
			p, port, err = b.startProxy(fmt.Sprintf("%s-%d", name, i), port)
			if err != nil {
				return target{}, err
			}
		}
		return target{name: fmt.Sprintf("bare chain, %d hops", hops), url: "http://127.0.0.1:" + port + "/", proc: p}, nil
	}
	two, err := chain("chain2", 2)
	if err != nil {
		return err
	}
	three, err := chain("chain3", 3)
	if err != nil {
		return err
	}
	ingress := "http://127.0.0.1:" + listen + "/"
	targets := []target{
		{name: "app direct", url: "http://127.0.0.1:" + appPort + "/", proc: app},
		two,
		{name: "platform: ingress → queue → app", url: ingress, host: "bench-direct.default.example.com", proc: ctrl},
		three,
		{name: "platform: ingress → activator → queue → app", url: ingress, host: "bench-activator.default.example.com", proc: ctrl},
	}
	for _, t := range targets {
		if err := waitOK(b.ctx, t.url, t.host); err != nil {
			return fmt.Errorf("%s: %w (logs in %s)", t.name, err, b.tmp)
		}
	}
	fmt.Print("## The platform end to end (examples/controller, local runtime, one pod per revision)\n\n")
	rows, err := b.measure(targets, concs)
	if err != nil {
		return err
	}
	printTable(rows, concs, targets, [][2]string{
		{"platform: ingress → queue → app", "bare chain, 2 hops"},
		{"platform: ingress → activator → queue → app", "bare chain, 3 hops"},
	})
	fmt.Printf("RSS after load: controller (ingress, activator, queue fronts) %s.\n\n", rss(ctrl))
	return nil
}

func (b *bench) startApp(name string) (*exec.Cmd, string, error) {
	port := freePort()
	p, err := b.start(name, []string{"PORT=" + port}, b.self, "app")
	return p, port, err
}

func (b *bench) startProxy(name, upstreamPort string) (*exec.Cmd, string, error) {
	port := freePort()
	p, err := b.start(name, nil, b.self, "proxy", "-addr", "127.0.0.1:"+port, "-target", "http://127.0.0.1:"+upstreamPort)
	return p, port, err
}

// startKnative runs Knative's queue-proxy with the environment its envconfig needs.
// Knative's binary binds its admin (8022) and metrics (9091) ports itself, so one
// runs at a time.
func (b *bench) startKnative(bin string, cc int, appPort string) (*exec.Cmd, string, error) {
	port := freePort()
	p, err := b.start("knative-queue-proxy", []string{
		"SERVING_NAMESPACE=default", "SERVING_SERVICE=bench", "SERVING_CONFIGURATION=bench",
		"SERVING_REVISION=bench-00001", "SERVING_POD=bench", "SERVING_POD_IP=127.0.0.1",
		"QUEUE_SERVING_PORT=" + port, "QUEUE_SERVING_TLS_PORT=" + freePort(), "USER_PORT=" + appPort,
		"REVISION_TIMEOUT_SECONDS=300", "REVISION_RESPONSE_START_TIMEOUT_SECONDS=0",
		"REVISION_IDLE_TIMEOUT_SECONDS=0", "CONTAINER_CONCURRENCY=" + strconv.Itoa(cc),
		"SERVING_LOGGING_CONFIG=", "SERVING_LOGGING_LEVEL=error", "SERVING_REQUEST_LOG_TEMPLATE=",
		"SERVING_ENABLE_REQUEST_LOG=false", "SERVING_ENABLE_PROBE_REQUEST_LOG=false",
		"SERVING_REQUEST_METRICS_BACKEND=", "METRICS_DOMAIN=knative.dev/internal/serving",
		"USER_CONTAINER_NAME=user-container", "ENABLE_PROFILING=false",
		"SERVING_READINESS_PROBE={\"tcpSocket\":{\"port\":" + appPort + ",\"host\":\"127.0.0.1\"},\"successThreshold\":1}",
		"ENABLE_HTTP2_AUTO_DETECTION=false", "ENABLE_HTTP_FULL_DUPLEX=false",
		"ROOT_CA=", "SYSTEM_NAMESPACE=knative-serving",
	}, bin)
	return p, port, err
}

// measure runs every target at every concurrency, b.rounds times in rotating order,
// and returns the median per (concurrency, target).
func (b *bench) measure(targets []target, concs []int) (map[int][]result, error) {
	out := make(map[int][]result, len(concs))
	for _, c := range concs {
		runs := make([][]result, len(targets))
		for r := range b.rounds {
			for i := range targets {
				j := (i + r) % len(targets)
				res, err := b.wrk(targets[j], c)
				if err != nil {
					return nil, fmt.Errorf("%s at concurrency %d: %w", targets[j].name, c, err)
				}
				runs[j] = append(runs[j], res)
			}
		}
		for _, rs := range runs {
			out[c] = append(out[c], median(rs))
		}
	}
	return out, nil
}

func (b *bench) wrk(t target, conc int) (result, error) {
	threads := min(conc, 2)
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conc), "-d" + b.dur.String(), "--latency"}
	if t.host != "" {
		args = append(args, "-H", "Host: "+t.host)
	}
	out, err := exec.CommandContext(b.ctx, "wrk", append(args, t.url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	return parseWrk(string(out))
}

// parseWrk reads requests/s and the 50th and 99th latency percentiles (in ms) from
// wrk --latency output. A run with non-2xx responses or socket errors is an error:
// a fast failure would otherwise look like a fast proxy.
func parseWrk(out string) (result, error) {
	var r result
	var have int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk: requests/sec %q: %v", f[1], err)
			}
			r.rps = v
			have++
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			ms, err := durationMS(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.p50 = ms
			} else {
				r.p99 = ms
			}
			have++
		case len(f) > 0 && (f[0] == "Non-2xx" || f[0] == "Socket"):
			return r, fmt.Errorf("wrk reported errors: %s", sc.Text())
		}
	}
	if have != 3 {
		return r, fmt.Errorf("wrk output without requests/sec and latency percentiles:\n%s", out)
	}
	return r, nil
}

// durationMS converts wrk's latency ("812.00us", "1.20ms", "2.01s", "1.50m") to ms.
func durationMS(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("wrk latency %q: %v", s, err)
			}
			return f * u.ms, nil
		}
	}
	return 0, fmt.Errorf("wrk latency %q: unknown unit", s)
}

// median returns the per-field median of the runs (fields taken independently).
func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if n := len(v); n%2 == 0 {
			return (v[n/2-1] + v[n/2]) / 2
		}
		return v[len(v)/2]
	}
	return result{
		rps: pick(func(r result) float64 { return r.rps }),
		p50: pick(func(r result) float64 { return r.p50 }),
		p99: pick(func(r result) float64 { return r.p99 }),
	}
}

// printTable prints one row per (concurrency, target) and, per concurrency, the
// ratios of each pair present (req/s a÷b, p99 a÷b).
func printTable(rows map[int][]result, concs []int, targets []target, pairs [][2]string) {
	fmt.Println("| concurrency | target | req/s | p50 ms | p99 ms |")
	fmt.Println("|---|---|---|---|---|")
	idx := func(name string) int {
		return slices.IndexFunc(targets, func(t target) bool { return t.name == name })
	}
	for _, c := range concs {
		for i, t := range targets {
			r := rows[c][i]
			fmt.Printf("| %d | %s | %.0f | %.2f | %.2f |\n", c, t.name, r.rps, r.p50, r.p99)
		}
	}
	fmt.Println()
	fmt.Println("| concurrency | ratio | req/s | p99 |")
	fmt.Println("|---|---|---|---|")
	for _, c := range concs {
		for _, p := range pairs {
			a, b := idx(p[0]), idx(p[1])
			if a < 0 || b < 0 {
				continue
			}
			ra, rb := rows[c][a], rows[c][b]
			fmt.Printf("| %d | %s ÷ %s | %.2f× | %.2f× |\n", c, p[0], p[1], ra.rps/rb.rps, ra.p99/rb.p99)
		}
	}
	fmt.Println()
}

func printRSS(ts []target) {
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s %s", t.name, rss(t.proc)))
	}
	fmt.Printf("RSS after load: %s.\n\n", strings.Join(parts, ", "))
}

// rss is a process's resident set from /proc (Linux), or "n/a".
func rss(p *exec.Cmd) string {
	if p == nil || p.Process == nil {
		return "n/a"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Process.Pid))
	if err != nil {
		return "n/a"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if kb, err := strconv.Atoi(f[0]); err == nil {
				return fmt.Sprintf("%.1f MB", float64(kb)/1024)
			}
		}
	}
	return "n/a"
}

// waitOK polls url (with the Host header, if any) until it answers 200.
func waitOK(ctx context.Context, u, host string) error {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not answering 200 after 60s: %v", last)
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func ensureWrk() error {
	if _, err := exec.LookPath("wrk"); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("wrk not found: apt-get install wrk")
	}
	log.Print("installing wrk (apt-get install wrk)")
	cmd := exec.Command("apt-get", "install", "-y", "wrk")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get install wrk: %w", err)
	}
	return nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run bench from inside the servekit repository")
	}
	return filepath.Dir(mod), nil
}

// machine names the CPU model (Linux), for the report's header.
func machine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOOS + "/" + runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOOS + "/" + runtime.GOARCH
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%q: not a non-negative integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}
