package controller_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

// memStore is a controller.Store in memory: a restart is a new Controller on the
// same memStore.
type memStore struct {
	mu      sync.Mutex
	records map[controller.RecordKey][]byte
	commits int
	fail    error // Commit returns it, changing nothing
}

func newMemStore() *memStore { return &memStore{records: map[controller.RecordKey][]byte{}} }

func (s *memStore) Load(fn func(controller.Record) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.records {
		if err := fn(controller.Record{RecordKey: k, Value: v}); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) Commit(puts []controller.Record, deletes []controller.RecordKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.commits++
	for _, r := range puts {
		s.records[r.RecordKey] = slices.Clone(r.Value)
	}
	for _, k := range deletes {
		delete(s.records, k)
	}
	return nil
}

func (s *memStore) kinds() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k := range s.records {
		out[k.Kind]++
	}
	return out
}

// startWith runs a controller on store until the returned stop is called.
func startWith(t *testing.T, store controller.Store) (*controller.Controller, func()) {
	t.Helper()
	c, err := controller.New(controller.Options{Backend: newFakeBackend(), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return c, stop
}

// splitService is the reproduction: a BYO-named Green template taking 20%
// beside the pinned, tagged Blue revision at 80%.
func splitService() *v1.Service {
	svc := testService("split", "img:green")
	svc.Spec.Template.Name = "split-green"
	svc.Spec.Traffic = []v1.TrafficTarget{
		{RevisionName: "split-blue", Percent: new(int64(80)), Tag: "blue"},
		{LatestRevision: new(true), Percent: new(int64(20))},
	}
	return svc
}

func blueService() *v1.Service {
	svc := testService("split", "img:blue")
	svc.Spec.Template.Name = "split-blue"
	return svc
}

// secondsOnly compares times as the store keeps them: metav1.Time is encoded to
// the second, as an API server keeps it. (Empty maps come back nil, as from an API
// server: cmpopts.EquateEmpty.)
var secondsOnly = cmp.Comparer(func(a, b metav1.Time) bool { return a.Unix() == b.Unix() })

// TestRestartKeepsState: a controller restarted on its store holds the same
// objects (names, templates, generations, creation times, traffic, tags), serves
// the same revisions (from zero pods), takes the same manifest again without a
// new revision, and numbers the next change -00003 after -00002.
func TestRestartKeepsState(t *testing.T) {
	store := newMemStore()
	c1, stop1 := startWith(t, store)
	apply := func(c *controller.Controller, source string, objs ...v1.Object) {
		t.Helper()
		if err := c.Apply(source, objs); err != nil {
			t.Fatal(err)
		}
	}
	apply(c1, "split.yaml", blueService())
	apply(c1, "hello.yaml", testService("hello", "img:v1"))
	waitFor(t, "split-blue and hello-00001 ready", func() bool {
		st := c1.Status()
		return len(st.Services) == 2 && st.Services[0].Ready && st.Services[1].Ready
	})
	apply(c1, "split.yaml", splitService())
	apply(c1, "hello.yaml", testService("hello", "img:v2"))
	waitFor(t, "split 80/20 and hello-00002 ready", func() bool {
		st := c1.Status()
		return len(st.Services) == 2 && st.Services[0].LatestReadyRevisionName == "hello-00002" &&
			st.Services[1].LatestReadyRevisionName == "split-green" && len(st.Services[1].Traffic) == 2
	})
	stop1()
	before := c1.Objects()

	c2, err := controller.New(controller.Options{Backend: newFakeBackend(), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	// Revisions' status follows their pods, which do not survive a restart: they
	// start at zero pods, Ready, Active Unknown (their first request activates them).
	after := c2.Objects()
	if diff := cmp.Diff(before, after, secondsOnly, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(v1.Revision{}, "Status")); diff != "" {
		t.Errorf("objects after a restart (-before +after):\n%s", diff)
	}
	for _, r := range after.Revisions {
		if !r.IsReady() || *r.Status.DesiredReplicas != 0 {
			t.Errorf("revision %s after a restart: ready %v, desired replicas %d; want Ready at 0", r.Name, r.IsReady(), *r.Status.DesiredReplicas)
		}
	}
	if diff := cmp.Diff([]string{"hello.yaml", "split.yaml"}, c2.Sources()); diff != "" {
		t.Errorf("Sources (-want +got):\n%s", diff)
	}
	run(t, c2)
	// The manifests re-read at start-up: the same objects change nothing (the BYO
	// template is not refused as changed without a new name).
	apply(c2, "split.yaml", splitService())
	apply(c2, "hello.yaml", testService("hello", "img:v2"))
	for _, tc := range []struct{ host, want string }{
		{"blue-split.default.example.com", "rev=split-blue"},
		{"hello.default.example.com", "rev=hello-00002"},
	} {
		if code, body := serve(c2.Handler(), tc.host); code != http.StatusOK || body != tc.want {
			t.Errorf("after a restart, GET Host %s = %d %q, want 200 %q", tc.host, code, body, tc.want)
		}
	}
	st := c2.Status()
	var traffic []controller.TrafficStatus
	for _, s := range st.Services {
		if s.Name == "split" {
			traffic = s.Traffic
		}
	}
	wantTraffic := []controller.TrafficStatus{
		{RevisionName: "split-blue", Percent: 80, Tag: "blue", URL: "http://blue-split.default.example.com"},
		{RevisionName: "split-green", Percent: 20, LatestRevision: true},
	}
	if diff := cmp.Diff(wantTraffic, traffic); diff != "" {
		t.Errorf("split's traffic after a restart (-want +got):\n%s", diff)
	}
	apply(c2, "hello.yaml", testService("hello", "img:v3"))
	waitFor(t, "hello-00003", func() bool { return revisionImages(c2)["hello-00003"] == "img:v3" })
	imgs := revisionImages(c2)
	for name, img := range map[string]string{"hello-00001": "img:v1", "hello-00002": "img:v2", "split-blue": "img:blue", "split-green": "img:green"} {
		if imgs[name] != img {
			t.Errorf("revision %s runs %q, want %q (all: %v)", name, imgs[name], img, imgs)
		}
	}
	// A source deleted (its manifest gone while the platform was down) takes its
	// Service, Configuration, Route and Revisions out of the store.
	c2.Delete("split.yaml")
	waitFor(t, "split's records deleted", func() bool {
		for _, r := range c2.Objects().Revisions {
			if strings.HasPrefix(r.Name, "split-") {
				return false
			}
		}
		return true
	})
	c3, err := controller.New(controller.Options{Backend: newFakeBackend(), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	got := c3.Objects()
	if len(got.Services) != 1 || got.Services[0].Name != "hello" || len(got.Routes) != 1 || len(got.Configurations) != 1 {
		t.Errorf("after deleting split.yaml and a restart: %d services, %d routes, %d configurations; want hello's alone",
			len(got.Services), len(got.Routes), len(got.Configurations))
	}
	for _, r := range got.Revisions {
		if strings.HasPrefix(r.Name, "split-") {
			t.Errorf("revision %s restored after its source was deleted", r.Name)
		}
	}
	if diff := cmp.Diff([]string{"hello.yaml"}, c3.Sources()); diff != "" {
		t.Errorf("Sources (-want +got):\n%s", diff)
	}
}

// TestApplySameObjectsChangesNothing: applying a source's objects again, as a
// manifest saved with only its comments changed, stamps no Revision and is not
// refused, with or without a BYO template name.
func TestApplySameObjectsChangesNothing(t *testing.T) {
	c, err := controller.New(controller.Options{Backend: newFakeBackend()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "img:v1")}); err != nil {
			t.Fatal(err)
		}
		if err := c.Apply("split.yaml", []v1.Object{splitService()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range c.Objects().Services {
		if s.Generation != 1 {
			t.Errorf("Service %s at generation %d after the same objects applied 3 times, want 1", s.Name, s.Generation)
		}
	}
	if errs := c.Status().Errors; len(errs) != 0 {
		t.Errorf("errors = %v, want none", errs)
	}
}

// TestStoreCommitsEveryKind: the store holds every kind of record, and a failed
// commit is tried again at the next change without losing the first.
func TestStoreCommitsEveryKind(t *testing.T) {
	store := newMemStore()
	store.fail = errors.New("disk full")
	c, err := controller.New(controller.Options{Backend: newFakeBackend(), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("a.yaml", []v1.Object{testService("a", "img:a")}); err != nil {
		t.Fatal(err)
	}
	if n := len(store.kinds()); n != 0 {
		t.Fatalf("a failing store holds %d kinds, want none", n)
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	if err := c.Apply("b.yaml", []v1.Object{testService("b", "img:b")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	want := map[string]int{"Service": 2, "Configuration": 2, "Revision": 2, "Route": 2, "Rollout": 2, "TableEntry": 2, "Source": 2}
	waitFor(t, "every record committed", func() bool { return maps.Equal(store.kinds(), want) })
}

// TestStoreUndecodableRecord: a record that does not decode fails New with its
// kind and name, instead of being skipped.
func TestStoreUndecodableRecord(t *testing.T) {
	store := newMemStore()
	store.records[controller.RecordKey{Kind: "Revision", Namespace: "default", Name: "hello-00001"}] = []byte(`{"spec":`)
	_, err := controller.New(controller.Options{Backend: newFakeBackend(), Store: store})
	if err == nil || !strings.Contains(err.Error(), "Revision default/hello-00001") {
		t.Errorf("New = %v, want an error naming Revision default/hello-00001", err)
	}
	store.records = map[controller.RecordKey][]byte{{Kind: "Widget", Name: "w"}: []byte(`{}`)}
	_, err = controller.New(controller.Options{Backend: newFakeBackend(), Store: store})
	if err == nil || !strings.Contains(err.Error(), "Widget") {
		t.Errorf("New = %v, want an error naming the unknown kind Widget", err)
	}
}

// TestRestartKeepsLastGoodTableEntry: a Service whose traffic names a revision that
// does not exist keeps serving what it served before (Knative keeps the last
// ingress), and still does after a restart.
func TestRestartKeepsLastGoodTableEntry(t *testing.T) {
	store := newMemStore()
	c1, stop1 := startWith(t, store)
	if err := c1.Apply("pin.yaml", []v1.Object{testService("pin", "img:v1")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pin-00001 ready", func() bool {
		st := c1.Status()
		return len(st.Services) == 1 && st.Services[0].Ready
	})
	broken := testService("pin", "img:v1")
	broken.Spec.Traffic = []v1.TrafficTarget{{RevisionName: "pin-00009", Percent: new(int64(100))}}
	if err := c1.Apply("pin.yaml", []v1.Object{broken}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pin's traffic not resolved", func() bool {
		st := c1.Status()
		return len(st.Services) == 1 && !st.Services[0].Ready && strings.Contains(st.Services[0].Message, "pin-00009")
	})
	if code, body := serve(c1.Handler(), "pin.default.example.com"); code != http.StatusOK || body != "rev=pin-00001" {
		t.Fatalf("before the restart: %d %q, want the last good entry's pin-00001", code, body)
	}
	stop1()
	c2, _ := startWith(t, store)
	if code, body := serve(c2.Handler(), "pin.default.example.com"); code != http.StatusOK || body != "rev=pin-00001" {
		t.Errorf("after the restart: %d %q, want the last good entry's pin-00001", code, body)
	}
}
