package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/servekit/servekit/serving"
	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/store"
	v1 "github.com/servekit/servekit/serving/v1"
)

// proc is the controller binary (this test binary with controllerEnv set: the
// same dispatch as main) running as a process of its own.
type proc struct {
	cmd            *exec.Cmd
	ingress, admin string
	logs           lockedBuffer
	done           chan struct{} // closed when the process has exited
	client         *http.Client
}

// stateFixture is what the processes of one test share: a manifests directory, a
// state directory and an image map running this binary's app.
type stateFixture struct {
	manifests, state, imageMap, config string
	flags                              []string // more flags for the controller
}

func newStateFixture(t *testing.T, configYAML string) *stateFixture {
	t.Helper()
	f := &stateFixture{manifests: t.TempDir(), state: filepath.Join(t.TempDir(), "state")}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f.imageMap = filepath.Join(t.TempDir(), "imagemap.yaml")
	if err := os.WriteFile(f.imageMap, []byte(fmt.Sprintf("%s: [%q]\n", testImage, self)), 0o644); err != nil {
		t.Fatal(err)
	}
	if configYAML != "" {
		f.config = t.TempDir()
		if err := os.WriteFile(filepath.Join(f.config, "config.yaml"), []byte(configYAML), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *stateFixture) write(t *testing.T, name, body string) {
	t.Helper()
	tmp := filepath.Join(f.manifests, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(f.manifests, name)); err != nil {
		t.Fatal(err)
	}
}

func (f *stateFixture) remove(t *testing.T, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(f.manifests, name)); err != nil {
		t.Fatal(err)
	}
}

var servingLine = regexp.MustCompile(`msg="servekit: serving" ingress=(\S+) admin=(\S+)`)

// start runs the controller on the fixture's directories. It returns once the
// controller serves, or, when it exits first, with the process ended (exited).
func (f *stateFixture) start(t *testing.T) *proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--manifests", f.manifests, "--state-dir", f.state, "--image-map", f.imageMap,
		"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--poll", "50ms", "--drain-timeout", "5s"}
	if f.config != "" {
		args = append(args, "--config", f.config)
	}
	args = append(args, f.flags...)
	p := &proc{cmd: exec.Command(self, args...), done: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{IdleConnTimeout: time.Second}}}
	p.cmd.Env = append(os.Environ(), controllerEnv+"=1")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(&p.logs, line)
			if m := servingLine.FindStringSubmatch(line); m != nil {
				select {
				case addrs <- [2]string{m[1], m[2]}:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case a := <-addrs:
		p.ingress, p.admin = a[0], a[1]
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("the controller did not serve within 60s:\n%s", p.logs.String())
	}
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *proc) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
	p.client.CloseIdleConnections()
}

// stop ends the process with SIGINT, as a user would, and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("the controller did not stop within 60s of SIGINT:\n%s", p.logs.String())
	}
	p.client.CloseIdleConnections()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the controller exited %d after SIGINT:\n%s", code, p.logs.String())
	}
}

func (p *proc) status() (controller.Status, error) {
	var st controller.Status
	resp, err := p.client.Get("http://" + p.admin + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitStatus polls /status until cond holds, failing the test after d.
func (p *proc) waitStatus(t *testing.T, what string, d time.Duration, cond func(controller.Status) bool) controller.Status {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st, err := p.status()
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) || p.exited() {
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("timed out after %v waiting for %s (err %v); last status:\n%s\nlogs:\n%s", d, what, err, b, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond) // poll interval of an observed condition
	}
}

func (p *proc) get(t *testing.T, host string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.ingress+"/", nil)
	req.Host = host
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %q", host, resp.StatusCode, b)
	}
	return string(b)
}

// stateService is a Service of this binary's app answering "Hello <target>!",
// with an optional BYO revision name, Service annotations and traffic block.
func stateService(name, target, byo, annotations, traffic string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: %s\n", name)
	if annotations != "" {
		fmt.Fprintf(&b, "  annotations:\n%s", annotations)
	}
	b.WriteString("spec:\n  template:\n")
	if byo != "" {
		fmt.Fprintf(&b, "    metadata:\n      name: %s\n", byo)
	}
	fmt.Fprintf(&b, "    spec:\n      containers:\n        - image: %s\n          env:\n            - name: %s\n              value: \"1\"\n            - name: TARGET\n              value: %q\n",
		testImage, appEnv, target)
	b.WriteString(traffic)
	return b.String()
}

const splitTraffic = `  traffic:
    - revisionName: split-00001
      percent: 80
      tag: blue
    - latestRevision: true
      percent: 20
`

// trafficOf returns svc's status.traffic as "rev:percent[:tag]" strings.
func trafficOf(st controller.Status, svc string) []string {
	s := service(st, svc)
	if s == nil {
		return nil
	}
	var out []string
	for _, tr := range s.Traffic {
		e := fmt.Sprintf("%s:%d", tr.RevisionName, tr.Percent)
		if tr.Tag != "" {
			e += ":" + tr.Tag
		}
		out = append(out, e)
	}
	return out
}

// rolloutPercent is roll-00002's share of roll's traffic (-1 when not listed).
func rolloutPercent(st controller.Status) int64 {
	if s := service(st, "roll"); s != nil {
		for _, tr := range s.Traffic {
			if tr.RevisionName == "roll-00002" {
				return tr.Percent
			}
		}
	}
	return -1
}

func revisionNames(st controller.Status, svc string) []string {
	var out []string
	if s := service(st, svc); s != nil {
		for _, r := range s.Revisions {
			out = append(out, r.Name)
		}
	}
	return out
}

// TestRestartKeepsState runs the controller as a process, restarts it on its state
// directory, and checks what issue 12 lists: the same revision names and
// templates, traffic and tags (the 80/20 split with split-00001 pinned),
// a gradual rollout that continues, a BYO-named revision kept, a manifest changed
// while the controller was down making its new revision at start-up, one removed
// meanwhile deleting its Service, the numbering continuing (-00003), and revisions
// scaling from zero. A second controller on the same state directory is refused
// while the first runs, and the first goes on.
func TestRestartKeepsState(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the controller as a process, twice")
	}
	f := newStateFixture(t, "")
	f.write(t, "split.yaml", stateService("split", "Blue", "", "", ""))
	f.write(t, "hello.yaml", stateService("hello", "HelloBlue", "hello-blue", "", ""))
	f.write(t, "roll.yaml", stateService("roll", "Roll1", "", "", ""))
	f.write(t, "gone.yaml", stateService("gone", "Gone", "", "", ""))
	p := f.start(t)
	p.waitStatus(t, "four services ready", 90*time.Second, func(st controller.Status) bool {
		return serviceReady("split", "split-00001")(st) && serviceReady("hello", "hello-blue")(st) &&
			serviceReady("roll", "roll-00001")(st) && serviceReady("gone", "gone-00001")(st)
	})
	f.write(t, "split.yaml", stateService("split", "Green", "", "", splitTraffic))
	f.write(t, "roll.yaml", stateService("roll", "Roll2", "", "    serving.knative.dev/rollout-duration: \"300s\"\n", ""))
	wantSplit := []string{"split-00001:80:blue", "split-00002:20"}
	p.waitStatus(t, "split 80/20 and roll's rollout under way", 90*time.Second, func(st controller.Status) bool {
		pc := rolloutPercent(st)
		return slices.Equal(trafficOf(st, "split"), wantSplit) && pc > 0 && pc < 100
	})
	if got := p.get(t, "blue-split.default.example.com"); got != "Hello Blue!\n" {
		t.Errorf("blue tag before the restart: %q", got)
	}

	// A second controller on the same state directory is refused; the first goes on.
	second := f.start(t)
	<-second.done
	if code := second.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(second.logs.String(), "in use by another process") ||
		!strings.Contains(second.logs.String(), f.state) {
		t.Errorf("second controller on %s: exit %d, want 1 and an error naming the directory:\n%s", f.state, code, second.logs.String())
	}
	if _, err := p.status(); err != nil || p.exited() {
		t.Fatalf("the first controller after the second was refused: %v", err)
	}

	before := rolloutPercent(p.waitStatus(t, "status", 10*time.Second, func(controller.Status) bool { return true }))
	p.stop(t)
	// While the controller is down: hello gets a new template (a new BYO name),
	// gone.yaml is removed.
	f.write(t, "hello.yaml", stateService("hello", "HelloGreen", "hello-green", "", ""))
	f.remove(t, "gone.yaml")

	p = f.start(t)
	st := p.waitStatus(t, "the state restored and the manifests' changes applied", 90*time.Second, func(st controller.Status) bool {
		return serviceReady("hello", "hello-green")(st) && service(st, "gone") == nil &&
			slices.Equal(trafficOf(st, "split"), wantSplit)
	})
	if got := revisionNames(st, "split"); !slices.Equal(got, []string{"split-00001", "split-00002"}) {
		t.Errorf("split's revisions after the restart: %v", got)
	}
	if got := revisionNames(st, "hello"); !slices.Equal(got, []string{"hello-blue", "hello-green"}) {
		t.Errorf("hello's revisions after the restart: %v, want hello-blue kept beside hello-green", got)
	}
	after := rolloutPercent(st)
	if after < before || after >= 100 {
		t.Errorf("roll-00002's share: %d%% before the restart, %d%% after; want the rollout to go on from where it was", before, after)
	}
	// Revisions scale from zero: the pinned Blue and the latest Green both answer.
	if got := p.get(t, "blue-split.default.example.com"); got != "Hello Blue!\n" {
		t.Errorf("blue tag after the restart: %q, want Hello Blue!", got)
	}
	seen := map[string]int{}
	for range 40 {
		seen[p.get(t, "split.default.example.com")]++
	}
	if len(seen) != 2 || seen["Hello Blue!\n"] == 0 || seen["Hello Green!\n"] == 0 {
		t.Errorf("split after the restart answered %v, want Blue and Green (80/20)", seen)
	}
	if got := p.get(t, "hello.default.example.com"); got != "Hello HelloGreen!\n" {
		t.Errorf("hello after the restart: %q, want Hello HelloGreen!", got)
	}
	// The next change continues the numbering.
	f.write(t, "split.yaml", stateService("split", "Yellow", "", "", splitTraffic))
	p.waitStatus(t, "split-00003", 90*time.Second, func(st controller.Status) bool {
		return slices.Equal(trafficOf(st, "split"), []string{"split-00001:80:blue", "split-00003:20"})
	})
	p.stop(t)
}

// storeObjects reads a state directory (no controller running) as the controller
// would: every record must decode.
type storeObjects struct {
	services, configs, routes map[string]bool
	revisions                 map[string]*v1.Revision
	sources                   map[string][]string // source → "Kind ns/name" of its objects
}

func readState(t *testing.T, dir string) storeObjects {
	t.Helper()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := storeObjects{services: map[string]bool{}, configs: map[string]bool{}, routes: map[string]bool{},
		revisions: map[string]*v1.Revision{}, sources: map[string][]string{}}
	err = s.Load(func(r controller.Record) error {
		name := r.Namespace + "/" + r.Name
		var obj any
		switch r.Kind {
		case v1.KindService:
			obj, o.services[name] = &v1.Service{}, true
		case v1.KindConfiguration:
			obj, o.configs[name] = &v1.Configuration{}, true
		case v1.KindRoute:
			obj, o.routes[name] = &v1.Route{}, true
		case v1.KindRevision:
			rev := &v1.Revision{}
			obj, o.revisions[name] = rev, rev
		case controller.RecordSource:
			var src struct {
				Refs []struct {
					Kind string
					Key  struct{ Namespace, Name string }
				} `json:"refs"`
			}
			if err := json.Unmarshal(r.Value, &src); err != nil {
				return fmt.Errorf("%s %s: %w", r.Kind, r.Name, err)
			}
			for _, ref := range src.Refs {
				o.sources[r.Name] = append(o.sources[r.Name], ref.Kind+" "+ref.Key.Namespace+"/"+ref.Key.Name)
			}
			return nil
		default:
			obj = &map[string]any{}
		}
		if err := json.Unmarshal(r.Value, obj); err != nil {
			return fmt.Errorf("%s %s: %w", r.Kind, name, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("state after a kill: %v", err)
	}
	return o
}

func target(rev *v1.Revision) string {
	for _, e := range rev.Spec.Containers[0].Env {
		if e.Name == "TARGET" {
			return e.Value
		}
	}
	return ""
}

// TestKillDuringApply kills (SIGKILL) the controller process at a random instant
// while it applies manifest changes, 10 times over one state directory (the
// store-level TestKillDuringCommit in serving/store kills 50 more at random points
// of a commit). After each kill the state holds only whole objects: every record
// decodes, every Revision's Configuration and every source's objects are there;
// no revision seen before (in the state or in /status) is lost or holds another
// template; and the restarted controller brings the state to the manifests.
func TestKillDuringApply(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills the controller as a process 10 times")
	}
	// No pods: initial scale 0 keeps each cycle to the controller's own work.
	f := newStateFixture(t, `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  allow-zero-initial-scale: "true"
`)
	zero := "        autoscaling.knative.dev/initial-scale: \"0\"\n"
	svc := func(name, target string) string {
		return strings.Replace(stateService(name, target, "", "", ""), "  template:\n", "  template:\n    metadata:\n      annotations:\n"+zero, 1)
	}
	known := map[string]string{} // revision → TARGET, as seen in the state
	extra := false
	last := ""
	for i := range 10 {
		last = fmt.Sprintf("v%d", i)
		f.write(t, "k.yaml", svc("k", last))
		if i%3 == 1 {
			if extra {
				f.remove(t, "extra.yaml")
			} else {
				f.write(t, "extra.yaml", svc("extra", last))
			}
			extra = !extra
		}
		p := f.start(t)
		if p.exited() {
			t.Fatalf("cycle %d: the controller exited at start:\n%s", i, p.logs.String())
		}
		var observed []string // revisions /status showed before the kill
		deadline := time.Now().Add(time.Duration(rand.IntN(800)) * time.Millisecond)
		for time.Now().Before(deadline) {
			if st, err := p.status(); err == nil {
				for _, s := range st.Services {
					for _, r := range s.Revisions {
						observed = append(observed, s.Namespace+"/"+r.Name)
					}
				}
			}
		}
		p.kill()
		o := readState(t, f.state)
		for name, rev := range o.revisions {
			cfg := rev.Namespace + "/" + rev.Labels[serving.ConfigurationLabelKey]
			if !o.configs[cfg] {
				t.Errorf("cycle %d: revision %s without its configuration %s", i, name, cfg)
			}
			if tg, ok := known[name]; ok && tg != target(rev) {
				t.Errorf("cycle %d: revision %s holds TARGET %q, held %q before", i, name, target(rev), tg)
			}
			known[name] = target(rev)
		}
		for name := range known {
			if o.revisions[name] == nil && !(strings.HasPrefix(name, "default/extra-") && !extra) {
				t.Errorf("cycle %d: revision %s lost", i, name)
			}
		}
		for _, name := range observed {
			if o.revisions[name] == nil && !strings.HasPrefix(name, "default/extra-") {
				t.Errorf("cycle %d: revision %s, shown by /status, not in the state", i, name)
			}
		}
		for src, refs := range o.sources {
			for _, ref := range refs {
				kind, name, _ := strings.Cut(ref, " ")
				if kind == v1.KindService && !o.services[name] {
					t.Errorf("cycle %d: source %s holds %s, not in the state", i, filepath.Base(src), ref)
				}
			}
		}
		if t.Failed() {
			t.Fatalf("logs of cycle %d:\n%s", i, p.logs.String())
		}
		// extra's revisions go with extra.yaml: forget them when it is gone.
		for name := range known {
			if strings.HasPrefix(name, "default/extra-") && o.revisions[name] == nil {
				delete(known, name)
			}
		}
	}
	// A last start converges on the manifests: k's newest revision runs the last
	// version, and extra exists exactly when extra.yaml does.
	p := f.start(t)
	p.waitStatus(t, "k at the last version's revision", 60*time.Second, func(st controller.Status) bool {
		s := service(st, "k")
		return s != nil && s.Ready && s.LatestReadyRevisionName != "" && (service(st, "extra") != nil) == extra
	})
	p.stop(t)
	o := readState(t, f.state)
	newest := ""
	for name := range o.revisions {
		if strings.HasPrefix(name, "default/k-") && name > newest {
			newest = name
		}
	}
	if got := target(o.revisions[newest]); got != last {
		t.Errorf("k's newest revision %s runs %q, want the last version %q", newest, got, last)
	}
	ks := 0
	for name := range known {
		if strings.HasPrefix(name, "default/k-") {
			ks++
		}
	}
	t.Logf("%d revisions of k across 10 kills", ks)
}

// TestStateDirOtherLayoutRefused: a state directory of another layout version
// stops the controller at start with an error naming the file and the version,
// and is left as it was.
func TestStateDirOtherLayoutRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("layout"), []byte("2"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--manifests", t.TempDir(), "--state-dir", dir,
		"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), path) || !strings.Contains(errOut.String(), "layout version 2") {
		t.Errorf("run = %d, stderr:\n%s\nwant 1 and an error naming %s and layout version 2", code, errOut.String(), path)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the refused state file changed")
	}
}
