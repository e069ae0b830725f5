package ingress_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/activator"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/ingress"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	helloKey = types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	blueKey  = types.NamespacedName{Namespace: "default", Name: "hello-00002"}
)

// routes returns a table with the Route default/hello: hello.default.example.com
// goes to hello-00001, its tag "blue" (blue-hello.default.example.com, or the
// Knative-Serving-Tag header with header routing on) to hello-00002.
func routes(t testing.TB, tagHeader bool) *route.TableHolder {
	t.Helper()
	table, err := route.NewTable([]route.TableRoute{{
		Namespace: "default", Name: "hello",
		Destinations: []route.Destination{
			{Hosts: []string{"hello.default.example.com"}, Splits: []route.Split{{RevisionName: helloKey.Name, Percent: 100}}},
			{Tag: "blue", Hosts: []string{"blue-hello.default.example.com"}, Splits: []route.Split{{RevisionName: blueKey.Name, Percent: 100}}},
		},
	}}, route.TableOptions{TagHeaderRouting: tagHeader})
	if err != nil {
		t.Fatal(err)
	}
	var h route.TableHolder
	h.Store(table)
	return &h
}

// fakeActivator answers with the revision ingress.ResolveRevision gives it.
var fakeActivator = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	k, err := ingress.ResolveRevision(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "activator %s/%s", k.Namespace, k.Name)
})

// pod starts a pod answering with its name and the Host it was asked for.
func pod(t testing.TB, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s host=%s xff=%t", name, r.Host, r.Header.Get("X-Forwarded-For") != "")
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

type recorder struct {
	mu      sync.Mutex
	reports []ingress.RequestReport
}

func (r *recorder) ReportRequest(rr ingress.RequestReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, rr)
}

func (r *recorder) take() []ingress.RequestReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reports
	r.reports = nil
	return out
}

// wait returns the reports once there are n, failing t after 10 s. (A report is made
// when the handler returns, which may be after the client got its response.)
func (r *recorder) wait(t *testing.T, n int) []ingress.RequestReport {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		got := len(r.reports)
		r.mu.Unlock()
		if got >= n {
			return r.take()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reports after 10s, want %d", got, n)
		}
	}
}

// newIngress returns an Ingress over routes() whose revisions are revs.
func newIngress(t testing.TB, tagHeader bool, rep ingress.Reporter, revs ...*ingress.Revision) *ingress.Ingress {
	t.Helper()
	m := map[types.NamespacedName]*ingress.Revision{}
	for _, r := range revs {
		m[types.NamespacedName{Namespace: r.Key().Namespace, Name: r.Key().Name}] = r
	}
	in, err := ingress.New(ingress.Options{
		Routes:           routes(t, tagHeader),
		TagHeaderRouting: tagHeader,
		Revision:         func(k types.NamespacedName) *ingress.Revision { return m[k] },
		Activator:        fakeActivator,
		Reporter:         rep,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.CloseIdleConnections)
	return in
}

func get(h http.Handler, host string, header http.Header) (int, string) {
	req := httptest.NewRequest(http.MethodGet, "http://"+host+"/", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

func TestRouting(t *testing.T) {
	addrA, addrB := pod(t, "pod-a"), pod(t, "pod-b")
	tagHeader := http.Header{route.TagHeader: {"blue"}}
	for _, tc := range []struct {
		name      string
		tagHeader bool     // Options.TagHeaderRouting
		inPath    bool     // hello-00001's activator in the path
		addrs     []string // hello-00001's ready pods
		host      string
		header    http.Header
		wantCode  int
		wantBody  []string // successive answers
		wantRep   ingress.RequestReport
	}{{
		name: "no route", host: "other.default.example.com",
		wantCode: 404, wantBody: []string{`servekit: no route for host "other.default.example.com"`},
		wantRep: ingress.RequestReport{Code: 404},
	}, {
		name: "activator in the path", inPath: true, addrs: []string{addrA}, host: "hello.default.example.com",
		wantCode: 200, wantBody: []string{"activator default/hello-00001"},
		wantRep: ingress.RequestReport{Namespace: "default", Route: "hello", Revision: "hello-00001", Code: 200, ViaActivator: true},
	}, {
		name: "serve mode with no ready pod goes to the activator", host: "hello.default.example.com",
		wantCode: 200, wantBody: []string{"activator default/hello-00001"},
		wantRep: ingress.RequestReport{Namespace: "default", Route: "hello", Revision: "hello-00001", Code: 200, ViaActivator: true},
	}, {
		name: "serve mode takes the pods in turn", addrs: []string{addrA, addrB}, host: "hello.default.example.com:8080",
		wantCode: 200, wantBody: []string{
			"pod-b host=hello.default.example.com:8080 xff=true",
			"pod-a host=hello.default.example.com:8080 xff=true",
			"pod-b host=hello.default.example.com:8080 xff=true",
		},
		wantRep: ingress.RequestReport{Namespace: "default", Route: "hello", Revision: "hello-00001", Code: 200},
	}, {
		name: "unknown revision", host: "blue-hello.default.example.com",
		wantCode: 503, wantBody: []string{"servekit: revision default/hello-00002 is not known"},
		wantRep: ingress.RequestReport{Namespace: "default", Route: "hello", Revision: "hello-00002", Code: 503},
	}, {
		name: "tag header ignored when header routing is off", addrs: []string{addrA}, host: "hello.default.example.com", header: tagHeader,
		wantCode: 200, wantBody: []string{"pod-a host=hello.default.example.com xff=true"},
		wantRep: ingress.RequestReport{Namespace: "default", Route: "hello", Revision: "hello-00001", Code: 200},
	}, {
		name: "tag header picks the tag", tagHeader: true, addrs: []string{addrA}, host: "hello.default.example.com", header: tagHeader,
		wantCode: 503, wantBody: []string{"servekit: revision default/hello-00002 is not known"},
		wantRep: ingress.RequestReport{Namespace: "default", Route: "hello", Revision: "hello-00002", Code: 503},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rev := ingress.NewRevision(helloKey)
			rev.SetActivatorInPath(tc.inPath)
			rev.SetAddresses(tc.addrs)
			rep := &recorder{}
			in := newIngress(t, tc.tagHeader, rep, rev)
			var want []ingress.RequestReport
			for _, body := range tc.wantBody {
				code, got := get(in, tc.host, tc.header)
				if code != tc.wantCode || got != body {
					t.Errorf("GET %s = %d %q, want %d %q", tc.host, code, got, tc.wantCode, body)
				}
				want = append(want, tc.wantRep)
			}
			if diff := cmp.Diff(want, rep.take(), cmpopts.IgnoreFields(ingress.RequestReport{}, "Latency")); diff != "" {
				t.Errorf("reports (-want +got):\n%s", diff)
			}
		})
	}
}

// A pod that went away between an endpoint update and a request: a request with no
// body goes to the activator, which waits for a pod; one with a body gets a 502.
func TestUnreachablePod(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := l.Addr().String()
	l.Close()
	rev := ingress.NewRevision(helloKey)
	rev.SetActivatorInPath(false)
	rev.SetAddresses([]string{gone})
	rep := &recorder{}
	in := newIngress(t, false, rep, rev)

	if code, body := get(in, "hello.default.example.com", nil); code != 200 || body != "activator default/hello-00001" {
		t.Errorf("GET = %d %q, want 200 from the activator", code, body)
	}
	req := httptest.NewRequest(http.MethodPost, "http://hello.default.example.com/", strings.NewReader("payload"))
	rec := httptest.NewRecorder()
	in.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadGateway || !strings.HasPrefix(rec.Body.String(), "servekit: pod unreachable: ") {
		t.Errorf("POST = %d %q, want 502 pod unreachable", rec.Code, rec.Body)
	}
	var via []bool
	for _, r := range rep.take() {
		via = append(via, r.ViaActivator)
	}
	if diff := cmp.Diff([]bool{true, false}, via); diff != "" {
		t.Errorf("ViaActivator (-want +got):\n%s", diff)
	}
}

func TestRevision(t *testing.T) {
	r := ingress.NewRevision(helloKey)
	if want := (activator.RevisionKey{Namespace: "default", Name: "hello-00001"}); r.Key() != want {
		t.Errorf("Key() = %v, want %v", r.Key(), want)
	}
	if !r.ActivatorInPath() || len(r.Addresses()) != 0 {
		t.Errorf("new revision: ActivatorInPath %t, Addresses %v; want true, none", r.ActivatorInPath(), r.Addresses())
	}
	for i, step := range []struct {
		inPath, wantChanged bool
	}{{true, false}, {false, true}, {false, false}, {true, true}} {
		if got := r.SetActivatorInPath(step.inPath); got != step.wantChanged || r.ActivatorInPath() != step.inPath {
			t.Errorf("step %d: SetActivatorInPath(%t) = %t, ActivatorInPath %t; want %t, %t", i, step.inPath, got, r.ActivatorInPath(), step.wantChanged, step.inPath)
		}
	}
	r.SetAddresses([]string{"10.0.0.1:8012"})
	r.SetAddresses(nil)
	if got := r.Addresses(); got == nil || len(got) != 0 {
		t.Errorf("Addresses() after SetAddresses(nil) = %#v, want empty", got)
	}
}

func TestNewRequires(t *testing.T) {
	full := ingress.Options{
		Routes:    routes(t, false),
		Revision:  func(types.NamespacedName) *ingress.Revision { return nil },
		Activator: fakeActivator,
	}
	for field, o := range map[string]ingress.Options{
		"Routes":    {Revision: full.Revision, Activator: full.Activator},
		"Revision":  {Routes: full.Routes, Activator: full.Activator},
		"Activator": {Routes: full.Routes, Revision: full.Revision},
	} {
		if _, err := ingress.New(o); err == nil || !strings.Contains(err.Error(), "Options."+field) {
			t.Errorf("New without %s: err = %v, want it named", field, err)
		}
	}
	if _, err := ingress.New(full); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestResolveRevisionOutsideIngress(t *testing.T) {
	_, err := ingress.ResolveRevision(httptest.NewRequest(http.MethodGet, "http://hello.default.example.com/", nil))
	if !errors.Is(err, activator.ErrUnknownRevision) {
		t.Errorf("err = %v, want activator.ErrUnknownRevision", err)
	}
}
